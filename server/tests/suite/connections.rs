//! Connections that send nothing, half a request or half a body are closed
//! in time; connections are capped per address and in total under the
//! open-files limit, with a 503 past a cap; a WebSocket that answers pings
//! is not idle.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::common::{PATIENCE, TestServer, TestServerAddr};
use crate::process::{Data, Process};
use crate::protocol::{ok, play};

fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// A TCP connection to `server` from `local`.
async fn connect_from(local: IpAddr, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.bind(SocketAddr::new(local, 0)).expect("bind");
    socket.connect(server).await.expect("connect")
}

/// Everything the server sends until it closes the connection; fails if it
/// does not close it within `patience`.
async fn until_closed(stream: &mut TcpStream, patience: Duration) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(patience, async {
        let mut chunk = [0; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&received).into_owned()
}

/// The status code and JSON body of a raw HTTP response.
fn status_and_body(response: &str) -> (u16, Value) {
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a response: {response:?}"));
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn idle_connections_do_not_keep_a_new_player_from_signing_up_and_playing() {
    // 256 open files, as in the report: 300 idle connections used to take
    // them all. The server cannot raise a hard limit: it keeps its total
    // under it and gives one address at most 32.
    let data = Data::embedded().await;
    let server = Process::start_limited(
        &data,
        20_000,
        &["--max-connections-per-address", "32"],
        Some(256),
    )
    .await;
    let addr: SocketAddr = format!("127.0.0.1:{}", server.port).parse().unwrap();
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(connect_from(loopback(1), addr).await);
    }
    // The first past the cap gets a 503 in the API's error shape (so do
    // the next ones, as many at once as the server answers refusals; the
    // rest are closed unanswered).
    let (status, body) = status_and_body(&until_closed(&mut idle[32], PATIENCE).await);
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "UNAVAILABLE");

    let players = TestServerAddr(addr.to_string());
    let mut alice = players.client_at(Some(loopback(2)));
    let mut bob = players.client_at(Some(loopback(3)));
    alice.sign_up("alice").await;
    bob.sign_up("bob").await;
    alice.connect().await;
    bob.connect().await;
    let game = Uuid::new_v4();
    ok(alice.command("CreateGame", json!({ "gameId": game })).await);
    ok(alice.command("JoinGame", json!({ "gameId": game })).await);
    ok(bob.command("JoinGame", json!({ "gameId": game })).await);
    alice.wait_for("WaitingForPlayerPlay").await;
    bob.wait_for("WaitingForPlayerPlay").await;
    play(
        &mut alice,
        &mut bob,
        game,
        &[(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)],
    )
    .await;
    let ended = bob.wait_for("GameEnded").await;
    assert_eq!(ended["winner"], json!(alice.user));
    drop(idle);
}

#[tokio::test]
async fn connections_that_send_nothing_or_half_a_head_are_closed_within_the_header_timeout() {
    let server = TestServer::start(&["--header-timeout-secs", "1"]).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert_eq!(until_closed(&mut silent, PATIENCE).await, "");
    assert_eq!(until_closed(&mut half, PATIENCE).await, "");
}

#[tokio::test]
async fn a_connection_idle_between_requests_is_closed_after_the_keep_alive() {
    let server = TestServer::start(&["--keep-alive-secs", "1"]).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut stream, PATIENCE).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "answered, then closed: {answer}");
}

#[tokio::test]
async fn a_body_shorter_than_its_length_gets_408_and_the_connection_closed() {
    let server = TestServer::start(&["--body-timeout-secs", "1"]).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"POST /api/commands HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"command\":",
        )
        .await
        .unwrap();
    let (status, body) = status_and_body(&until_closed(&mut stream, PATIENCE).await);
    assert_eq!(status, 408);
    assert_eq!(body["error"]["code"], "REQUEST_TIMEOUT");
}

#[tokio::test]
async fn past_the_total_cap_a_client_gets_503_until_a_connection_closes() {
    let server = TestServer::start(&["--max-connections", "3"]).await;
    let mut open = Vec::new();
    for last in 1..=3 {
        open.push(connect_from(loopback(last), server.addr).await);
    }
    let mut refused = connect_from(loopback(4), server.addr).await;
    refused
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let response = until_closed(&mut refused, PATIENCE).await;
    assert!(
        response.to_ascii_lowercase().contains("retry-after: 5"),
        "{response}"
    );
    let (status, body) = status_and_body(&response);
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "UNAVAILABLE");

    drop(open.pop());
    let client = TestServerAddr(server.addr.to_string()).client_at(Some(loopback(4)));
    let mut answered = false;
    for _ in 0..100 {
        // The server notices the close a moment later.
        let response = client.http.get(server.url("/healthz")).send().await;
        if response.is_ok_and(|response| response.status() == 200) {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answered, "a closed connection frees its place");
}

#[tokio::test]
async fn a_websocket_that_answers_pings_outlives_every_timeout() {
    let server = TestServer::start(&[
        "--ws-ping-secs",
        "1",
        "--header-timeout-secs",
        "1",
        "--keep-alive-secs",
        "1",
        "--body-timeout-secs",
        "1",
    ])
    .await;
    let mut socket = server.socket().await;
    // Reading answers the server's pings (tungstenite does it by itself).
    // Real time, past the third tick: a pong that came just after one tick
    // once looked like two intervals of silence at the third.
    let until = tokio::time::Instant::now() + Duration::from_millis(3_500);
    let mut pings = 0;
    while let Ok(frame) = tokio::time::timeout_at(until, socket.next()).await {
        match frame {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Text(_) | Message::Pong(_))) => {}
            other => panic!("the socket ended: {other:?}"),
        }
    }
    assert!(pings >= 1, "the server pinged the idle socket");
    assert_eq!(server.status().await["liveConnections"], 1);
}
