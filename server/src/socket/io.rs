//! A socket's connection, with the server's own text frames written
//! straight into a write buffer that is freed once sent.
//!
//! tungstenite still reads the client's frames and writes the control
//! frames (pongs, pings, close), but the events, nearly all the bytes a
//! socket sends, skip it: a server's frame is a two- to ten-byte header and
//! the text, unmasked. Every write, tungstenite's or ours, is appended whole
//! to one buffer (a write is never refused or split), so frames never
//! interleave; [`Io::poll_flush`] sends the buffer and drops it. An idle
//! socket thus holds no write buffer at all, where tungstenite's own keeps
//! the capacity of the largest burst the socket ever sent.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The first byte of a final, unfragmented text frame.
const FIN_TEXT: u8 = 0x81;

/// A connection whose writes are buffered until flushed.
#[derive(Debug)]
pub struct Io<T> {
    inner: T,
    pending: Vec<u8>,
    /// How much of `pending` is sent already.
    sent: usize,
}

impl<T> Io<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            sent: 0,
        }
    }

    /// Queues `text` as one text frame (sent at the next flush).
    pub fn push_text(&mut self, text: &str) {
        let len = text.len();
        self.pending.reserve(len + 10);
        self.pending.push(FIN_TEXT);
        if len < 126 {
            // Fits the seven-bit length (the mask bit stays clear).
            self.pending.push(len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            self.pending.push(126);
            self.pending.extend_from_slice(&len.to_be_bytes());
        } else {
            self.pending.push(127);
            self.pending.extend_from_slice(&(len as u64).to_be_bytes());
        }
        self.pending.extend_from_slice(text.as_bytes());
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Io<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Io<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // Whole, always: the caller's frame must not be split by ours.
        self.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.sent < this.pending.len() {
            let written =
                ready!(Pin::new(&mut this.inner).poll_write(cx, &this.pending[this.sent..]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.sent += written;
        }
        if !this.pending.is_empty() {
            this.pending = Vec::new();
            this.sent = 0;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::Role;

    #[tokio::test]
    async fn a_client_reads_our_frames_of_every_length_class() {
        let (server, client) = tokio::io::duplex(1 << 20);
        let mut io = Io::new(server);
        let texts = [
            "",
            "hi",
            &"a".repeat(125),
            &"b".repeat(126),
            &"c".repeat(70_000),
        ];
        for text in texts {
            io.push_text(text);
        }
        io.flush().await.unwrap();
        assert_eq!(io.pending.capacity(), 0, "nothing kept once sent");
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        for text in texts {
            match client.next().await {
                Some(Ok(Message::Text(got))) => assert_eq!(got.as_str(), text),
                other => panic!("expected {} bytes of text, got {other:?}", text.len()),
            }
        }
    }

    #[tokio::test]
    async fn writes_wait_for_the_flush_and_keep_their_order() {
        let (server, mut client) = tokio::io::duplex(64);
        let mut io = Io::new(server);
        io.write_all(b"one").await.unwrap();
        io.push_text("x");
        io.write_all(b"two").await.unwrap();
        let reading = tokio::spawn(async move {
            let mut all = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut client, &mut all)
                .await
                .unwrap();
            all
        });
        // The duplex holds 64 bytes: flushing 70 takes the reader's help.
        io.write_all(&[b'.'; 62]).await.unwrap();
        io.shutdown().await.unwrap();
        drop(io);
        let all = reading.await.unwrap();
        assert_eq!(&all[..9], b"one\x81\x01xtwo");
        assert_eq!(all.len(), 71);
    }
}
