//! Event sockets are capped per user and per anonymous address, and a
//! client that breaks the WebSocket protocol gets the close code RFC 6455
//! names for what it did before the server hangs up.

use std::net::IpAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::common::{Client, PATIENCE, TestServer, TestServerAddr};

/// The HTTP status a refused socket got, its body checked.
fn refused_with(attempt: Result<crate::common::Socket, WsError>) -> u16 {
    match attempt {
        Err(WsError::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            assert_eq!(body["error"]["code"], "TOO_MANY_REQUESTS", "{body}");
            response.status().as_u16()
        }
        Err(other) => panic!("refused otherwise: {other}"),
        Ok(_) => panic!("the socket opened"),
    }
}

#[tokio::test]
async fn a_user_holds_a_bounded_number_of_sockets() {
    let server = TestServer::start(&["--max-sockets-per-user", "2"]).await;
    let alice = server.client();
    alice.sign_up("alice").await;
    let first = alice.try_connect().await.expect("one tab");
    let _second = alice.try_connect().await.expect("two tabs");
    assert_eq!(refused_with(alice.try_connect().await), 429);
    let bob = server.client();
    bob.sign_up("bob").await;
    bob.try_connect().await.expect("another user has his own");
    drop(first);
    let mut again = Err(WsError::ConnectionClosed);
    for _ in 0..100 {
        // The server notices the close a moment later.
        again = alice.try_connect().await;
        if again.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    again.expect("a closed tab frees its place");
}

#[tokio::test]
async fn sockets_without_a_session_are_bounded_per_address() {
    let server = TestServer::start(&["--max-anonymous-sockets-per-address", "2"]).await;
    let here: Client = server.client();
    let _lobby = [
        here.try_connect().await.expect("one"),
        here.try_connect().await.expect("two"),
    ];
    assert_eq!(refused_with(here.try_connect().await), 429);
    let elsewhere =
        TestServerAddr(server.addr.to_string()).client_at(Some(IpAddr::from([127, 0, 0, 2])));
    elsewhere
        .try_connect()
        .await
        .expect("another address has its own");
}

/// A WebSocket opened by hand, to send what no library would.
async fn raw_socket(server: &TestServer) -> TcpStream {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let handshake = format!(
        "GET /api/ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    tcp.write_all(handshake.as_bytes()).await.unwrap();
    tcp
}

/// A final frame of `opcode` carrying `payload`, masked as a client's must
/// be, or not.
fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut bytes = vec![0x80 | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => bytes.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            bytes.push(mask_bit | 126);
            bytes.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            bytes.push(mask_bit | 127);
            bytes.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        bytes.extend_from_slice(&mask);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        bytes.extend_from_slice(payload);
    }
    bytes
}

/// Sends `bytes` on a fresh raw socket and reads until the server hangs
/// up: the close code it sent, if any.
async fn close_code_after(server: &TestServer, bytes: &[u8]) -> Option<u16> {
    let mut tcp = raw_socket(server).await;
    tcp.write_all(bytes).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut received))
        .await
        .expect("the server hangs up")
        .ok();
    let head_end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a 101")
        + 4;
    assert!(received.starts_with(b"HTTP/1.1 101"));
    // The server's frames: unmasked, so a header of 2, 4 or 10 bytes.
    let mut frames = &received[head_end..];
    while frames.len() >= 2 {
        let (opcode, len) = (frames[0] & 0x0f, (frames[1] & 0x7f) as usize);
        let (len, header) = match len {
            126 => (u16::from_be_bytes([frames[2], frames[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(frames[2..10].try_into().unwrap()) as usize,
                10,
            ),
            len => (len, 2),
        };
        if opcode == 0x8 {
            return Some(u16::from_be_bytes([frames[header], frames[header + 1]]));
        }
        frames = &frames[header + len..];
    }
    None
}

#[tokio::test]
async fn a_frame_over_16_kib_is_closed_with_1009() {
    let server = TestServer::start(&[]).await;
    let big = vec![b'a'; 16 * 1024 + 1];
    assert_eq!(
        close_code_after(&server, &frame(0x1, &big, true)).await,
        Some(1009)
    );
}

#[tokio::test]
async fn text_that_is_not_utf8_is_closed_with_1007() {
    let server = TestServer::start(&[]).await;
    assert_eq!(
        close_code_after(&server, &frame(0x1, &[0xff, 0xfe, 0xfd], true)).await,
        Some(1007)
    );
}

#[tokio::test]
async fn an_unmasked_frame_is_closed_with_1002() {
    let server = TestServer::start(&[]).await;
    assert_eq!(
        close_code_after(&server, &frame(0x1, b"{}", false)).await,
        Some(1002)
    );
}
