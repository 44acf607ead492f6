//! What operators see: `/healthz` tells a load balancer whether the node
//! reaches its database, and `/metrics` serves Prometheus text.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::TestServer;
use crate::nats_server::NatsServer;
use crate::process::{Data, Process};
use crate::protocol::ok;

#[tokio::test]
async fn metrics_count_effects_handlers_commits_timers_and_sockets() {
    let server = TestServer::start(&["--turn-timeout-ms", "200"]).await;
    let mut alice = server.client();
    alice.sign_up("alice").await;
    alice.connect().await;
    let game = Uuid::new_v4();
    ok(alice.command("CreateGame", json!({ "gameId": game })).await);
    // Nobody joins: the wait's timer fires.
    alice.wait_for("GameEnded").await;

    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for expected in [
        "bus_effects_dispatched_total{effect=\"CreateGame\"}",
        "bus_handler_duration_seconds_bucket{handler=",
        "bus_timers_fired_total{effect=\"TurnDeadlinePassed\"}",
        "store_commit_duration_seconds_count",
        "server_sockets_open",
        "server_connections_open",
    ] {
        assert!(text.contains(expected), "no {expected} in\n{text}");
    }
}

#[tokio::test]
async fn healthz_is_503_when_the_database_is_gone() {
    let data = Data::postgres().await;
    let server = Process::start(&data, 20_000).await;
    let health = format!("http://127.0.0.1:{}/healthz", server.port);
    assert_eq!(
        reqwest::get(&health).await.unwrap().status(),
        StatusCode::OK
    );

    data.forget().await; // DROP DATABASE ... WITH (FORCE): its connections end
    let mut last = (StatusCode::OK, Value::Null);
    for _ in 0..100 {
        let response = reqwest::get(&health).await.unwrap();
        let status = response.status();
        last = (status, response.json().await.unwrap_or(Value::Null));
        if status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last.0, StatusCode::SERVICE_UNAVAILABLE, "{}", last.1);
    assert_eq!(last.1["error"]["code"], "UNAVAILABLE");
}

/// `/healthz` of `port` until it answers `status`, or the last answer.
pub(crate) async fn health_becomes(port: u16, status: StatusCode) -> (StatusCode, Value) {
    let health = format!("http://127.0.0.1:{port}/healthz");
    let mut last = (StatusCode::IM_A_TEAPOT, Value::Null);
    // Reconnecting backs off up to 4 s between attempts.
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(&health).await {
            let got = response.status();
            last = (got, response.json().await.unwrap_or(Value::Null));
            if got == status {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

#[tokio::test]
async fn a_cluster_node_is_healthy_only_while_it_reaches_nats_and_reconnects_by_itself() {
    let mut nats = NatsServer::start().await;
    let data = Data::postgres().await;
    let node = Process::start_with(&data, 20_000, &["--nats-url", &nats.url()]).await;
    assert_eq!(
        health_becomes(node.port, StatusCode::OK).await.0,
        StatusCode::OK
    );

    nats.kill();
    let (status, body) = health_becomes(node.port, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("NATS"),
        "{body}"
    );

    nats.restart().await;
    let (status, body) = health_becomes(node.port, StatusCode::OK).await;
    assert_eq!(status, StatusCode::OK, "reconnected by itself: {body}");
    drop(node);
    data.forget().await;
}
