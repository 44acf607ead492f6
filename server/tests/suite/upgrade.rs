//! A release starts on the database an older release left, whose stored
//! effects have older shapes, and its games finish.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::process::{Data, Process, client};

const DUMP: &str = include_str!("../fixtures/before_schema_versions.sql");
const ALICE: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
const BOB: &str = "bbbbbbbb-0000-4000-8000-00000000000b";
const GAME: &str = "99999999-0000-4000-8000-000000000009";

fn ok((status, body): (StatusCode, Value)) {
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_database_from_before_schema_versions_starts_and_its_game_finishes() {
    let data = Data::embedded_from(DUMP);
    let process = Process::start(&data, 60_000).await;
    let mut alice = client(&process).with_session(
        ALICE.parse().unwrap(),
        "c5591b088c364eac8adeaf9c7d51802d086c66c6ddaa4c3696e5ae14e1633697",
    );
    let mut bob = client(&process).with_session(
        BOB.parse().unwrap(),
        "63f6a980643d4b3b88b06d0f9c40fe635370115f964e4fde96568864b921fcd6",
    );
    alice.connect().await;
    bob.connect().await;

    let (status, game) = bob.query("GetGame", json!({ "gameId": GAME })).await;
    assert_eq!(status, StatusCode::OK, "{game}");
    assert_eq!(
        game["board"],
        json!([["X", null, null], ["X", "O", null], [null, null, null]]),
        "the game as the older release left it: {game}"
    );

    ok(bob
        .command("PlaceMark", json!({ "gameId": GAME, "x": 2, "y": 2 }))
        .await);
    alice.wait_for("WaitingForPlayerPlay").await;
    ok(alice
        .command("PlaceMark", json!({ "gameId": GAME, "x": 0, "y": 2 }))
        .await);
    for player in [&mut alice, &mut bob] {
        let ended = player.wait_for("GameEnded").await;
        assert_eq!(ended["result"], "PLAYER_WON");
        assert_eq!(ended["winner"], ALICE);
    }

    // What no release reads now was kept aside, not dropped; what read
    // leniently was delivered and is gone from the outbox.
    let file = data.database_file().expect("embedded");
    let database = rusqlite::Connection::open(file).expect("the database");
    let set_aside: Vec<(String, String, i64, String, String)> = database
        .prepare("SELECT source, source_id, position, effect_type, reason FROM set_aside")
        .unwrap()
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(set_aside.len(), 1, "{set_aside:?}");
    let (source, entry, position, effect_type, reason) = &set_aside[0];
    assert_eq!(
        (
            source.as_str(),
            entry.as_str(),
            *position,
            effect_type.as_str()
        ),
        (
            "outbox",
            "0000000000000000000000000000f1d0",
            1,
            "GameSpectated"
        )
    );
    assert!(reason.contains("unknown effect type"), "{reason}");
    let older_entry_left = || -> bool {
        database
            .query_row(
                "SELECT count(*) FROM outbox WHERE id = '0000000000000000000000000000f1d0'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .unwrap()
            > 0
    };
    // The bus forgets finished entries a group at a time, after the fact.
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    while older_entry_left() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        !older_entry_left(),
        "the older entry was delivered and finished"
    );
    drop(process);
    data.forget().await;
}
