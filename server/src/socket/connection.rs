//! An event socket's connection: the TCP stream, the client's frames
//! being read, and the bytes waiting to go out, polled in place by the
//! socket's task (see `live.rs`).
//!
//! The server's frames (events, nearly all the bytes a socket sends) are
//! a two- to ten-byte header and the text, unmasked, appended to one
//! buffer with the pongs and the close, so frames never interleave;
//! [`Connection::poll_flush`] sends the buffer and drops it, so an idle
//! socket holds no write buffer. The client's frames are read by hand
//! ([`client_frames`](super::client_frames), which says why).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Bytes;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

use super::client_frames::{Broken, ClientMessage, Reader, echoable, opcode, server_frame};
use crate::connection_caps::Slot;
use crate::storage::Barrier;

/// Bytes read from the socket at a time (a client's frames are small).
const READ_CHUNK: usize = 1024;

/// An upgraded connection.
#[derive(Debug)]
pub struct Connection {
    tcp: TcpStream,
    reader: Reader,
    /// Bytes to send.
    out: Vec<u8>,
    /// How much of `out` is sent already.
    sent: usize,
    /// A close frame was queued: nothing follows it.
    closed: bool,
    /// Its place under the connection caps, held while it is open.
    _slot: Slot,
}

impl Connection {
    /// The server's side of `tcp`, upgraded; `read` is what the client
    /// sent after its handshake that was read with it.
    pub fn new(tcp: TcpStream, slot: Slot, read: Bytes) -> Self {
        let mut reader = Reader::default();
        reader.extend(&read);
        Self {
            tcp,
            reader,
            out: Vec::new(),
            sent: 0,
            closed: false,
            _slot: slot,
        }
    }

    /// Queues `text` as one text frame (sent at the next flush).
    pub fn push_text(&mut self, text: &str) {
        if !self.closed {
            server_frame(opcode::TEXT, text.as_bytes(), &mut self.out);
        }
    }

    /// Whether bytes wait to be sent.
    pub fn has_unsent(&self) -> bool {
        self.sent < self.out.len()
    }

    /// The client's next message, `None` once the connection is closed
    /// (or failed). A ping's pong and a close's answer are queued as they
    /// are read.
    pub fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<ClientMessage, Broken>>> {
        loop {
            match self.reader.next_message() {
                Ok(Some(message)) => {
                    match &message {
                        ClientMessage::Ping(payload) if !self.closed => {
                            server_frame(opcode::PONG, payload, &mut self.out);
                        }
                        // Its code echoed when one may be sent back.
                        ClientMessage::Close(code) => {
                            self.close_with(code.filter(|code| echoable(*code)), "");
                        }
                        _ => {}
                    }
                    return Poll::Ready(Some(Ok(message)));
                }
                Ok(None) => {}
                Err(broken) => return Poll::Ready(Some(Err(broken))),
            }
            // Tokio's read, not `try_read`: a read shorter than the buffer
            // tells it the socket is drained, so the next poll waits
            // instead of trying a read that would block (`try_read` made
            // that extra system call after every frame: 3.3 `recvfrom`
            // a move, docs/performance.md).
            let mut chunk = [0; READ_CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            match ready!(Pin::new(&mut self.tcp).poll_read(cx, &mut read)) {
                Ok(()) if read.filled().is_empty() => return Poll::Ready(None),
                Ok(()) => self.reader.extend(read.filled()),
                Err(_) => return Poll::Ready(None),
            }
        }
    }

    /// Queues a ping (sent at the next flush).
    pub fn ping(&mut self) {
        if !self.closed {
            server_frame(opcode::PING, &[], &mut self.out);
        }
    }

    /// Queues a close frame with `code` and `reason` (sent at the next
    /// flush), unless one was queued already (the answer to the client's).
    pub fn close(&mut self, code: u16, reason: &str) {
        self.close_with(Some(code), reason);
    }

    fn close_with(&mut self, code: Option<u16>, reason: &str) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        let mut payload = Vec::with_capacity(2 + reason.len());
        if let Some(code) = code {
            payload.extend_from_slice(&code.to_be_bytes());
            payload.extend_from_slice(reason.as_bytes());
        }
        server_frame(opcode::CLOSE, &payload, &mut self.out);
    }

    /// Sends what is queued, once past the store's `barrier` (what the
    /// frames tell is on disk), then drops the buffer.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>, barrier: &Barrier) -> Poll<io::Result<()>> {
        if self.sent < self.out.len() {
            barrier.pass().map_err(io::Error::other)?;
        }
        while self.sent < self.out.len() {
            match self.tcp.try_write(&self.out[self.sent..]) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(written) => self.sent += written,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
        if !self.out.is_empty() {
            self.out = Vec::new();
            self.sent = 0;
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection_caps::ConnectionCaps;
    use futures::{SinkExt, StreamExt};
    use std::future::poll_fn;
    use std::net::{IpAddr, Ipv4Addr};
    use tokio::net::TcpListener;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::Role;

    /// A connection and a tungstenite client at the other end, over real
    /// TCP.
    async fn pair(sent_early: &[u8]) -> (Connection, WebSocketStream<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let caps = ConnectionCaps::new(4, 4);
        let slot = caps.take(IpAddr::V4(Ipv4Addr::LOCALHOST), false).unwrap();
        let connection = Connection::new(server, slot, Bytes::copy_from_slice(sent_early));
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        (connection, client)
    }

    #[tokio::test]
    async fn a_client_reads_our_frames_of_every_length_class_and_nothing_is_kept() {
        let (mut connection, mut client) = pair(&[]).await;
        let texts = [
            "",
            "hi",
            &"a".repeat(125),
            &"b".repeat(126),
            &"c".repeat(70_000),
        ];
        for text in texts {
            connection.push_text(text);
        }
        let reading = tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..5 {
                match client.next().await {
                    Some(Ok(Message::Text(text))) => got.push(text.to_string()),
                    other => panic!("expected text, got {other:?}"),
                }
            }
            got
        });
        poll_fn(|cx| connection.poll_flush(cx, &Barrier::default()))
            .await
            .unwrap();
        assert_eq!(connection.out.capacity(), 0, "nothing kept once sent");
        assert_eq!(reading.await.unwrap(), texts);
    }

    #[tokio::test]
    async fn a_clients_frames_are_read_and_its_ping_answered_in_line_with_ours() {
        let (mut connection, mut client) = pair(&[]).await;
        client.send(Message::Ping("p".into())).await.unwrap();
        client.send(Message::text("hello")).await.unwrap();
        let first = poll_fn(|cx| connection.poll_next(cx)).await;
        assert_eq!(first, Some(Ok(ClientMessage::Ping(b"p".to_vec()))));
        connection.push_text("event");
        let second = poll_fn(|cx| connection.poll_next(cx)).await;
        assert_eq!(second, Some(Ok(ClientMessage::Text("hello".to_owned()))));
        poll_fn(|cx| connection.poll_flush(cx, &Barrier::default()))
            .await
            .unwrap();
        // The pong was queued as the ping was read, before our frame.
        assert!(matches!(client.next().await, Some(Ok(Message::Pong(p))) if &p[..] == b"p"));
        assert!(matches!(client.next().await, Some(Ok(Message::Text(t))) if t.as_str() == "event"));
    }

    #[tokio::test]
    async fn bytes_read_with_the_handshake_come_first_and_a_close_is_answered() {
        // A masked text frame "hi", as a client sent it right after its
        // handshake (mask 0: the bytes are the text).
        let early = [0x81, 0x82, 0, 0, 0, 0, b'h', b'i'];
        let (mut connection, mut client) = pair(&early).await;
        let first = poll_fn(|cx| connection.poll_next(cx)).await;
        assert_eq!(first, Some(Ok(ClientMessage::Text("hi".to_owned()))));
        client.close(None).await.unwrap();
        let closed = poll_fn(|cx| connection.poll_next(cx)).await;
        assert_eq!(closed, Some(Ok(ClientMessage::Close(None))));
        // Queued as it was read; a close of our own adds nothing.
        connection.close(1001, "going");
        connection.push_text("too late");
        poll_fn(|cx| connection.poll_flush(cx, &Barrier::default()))
            .await
            .unwrap();
        drop(connection);
        assert!(matches!(
            client.next().await,
            Some(Ok(Message::Close(None)))
        ));
        assert!(client.next().await.is_none());
    }

    #[tokio::test]
    async fn the_servers_close_carries_its_code_and_reason() {
        let (mut connection, mut client) = pair(&[]).await;
        connection.close(1008, "too slow to keep up");
        poll_fn(|cx| connection.poll_flush(cx, &Barrier::default()))
            .await
            .unwrap();
        match client.next().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 1008);
                assert_eq!(frame.reason.as_str(), "too slow to keep up");
            }
            other => panic!("expected a close, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_clients_close_code_is_echoed() {
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
        let (mut connection, mut client) = pair(&[]).await;
        let bye = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        client.close(Some(bye)).await.unwrap();
        let closed = poll_fn(|cx| connection.poll_next(cx)).await;
        assert_eq!(closed, Some(Ok(ClientMessage::Close(Some(1000)))));
        poll_fn(|cx| connection.poll_flush(cx, &Barrier::default()))
            .await
            .unwrap();
        match client.next().await {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1000),
            other => panic!("expected the close echoed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn nothing_is_sent_while_the_store_cannot_write_what_it_tells() {
        let (mut connection, mut client) = pair(&[]).await;
        connection.push_text("a move the store has not written");
        let refusing = Barrier::new(|| Err(bus::StoreError::backend_says("the disk is full")));
        let flushed = poll_fn(|cx| connection.poll_flush(cx, &refusing)).await;
        assert!(flushed.is_err());
        assert!(connection.has_unsent(), "kept, not sent");
        drop(connection);
        // The connection closed without a frame.
        assert!(!matches!(client.next().await, Some(Ok(Message::Text(_)))));
    }
}
