//! An event socket's connection: the TCP stream, tungstenite's reading
//! state, and the bytes waiting to go out, polled in place by the socket's
//! task (see `live.rs`).
//!
//! tungstenite reads the client's frames (it unmasks and checks them, and
//! answers pings and closes) through its [`WebSocketContext`], which takes
//! the stream at each call: here one that reads from the socket without
//! waiting (`try_read`; the task waits for readiness itself) and writes
//! into the buffer of bytes to send. The server's own frames, nearly all
//! the bytes a socket sends, skip tungstenite: a two- to ten-byte header
//! and the text, unmasked, appended to the same buffer, so frames never
//! interleave. [`Connection::poll_flush`] sends the buffer and drops it, so
//! an idle socket holds no write buffer; and no adapter between
//! tungstenite's blocking reads and Tokio's (tokio-tungstenite's keeps two
//! reference-counted wakers and a boxed stream per socket).

use std::io::{self, Read, Write};
use std::task::{Context, Poll, ready};

use axum::body::Bytes;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{
    CloseFrame, Role, WebSocketConfig, WebSocketContext,
};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::connection_caps::Slot;

/// The first byte of a final, unfragmented text frame.
const FIN_TEXT: u8 = 0x81;

/// An upgraded connection.
pub struct Connection {
    tcp: TcpStream,
    ws: WebSocketContext,
    /// Bytes to send: the server's frames and tungstenite's.
    out: Vec<u8>,
    /// How much of `out` is sent already.
    sent: usize,
    /// Its place under the connection caps, held while it is open.
    _slot: Slot,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("tcp", &self.tcp)
            .field("unsent", &(self.out.len() - self.sent))
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// The server's side of `tcp`, upgraded; `read` is what the client
    /// sent after its handshake that was read with it.
    pub fn new(tcp: TcpStream, slot: Slot, read: Bytes, config: WebSocketConfig) -> Self {
        let ws = if read.is_empty() {
            WebSocketContext::new(Role::Server, Some(config))
        } else {
            WebSocketContext::from_partially_read(read.into(), Role::Server, Some(config))
        };
        Self {
            tcp,
            ws,
            out: Vec::new(),
            sent: 0,
            _slot: slot,
        }
    }

    /// Queues `text` as one text frame (sent at the next flush).
    pub fn push_text(&mut self, text: &str) {
        let len = text.len();
        self.out.reserve(len + 10);
        self.out.push(FIN_TEXT);
        if len < 126 {
            // Fits the seven-bit length (the mask bit stays clear).
            self.out.push(len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            self.out.push(126);
            self.out.extend_from_slice(&len.to_be_bytes());
        } else {
            self.out.push(127);
            self.out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        self.out.extend_from_slice(text.as_bytes());
    }

    /// Whether bytes wait to be sent.
    pub fn has_unsent(&self) -> bool {
        self.sent < self.out.len()
    }

    /// The client's next message (pings and pongs included; tungstenite
    /// queues the answers a ping and a close need), `None` once the
    /// connection is closed.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, WsError>>> {
        loop {
            let mut stream = Stream {
                tcp: &self.tcp,
                out: &mut self.out,
            };
            match self.ws.read(&mut stream) {
                Ok(message) => return Poll::Ready(Some(Ok(message))),
                Err(WsError::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => {
                    // Registers the task for the next bytes (or finds some
                    // came since, and reads again).
                    if let Err(error) = ready!(self.tcp.poll_read_ready(cx)) {
                        return Poll::Ready(Some(Err(error.into())));
                    }
                }
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                    return Poll::Ready(None);
                }
                Err(error) => return Poll::Ready(Some(Err(error))),
            }
        }
    }

    /// Queues a ping (sent at the next flush).
    pub fn ping(&mut self) -> Result<(), WsError> {
        let mut stream = Stream {
            tcp: &self.tcp,
            out: &mut self.out,
        };
        self.ws.write(&mut stream, Message::Ping(Bytes::new()))
    }

    /// Queues a close frame, or the answer to the client's (sent at the
    /// next flush).
    pub fn close(&mut self, close: Option<(CloseCode, &'static str)>) {
        let mut stream = Stream {
            tcp: &self.tcp,
            out: &mut self.out,
        };
        let frame = close.map(|(code, reason)| CloseFrame {
            code,
            reason: reason.into(),
        });
        // Best effort: a connection already closing has nothing to add.
        let _ = self.ws.close(&mut stream, frame);
    }

    /// Sends what is queued, then drops the buffer.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
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

/// What tungstenite reads from and writes to: the socket without waiting,
/// and the buffer of bytes to send (which takes every write whole).
struct Stream<'a> {
    tcp: &'a TcpStream,
    out: &'a mut Vec<u8>,
}

impl Read for Stream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.try_read(buf)
    }
}

impl Write for Stream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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

    /// A connection and the client's end of it, over real TCP.
    async fn pair(sent_early: &[u8]) -> (Connection, WebSocketStream<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let caps = ConnectionCaps::new(4, 4);
        let slot = caps.take(IpAddr::V4(Ipv4Addr::LOCALHOST), false).unwrap();
        let config = WebSocketConfig::default();
        let connection = Connection::new(server, slot, Bytes::copy_from_slice(sent_early), config);
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
        poll_fn(|cx| connection.poll_flush(cx)).await.unwrap();
        assert_eq!(connection.out.capacity(), 0, "nothing kept once sent");
        assert_eq!(reading.await.unwrap(), texts);
    }

    #[tokio::test]
    async fn the_clients_frames_are_read_and_its_pings_answered_in_line_with_ours() {
        let (mut connection, mut client) = pair(&[]).await;
        client.send(Message::Ping("p".into())).await.unwrap();
        client.send(Message::text("hello")).await.unwrap();
        let first = poll_fn(|cx| connection.poll_next(cx)).await;
        assert!(matches!(first, Some(Ok(Message::Ping(_)))), "{first:?}");
        let second = poll_fn(|cx| connection.poll_next(cx)).await;
        assert!(matches!(second, Some(Ok(Message::Text(ref text))) if text.as_str() == "hello"));
        connection.push_text("event");
        poll_fn(|cx| connection.poll_flush(cx)).await.unwrap();
        // The pong was queued as reading went on, before our frame.
        assert!(matches!(client.next().await, Some(Ok(Message::Pong(_)))));
        assert!(matches!(client.next().await, Some(Ok(Message::Text(t))) if t == "event"));
    }

    #[tokio::test]
    async fn bytes_read_with_the_handshake_are_read_first_and_a_close_ends_it() {
        // A masked text frame "hi", as a client sent it right after its
        // handshake (mask 0: the bytes are the text).
        let early = [0x81, 0x82, 0, 0, 0, 0, b'h', b'i'];
        let (mut connection, mut client) = pair(&early).await;
        let first = poll_fn(|cx| connection.poll_next(cx)).await;
        assert!(matches!(first, Some(Ok(Message::Text(ref text))) if text.as_str() == "hi"));
        client.close(None).await.unwrap();
        let closed = poll_fn(|cx| connection.poll_next(cx)).await;
        assert!(matches!(closed, Some(Ok(Message::Close(_)))), "{closed:?}");
        connection.close(None);
        poll_fn(|cx| connection.poll_flush(cx)).await.unwrap();
        drop(connection);
        // The client's close was answered.
        assert!(matches!(client.next().await, Some(Ok(Message::Close(_)))));
    }
}
