//! How many event WebSockets are open on this server: counted by a guard
//! each socket task holds, so a socket is uncounted however it ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The count, shared by every socket task and the status endpoint.
#[derive(Debug, Clone, Default)]
pub struct LiveSockets(Arc<AtomicU64>);

impl LiveSockets {
    /// Counts one more open socket until the returned guard is dropped.
    pub fn open(&self) -> OpenSocket {
        self.0.fetch_add(1, Ordering::Relaxed);
        OpenSocket(self.0.clone())
    }

    /// Sockets open now.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One open socket; dropping it (however the socket ends) uncounts it.
#[derive(Debug)]
pub struct OpenSocket(Arc<AtomicU64>);

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_open_sockets() {
        let live = LiveSockets::default();
        let first = live.open();
        let second = live.open();
        assert_eq!(live.count(), 2);
        drop(first);
        assert_eq!(live.count(), 1);
        drop(second);
        assert_eq!(live.count(), 0);
    }
}
