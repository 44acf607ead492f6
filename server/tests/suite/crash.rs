//! Durability: the real server binary, killed with SIGKILL mid-game (or
//! aborted between a commit and its publication) and started again on the
//! same data, has lost nothing, on the embedded database and on PostgreSQL.

use std::time::Duration;

use crate::common::Client;
use crate::process::{Data, Process, client};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// Alice and Bob, signed up on `process`, their sockets open.
async fn players(process: &Process) -> (Client, Client) {
    let (mut alice, mut bob) = (client(process), client(process));
    for (player, alias) in [(&mut alice, "alice"), (&mut bob, "bob")] {
        player.sign_up(alias).await;
        player.connect().await;
    }
    (alice, bob)
}

fn ok((status, body): (StatusCode, Value)) {
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn start_game(alice: &mut Client, bob: &mut Client) -> Uuid {
    let game = Uuid::new_v4();
    ok(alice.command("CreateGame", json!({ "gameId": game })).await);
    ok(alice.command("JoinGame", json!({ "gameId": game })).await);
    alice.wait_for("PlayerJoinedAGame").await;
    ok(bob.command("JoinGame", json!({ "gameId": game })).await);
    bob.wait_for("WaitingForPlayerPlay").await;
    game
}

/// A move, seen committed by both players (its `BoardUpdated` reached them).
async fn mark(mover: &mut Client, other: &mut Client, game: Uuid, x: u8, y: u8) {
    ok(mover
        .command("PlaceMark", json!({ "gameId": game, "x": x, "y": y }))
        .await);
    for player in [mover, other] {
        let board = player.wait_for("BoardUpdated").await;
        assert!(!board["board"][usize::from(y)][usize::from(x)].is_null());
    }
}

#[tokio::test]
async fn a_kill_9_mid_game_loses_nothing_and_the_game_finishes() {
    kill_9_mid_game(Data::embedded().await).await;
}

#[tokio::test]
async fn a_kill_9_mid_game_loses_nothing_on_postgres_either() {
    kill_9_mid_game(Data::postgres().await).await;
}

async fn kill_9_mid_game(data: Data) {
    let first = Process::start(&data, 60_000).await;
    let (mut alice, mut bob) = players(&first).await;
    let game = start_game(&mut alice, &mut bob).await;
    mark(&mut alice, &mut bob, game, 0, 0).await;
    mark(&mut bob, &mut alice, game, 0, 1).await;
    let (_, before) = alice.query("GetGame", json!({ "gameId": game })).await;
    first.kill_9();

    // Restarted on one thread (Tokio's single-threaded scheduler, as on a
    // machine of one core), which finishes the game.
    let second = Process::start_with(&data, 60_000, &["--worker-threads", "1"]).await;
    for player in [&mut alice, &mut bob] {
        second.adopt(player);
    }
    // Users, sessions, the board and the running turn's deadline are all there.
    let (status, me) = alice.post("/api/me", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["alias"], "alice", "the session survived");
    let (_, online) = bob.query("GetUsersOnline", json!({})).await;
    assert_eq!(online, json!([]), "nobody is online before a socket opens");
    let (_, after) = bob.query("GetGame", json!({ "gameId": game })).await;
    assert_eq!(after, before);
    assert_eq!(
        after["deadline"], before["deadline"],
        "the turn clock was not restarted"
    );

    for player in [&mut alice, &mut bob] {
        player.connect().await;
    }
    mark(&mut alice, &mut bob, game, 1, 0).await;
    mark(&mut bob, &mut alice, game, 1, 1).await;
    ok(alice
        .command("PlaceMark", json!({ "gameId": game, "x": 2, "y": 0 }))
        .await);
    assert_eq!(bob.wait_for("GameEnded").await["winner"], json!(alice.user));
    assert_eq!(alice.wait_for("PlayerScoreChanged").await["score"], 100);
    bob.wait_for("TopThreeListUpdated").await;
    let (_, top) = bob.query("GetTopThreePlayers", json!({})).await;
    assert_eq!(
        top,
        json!([{ "userId": alice.user, "alias": "alice", "score": 100 }])
    );
    drop(second);
    data.forget().await;
}

#[tokio::test]
async fn a_turn_timer_pending_at_the_kill_fires_after_the_restart() {
    let data = Data::embedded().await;
    let first = Process::start(&data, 1_500).await;
    let (mut alice, mut bob) = players(&first).await;
    let game = start_game(&mut alice, &mut bob).await;
    first.kill_9();

    let second = Process::start(&data, 1_500).await;
    second.adopt(&mut alice);
    let mut stage = Value::Null;
    for _ in 0..100 {
        let (_, view) = alice.query("GetGame", json!({ "gameId": game })).await;
        stage = view["stage"].clone();
        if stage == "ENDED" {
            assert_eq!(view["result"], "GAME_ABORTED");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stage, "ENDED", "the timeout fired after the restart");
}

#[tokio::test]
async fn a_crash_between_commit_and_publish_loses_no_event_and_shows_none_twice() {
    let data = Data::embedded().await;
    // Aborts right after committing the winning move, before publishing it.
    let first = Process::start_with(&data, 60_000, &["--abort-after-commit-of", "GameEnded"]).await;
    let (mut alice, mut bob) = players(&first).await;
    let game = start_game(&mut alice, &mut bob).await;
    mark(&mut alice, &mut bob, game, 0, 0).await;
    mark(&mut bob, &mut alice, game, 0, 1).await;
    mark(&mut alice, &mut bob, game, 1, 0).await;
    mark(&mut bob, &mut alice, game, 1, 1).await;
    let seen = bob.wait_for("WaitingForPlayerPlay").await["version"]
        .as_u64()
        .expect("a version");
    // The server may die before it answers: the move is committed anyway.
    let _ = alice
        .http
        .post(format!("{}/api/commands", alice.base))
        .json(&json!({ "command": { "type": "PlaceMark", "payload": { "gameId": game, "x": 2, "y": 0 } } }))
        .send()
        .await;
    let mut first = first;
    let status = first.child.wait().expect("the server ends");
    assert!(!status.success(), "it aborted: {status}");

    let second = Process::start(&data, 60_000).await;
    for player in [&mut alice, &mut bob] {
        second.adopt(player);
        player.connect().await;
        player
            .send_frame(json!({ "type": "Resume", "payload": { "gameId": game, "version": seen } }))
            .await;
    }
    let winner = json!(alice.user);
    for player in [&mut alice, &mut bob] {
        assert_eq!(player.wait_for("GameEnded").await["winner"], winner);
        player.drain(Duration::from_millis(300)).await;
        let game_events: Vec<u64> = player
            .seen
            .iter()
            .filter(|frame| frame["payload"]["gameId"] == json!(game))
            .filter_map(|frame| frame["payload"]["version"].as_u64())
            .filter(|version| *version > seen)
            .collect();
        let mut once = game_events.clone();
        once.dedup();
        assert_eq!(game_events, once, "no event twice");
        assert_eq!(
            game_events,
            (seen + 1..=seen + game_events.len() as u64).collect::<Vec<_>>(),
            "every missed event, in order"
        );
    }
    // The score handler saw the republished `GameEnded` exactly once.
    let mut score = Value::Null;
    for _ in 0..100 {
        let (_, top) = bob.query("GetTopThreePlayers", json!({})).await;
        score = top[0]["score"].clone();
        if !score.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(score, 100);
    drop(second);
    data.forget().await;
}

#[tokio::test]
async fn a_resume_after_a_restart_is_answered_not_left_silent() {
    let data = Data::embedded().await;
    let first = Process::start(&data, 60_000).await;
    let (mut alice, mut bob) = players(&first).await;
    let game = start_game(&mut alice, &mut bob).await;
    mark(&mut alice, &mut bob, game, 0, 0).await;
    mark(&mut bob, &mut alice, game, 0, 1).await;
    let (_, view) = bob.query("GetGame", json!({ "gameId": game })).await;
    let latest = view["version"].as_u64().expect("a version");
    first.kill_9();

    let second = Process::start(&data, 60_000).await;
    second.adopt(&mut bob);
    bob.connect().await;
    // Behind: what it missed went out before the restart, so reload.
    bob.send_frame(
        json!({ "type": "Resume", "payload": { "gameId": game, "version": latest - 3 } }),
    )
    .await;
    assert_eq!(bob.wait_for("ReloadGame").await, json!({ "gameId": game }));
    // Up to date: nothing to replay, and still followed: the next move
    // arrives.
    second.adopt(&mut alice);
    alice.connect().await;
    alice
        .send_frame(json!({ "type": "Resume", "payload": { "gameId": game, "version": latest } }))
        .await;
    mark(&mut alice, &mut bob, game, 1, 0).await;
    assert!(
        alice.seen.iter().all(|frame| frame["type"] != "ReloadGame"),
        "an up-to-date client is not told to reload: {:?}",
        alice.seen
    );
    drop(second);
    data.forget().await;
}

#[tokio::test]
async fn the_computers_move_pending_at_the_kill_is_made_after_the_restart() {
    let data = Data::embedded().await;
    let first = Process::start(&data, 8_000).await;
    let mut alice = client(&first);
    alice.sign_up("alice").await;
    let game = Uuid::new_v4();
    ok(alice
        .command(
            "PlayComputer",
            json!({ "gameId": game, "level": "PERFECT" }),
        )
        .await);
    let (_, view) = alice.query("GetGame", json!({ "gameId": game })).await;
    let alice_is_x = view["turn"] == json!(alice.user);
    if alice_is_x {
        // Her move makes it the computer's turn.
        ok(alice
            .command("PlaceMark", json!({ "gameId": game, "x": 1, "y": 1 }))
            .await);
    }
    // Killed while the computer "thinks" (a moment: well under a second).
    first.kill_9();

    let second = Process::start(&data, 8_000).await;
    second.adopt(&mut alice);
    let mut view = Value::Null;
    for _ in 0..100 {
        (_, view) = alice.query("GetGame", json!({ "gameId": game })).await;
        if view["turn"] == json!(alice.user) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(view["stage"], "IN_PROGRESS", "{view}");
    assert_eq!(
        view["turn"],
        json!(alice.user),
        "the computer moved: {view}"
    );
    let marks = view["board"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .filter(|cell| !cell.is_null())
        .count();
    // The computer's one move, after Alice's if she went first.
    assert_eq!(marks, if alice_is_x { 2 } else { 1 }, "{view}");
}
