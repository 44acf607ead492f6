//! The walking skeleton over real HTTP and a real WebSocket: a server on an
//! ephemeral port per test.

use std::time::Duration;

use crate::common::{TestServer, next_text};
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::start(&[]).await;
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn home_page_is_server_rendered_with_the_bundles_scripts() {
    let server = TestServer::start(&[]).await;
    let response = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Pick an alias"), "{html}");
    assert!(html.contains("Hall of fame"), "{html}");
    assert!(html.contains("Connecting…"), "{html}");
    assert!(html.contains("/pkg/tictactoe.js"), "{html}");
    assert!(html.contains("/pkg/tictactoe.css"), "{html}");
}

#[tokio::test]
async fn game_and_about_pages_are_server_rendered() {
    let server = TestServer::start(&[]).await;
    let about = reqwest::get(server.url("/about"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(about.contains("Ask the server"), "{about}");
    let game = reqwest::get(server.url("/game/00000000-0000-0000-0000-000000000001"))
        .await
        .unwrap();
    assert_eq!(game.status(), 200);
    assert!(game.text().await.unwrap().contains("Loading the game"));
}

#[tokio::test]
async fn every_page_of_the_apps_table_is_served_with_its_own_content() {
    let server = TestServer::start(&[]).await;
    let id = "00000000-0000-0000-0000-000000000001";
    for (path, shows) in [
        ("/history".to_owned(), "Your games"),
        (format!("/players/{id}"), "games"),
        (format!("/games/{id}/replay"), "Loading the game"),
    ] {
        let response = reqwest::get(server.url(&path)).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains(shows), "{path}: {html}");
        assert!(!html.contains("Page not found."), "{path}: {html}");
    }
    for path in ["/game/", "/history/", "/games/x/replay/more"] {
        let response = reqwest::get(server.url(path)).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert!(
            response.text().await.unwrap().contains("Page not found."),
            "{path}"
        );
    }
}

/// Reads what every socket gets first: `Connected`, then the lobby's lists.
async fn opened(
    socket: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Value {
    let hello = next_text(socket).await;
    assert_eq!(hello["type"], "Connected");
    for list in [
        "UsersOnlineUpdated",
        "TopThreeListUpdated",
        "LiveGamesUpdated",
    ] {
        assert_eq!(next_text(socket).await["type"], list);
    }
    hello
}

#[tokio::test]
async fn socket_says_connected_with_the_server_clock_then_gives_the_lobby() {
    let server = TestServer::start(&[]).await;
    let mut socket = server.socket().await;
    let frame = opened(&mut socket).await;
    let server_time = frame["payload"]["serverTimeMs"]
        .as_u64()
        .expect("serverTimeMs");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(now.abs_diff(server_time) < 5_000);
}

#[tokio::test]
async fn server_function_counts_open_sockets() {
    let server = TestServer::start(&[]).await;
    let status = server.status().await;
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["liveConnections"], 0);

    let mut first = server.socket().await;
    opened(&mut first).await;
    let mut second = server.socket().await;
    opened(&mut second).await;
    assert_eq!(server.status().await["liveConnections"], 2);

    first.close(None).await.unwrap();
    // The server notices the close frame asynchronously.
    let mut count = 2;
    for _ in 0..50 {
        count = server.status().await["liveConnections"].as_u64().unwrap();
        if count == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count, 1);
}

#[tokio::test]
async fn unknown_path_is_404() {
    let server = TestServer::start(&[]).await;
    let response = reqwest::get(server.url("/no/such/page")).await.unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn shutdown_closes_sockets_with_going_away_and_stops_serving() {
    let server = TestServer::start(&[]).await;
    let mut socket = server.socket().await;
    opened(&mut socket).await;

    server.stop.cancel();
    let close = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("close within 5 s");
    match close {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), 1001);
            assert_eq!(frame.reason.as_str(), "server shutting down");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    let url = server.url("/healthz");
    let served = tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("server stops within 5 s")
        .expect("server task");
    assert!(served.is_ok());
    assert!(reqwest::get(url).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn idle_socket_is_pinged_and_an_answering_peer_stays() {
    // Paused time: intervals pass without waiting for them. tungstenite
    // answers each ping with a pong as it reads. (In memory: the database's
    // own timeouts would fire early on a paused clock.)
    let server = TestServer::start(&["--ws-ping-secs", "1", "--in-memory"]).await;
    let mut socket = server.socket().await;
    opened(&mut socket).await;
    for _ in 0..3 {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Message::Ping(_)))) => {}
            other => panic!("expected a ping, got {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_takes_nothing_it_is_sent_is_dropped_after_a_ping_round() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = TestServer::start(&["--ws-ping-secs", "1", "--in-memory"]).await;
    // A raw client with a small window that reads nothing after its
    // handshake, and sends frames the server answers (each a `Refused`)
    // until the server's writes to it block.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(1024).unwrap();
    let mut tcp = socket.connect(server.addr).await.unwrap();
    let handshake = format!(
        "GET /api/ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    tcp.write_all(handshake.as_bytes()).await.unwrap();
    // Masked text frames "x" (mask 0), not client frames: each refused,
    // a hundred bytes back. Sent until the server stops reading, which it
    // does once its writes block (its send buffer can grow to megabytes).
    let frames = [0x81, 0x81, 0, 0, 0, 0, b'x'].repeat(1_000);
    let mut sent = 0;
    while let Ok(Ok(())) =
        tokio::time::timeout(Duration::from_millis(100), tcp.write_all(&frames)).await
    {
        sent += 1;
        assert!(sent < 1_000, "the server kept reading");
    }
    // Two ping rounds with the server's writes blocked: it gives up on the
    // socket (before, its task waited in the write for as long as the
    // peer did, looking at nothing else).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), tcp.read_to_end(&mut received))
        .await
        .expect("the server hangs up");
    let received = String::from_utf8_lossy(&received);
    // Cut off with its bytes unread (a reset), or told why.
    assert!(
        read.is_err() || received.contains("too slow to keep up"),
        "dropped for taking nothing, not for its silence to pings"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_dropped_when_a_ping_goes_unanswered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = TestServer::start(&["--ws-ping-secs", "1", "--in-memory"]).await;
    // A raw client that completes the handshake and then never answers.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let handshake = format!(
        "GET /api/ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    tcp.write_all(handshake.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), tcp.read_to_end(&mut received))
        .await
        .expect("the server hangs up within 30 s")
        .unwrap();
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 101"), "{received}");
    assert!(received.contains("no answer to pings"), "{received}");
}
