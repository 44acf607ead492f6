//! What operators see: `/healthz` tells a load balancer whether the node
//! reaches its database, and `/metrics` serves Prometheus text.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::TestServer;
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
