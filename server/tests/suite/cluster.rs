//! Several server processes on one PostgreSQL database (the cluster, as
//! far as it goes: events do not cross nodes yet).

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::process::{Data, Process, client};
use crate::protocol::ok;

#[tokio::test]
async fn a_session_made_on_one_node_signs_in_on_another_at_once() {
    let data = Data::postgres().await;
    let first = Process::start(&data, 20_000).await;
    let second = Process::start(&data, 20_000).await;
    let mut alice = client(&first);
    alice.sign_up("alice").await;

    // The second node started before the session existed.
    second.adopt(&mut alice);
    alice.connect().await;
    let game = Uuid::new_v4();
    ok(alice.command("CreateGame", json!({ "gameId": game })).await);
    // Her socket there is hers too: her game's events reach it.
    let created = alice.wait_for("GameCreated").await;
    assert_eq!(created["creator"], json!(alice.user));

    // Someone else cannot take her id on the second node either.
    let mallory = client(&second);
    let (status, body) = mallory
        .command(
            "CreateUser",
            json!({ "userId": alice.user, "alias": "mallory" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    drop((first, second));
    data.forget().await;
}
