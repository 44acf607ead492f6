//! Log lines that name the node: each starts with `node=<name>`, so the
//! logs of a cluster's nodes read together say which node said what.

use std::io::Write;
use std::sync::Arc;

use tracing_subscriber::fmt::MakeWriter;

/// Makes a writer per log line that prefixes it with the node's name.
pub struct Named {
    prefix: Arc<[u8]>,
}

impl Named {
    /// Lines named `name`.
    pub fn new(name: &str) -> Self {
        Self {
            prefix: format!("node={name} ").into_bytes().into(),
        }
    }
}

impl<'a> MakeWriter<'a> for Named {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            text: self.prefix.to_vec(),
        }
    }
}

/// One log line, written to stderr in one piece when dropped (so lines
/// from several threads never interleave).
pub struct Line {
    text: Vec<u8>,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        // Nowhere to report a failing stderr.
        let _ = std::io::stderr().lock().write_all(&self.text);
    }
}
