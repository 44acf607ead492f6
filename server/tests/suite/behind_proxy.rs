//! Behind a load balancer: the client address comes from the forwarding
//! headers of a trusted proxy only, and the site's origin is its public
//! URL, not the node's own address.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::{PATIENCE, TestServer};

/// A query that stores nothing, as a proxy would forward it for `client`.
async fn query_for(server: &TestServer, client: &str) -> StatusCode {
    reqwest::Client::new()
        .post(server.url("/api/queries"))
        .header("x-forwarded-for", client)
        .json(&json!({ "query": { "type": "GetTopThreePlayers", "payload": {} } }))
        .send()
        .await
        .expect("request")
        .status()
}

const SLOW: [&str; 4] = ["--rate-limit-burst", "2", "--rate-limit-per-sec", "0.01"];

#[tokio::test]
async fn a_trusted_proxys_clients_each_get_their_own_rate_limit() {
    let mut flags = SLOW.to_vec();
    flags.extend(["--trusted-proxies", "127.0.0.1"]);
    let server = TestServer::start(&flags).await;
    for _ in 0..2 {
        assert_eq!(query_for(&server, "203.0.113.1").await, StatusCode::OK);
    }
    assert_eq!(
        query_for(&server, "203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        query_for(&server, "203.0.113.2").await,
        StatusCode::OK,
        "another client behind the same proxy"
    );
}

#[tokio::test]
async fn forwarding_headers_from_anyone_else_change_nothing() {
    let server = TestServer::start(&SLOW).await;
    for client in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(query_for(&server, client).await, StatusCode::OK);
    }
    assert_eq!(
        query_for(&server, "203.0.113.3").await,
        StatusCode::TOO_MANY_REQUESTS,
        "a made-up X-Forwarded-For buys no bucket"
    );
}

#[tokio::test]
async fn a_trusted_proxy_is_not_capped_as_one_address() {
    let server = TestServer::start(&[
        "--trusted-proxies",
        "127.0.0.1",
        "--max-connections-per-address",
        "2",
    ])
    .await;
    let _held = [
        TcpStream::connect(server.addr).await.unwrap(),
        TcpStream::connect(server.addr).await.unwrap(),
    ];
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(PATIENCE, third.read_to_string(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

async fn post_from(server: &TestServer, origin: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/api/queries"))
        .header("origin", origin)
        .json(&json!({ "query": { "type": "GetTopThreePlayers", "payload": {} } }))
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn socket_from(server: &TestServer, origin: &str) -> Result<(), u16> {
    let mut request = format!("ws://{}/api/ws", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn the_public_url_is_the_sites_origin_not_the_nodes() {
    let server = TestServer::start(&["--public-url", "https://play.example/"]).await;
    assert_eq!(
        post_from(&server, "https://play.example").await.0,
        StatusCode::OK
    );
    assert_eq!(socket_from(&server, "https://play.example").await, Ok(()));
    let node = format!("http://{}", server.addr);
    let (status, body) = post_from(&server, &node).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(socket_from(&server, &node).await, Err(403));
}
