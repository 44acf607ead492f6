//! The public protocol over real HTTP and WebSocket: two players with their
//! own cookies play whole games; a third sees none of it.

use std::time::Duration;

use crate::common::{Client, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// Signs up and connects a player.
async fn connected(server: &TestServer, alias: &str) -> Client {
    let mut client = server.client();
    client.sign_up(alias).await;
    client.connect().await;
    client
}

/// Alice and Bob signed up and connected; Alice created a game, sat down as
/// X and invited Bob, who got the invitation.
async fn invited(server: &TestServer) -> (Client, Client, Uuid) {
    let alice = connected(server, "alice").await;
    let mut bob = connected(server, "bob").await;
    let game = invite(&alice, &mut bob).await;
    (alice, bob, game)
}

/// Alice creates a game, sits down as X and invites Bob, who gets the
/// invitation.
pub(crate) async fn invite(alice: &Client, bob: &mut Client) -> Uuid {
    let game = Uuid::new_v4();
    ok(alice.command("CreateGame", json!({ "gameId": game })).await);
    ok(alice.command("JoinGame", json!({ "gameId": game })).await);
    ok(alice
        .command(
            "InviteUser",
            json!({ "invitedId": bob.user, "gameId": game }),
        )
        .await);
    let invited = bob.wait_for("UserInvited").await;
    assert_eq!(
        invited,
        json!({ "inviterId": alice.user, "invitedId": bob.user, "gameId": game })
    );
    game
}

/// Carol is online as an onlooker; Alice invited Bob, who joined: Alice
/// (X) to play.
async fn started(server: &TestServer) -> (Client, Client, Client, Uuid) {
    let carol = connected(server, "carol").await;
    let (mut alice, mut bob, game) = invited(server).await;
    ok(bob.command("JoinGame", json!({ "gameId": game })).await);
    let players = json!([alice.user, bob.user]);
    for player in [&mut alice, &mut bob] {
        let started = player.wait_for("GameStarted").await;
        assert_eq!(started["players"], players, "Alice joined first: X");
        let waiting = player.wait_for("WaitingForPlayerPlay").await;
        assert_eq!(waiting["playerId"], players[0]);
    }
    (alice, bob, carol, game)
}

pub(crate) fn ok((status, body): (StatusCode, Value)) {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "accepted": true }));
}

/// Plays `moves` alternately from Alice, each player moving only once it
/// is told it is its turn, both watching the board change.
pub(crate) async fn play(alice: &mut Client, bob: &mut Client, game: Uuid, moves: &[(u8, u8)]) {
    for (i, (x, y)) in moves.iter().enumerate() {
        let (mover, other) = if i % 2 == 0 {
            (&mut *alice, &mut *bob)
        } else {
            (&mut *bob, &mut *alice)
        };
        ok(mover
            .command("PlaceMark", json!({ "gameId": game, "x": x, "y": y }))
            .await);
        let mark = if i % 2 == 0 { "X" } else { "O" };
        for player in [&mut *mover, &mut *other] {
            let board = player.wait_for("BoardUpdated").await;
            assert_eq!(board["board"][*y as usize][*x as usize], mark);
        }
        if i + 1 < moves.len() {
            let next = other.wait_for("WaitingForPlayerPlay").await;
            assert_eq!(next["playerId"], json!(other.user));
        }
    }
}

/// Alice (X) takes the top row while Bob plays below; both are told she won.
pub(crate) async fn alice_wins(alice: &mut Client, bob: &mut Client, game: Uuid) {
    play(alice, bob, game, &[(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]).await;
    let winner = json!(alice.user);
    for player in [alice, bob] {
        let ended = player.wait_for("GameEnded").await;
        assert_eq!(ended["result"], "PLAYER_WON");
        assert_eq!(ended["winner"], winner);
    }
}

fn game_frames(client: &Client, game: Uuid) -> Vec<Value> {
    let game = json!(game);
    client
        .seen
        .iter()
        .filter(|frame| frame["payload"]["gameId"] == game)
        .cloned()
        .collect()
}

#[tokio::test]
async fn two_players_play_to_a_win_and_the_winner_scores() {
    let server = TestServer::start(&[]).await;
    let (mut alice, mut bob, mut carol, game) = started(&server).await;
    alice_wins(&mut alice, &mut bob, game).await;
    assert_eq!(alice.wait_for("PlayerScoreChanged").await["score"], 100);
    let top = carol.wait_for("TopThreeListUpdated").await;
    assert_eq!(
        top["current"],
        json!([{ "userId": alice.user, "alias": "alice", "score": 100 }])
    );
    let (status, answer) = bob.query("GetTopThreePlayers", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, top["current"]);

    // Versions of the game's public events grow by one, with no gap.
    let versions: Vec<u64> = game_frames(&alice, game)
        .iter()
        .filter_map(|f| f["payload"]["version"].as_u64())
        .collect();
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
    // The onlooker saw lobby events only, nothing of the game.
    carol.drain(Duration::from_millis(100)).await;
    assert_eq!(game_frames(&carol, game), Vec::<Value>::new());
    assert!(
        !carol
            .seen
            .iter()
            .any(|f| f["type"] == "UserInvited" || f["type"] == "PlayerScoreChanged")
    );
}

#[tokio::test]
async fn two_players_play_to_a_draw() {
    let server = TestServer::start(&[]).await;
    let (mut alice, mut bob, _carol, game) = started(&server).await;
    play(
        &mut alice,
        &mut bob,
        game,
        &[
            (0, 0),
            (1, 0),
            (2, 0),
            (1, 1),
            (0, 1),
            (2, 1),
            (1, 2),
            (0, 2),
            (2, 2),
        ],
    )
    .await;
    let ended = bob.wait_for("GameEnded").await;
    assert_eq!(ended["result"], "DRAW");
    assert_eq!(ended["winner"], Value::Null);
    let (_, view) = alice.query("GetGame", json!({ "gameId": game })).await;
    assert_eq!(view["stage"], "ENDED");
    assert_eq!(
        view["board"],
        json!([["X", "O", "X"], ["X", "O", "O"], ["O", "X", "X"]])
    );
}

#[tokio::test]
async fn a_player_who_does_not_move_in_time_aborts_the_game() {
    let server =
        TestServer::start(&["--turn-timeout-ms", "300", "--cleanup-delay-ms", "200"]).await;
    let (mut alice, mut bob, _carol, game) = started(&server).await;
    let timeout = bob.wait_for("TurnTimeout").await;
    assert_eq!(timeout["playerId"], json!(alice.user));
    let ended = alice.wait_for("GameEnded").await;
    assert_eq!(ended["result"], "GAME_ABORTED");
    // The live game goes after the cleanup delay; the history keeps it.
    let mut status = StatusCode::OK;
    for _ in 0..50 {
        (status, _) = alice.query("GetGame", json!({ "gameId": game })).await;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, history) = bob.query("GetHistory", json!({ "userId": bob.user })).await;
    assert_eq!(history["games"][0]["gameId"], json!(game));
    assert_eq!(history["games"][0]["result"], "GAME_ABORTED");
    assert_eq!(history["olderPages"], 0);
}

#[tokio::test]
async fn rule_errors_go_to_the_player_who_erred_only() {
    let server = TestServer::start(&[]).await;
    let (mut alice, mut bob, _carol, game) = started(&server).await;
    ok(bob
        .command("PlaceMark", json!({ "gameId": game, "x": 0, "y": 0 }))
        .await);
    let refused = bob.wait_for("GameErrorOccurred").await;
    assert_eq!(
        refused,
        json!({ "gameId": game, "playerId": bob.user, "reason": "PLAYER_CAN_NOT_PLAY" })
    );
    ok(alice
        .command("PlaceMark", json!({ "gameId": game, "x": 5, "y": 0 }))
        .await);
    assert_eq!(
        alice.wait_for("GameErrorOccurred").await["reason"],
        "POSITION_OFF_LIMITS"
    );
    bob.drain(Duration::from_millis(100)).await;
    assert!(
        !bob.seen
            .iter()
            .any(|f| f["payload"]["reason"] == "POSITION_OFF_LIMITS")
    );
}

#[tokio::test]
async fn a_declined_invitation_is_told_to_the_inviter() {
    let server = TestServer::start(&[]).await;
    let (mut alice, bob, game) = invited(&server).await;
    ok(bob
        .command("DeclineInvitation", json!({ "gameId": game }))
        .await);
    let declined = alice.wait_for("InvitationDeclined").await;
    assert_eq!(declined["invitedId"], json!(bob.user));
}

#[tokio::test]
async fn an_uninvited_player_cannot_take_the_invited_seat() {
    let server = TestServer::start(&[]).await;
    let (mut alice, mut bob, game) = invited(&server).await;
    let mut carol = connected(&server, "carol").await;
    ok(carol.command("JoinGame", json!({ "gameId": game })).await);
    let refused = carol.wait_for("GameErrorOccurred").await;
    assert_eq!(
        refused,
        json!({ "gameId": game, "playerId": carol.user, "reason": "NOT_INVITED" })
    );
    // The seat is still Bob's.
    ok(bob.command("JoinGame", json!({ "gameId": game })).await);
    let players = json!([alice.user, bob.user]);
    for player in [&mut alice, &mut bob] {
        let started = player.wait_for("GameStarted").await;
        assert_eq!(started["players"], players);
    }
}

#[tokio::test]
async fn users_online_are_announced_to_everyone() {
    let server = TestServer::start(&["--presence-grace-ms", "50"]).await;
    let (mut alice, mut bob) = (server.client(), server.client());
    alice.sign_up("alice").await;
    alice.connect().await;
    assert_eq!(
        alice.wait_for("UsersOnlineUpdated").await["users"],
        json!([{ "userId": alice.user, "alias": "alice" }])
    );
    bob.sign_up("bob").await;
    bob.connect().await;
    let online = alice.wait_for("UsersOnlineUpdated").await;
    assert_eq!(online["users"].as_array().map(Vec::len), Some(2));
    bob.socket.take();
    let online = alice.wait_for("UsersOnlineUpdated").await;
    assert_eq!(
        online["users"],
        json!([{ "userId": alice.user, "alias": "alice" }])
    );
    let (_, answer) = alice.query("GetUsersOnline", json!({})).await;
    assert_eq!(answer, online["users"]);
}

#[tokio::test]
async fn a_reconnecting_player_resumes_what_it_missed() {
    let server = TestServer::start(&[]).await;
    let (mut alice, mut bob, _carol, game) = started(&server).await;
    let seen = bob
        .seen
        .iter()
        .filter_map(|f| f["payload"]["version"].as_u64())
        .max()
        .unwrap();
    bob.socket.take();
    ok(alice
        .command("PlaceMark", json!({ "gameId": game, "x": 1, "y": 1 }))
        .await);
    alice.wait_for("WaitingForPlayerPlay").await;
    bob.connect().await;
    bob.send_frame(json!({ "type": "Resume", "payload": { "gameId": game, "version": seen } }))
        .await;
    assert_eq!(bob.wait_for("MarkPlaced").await["version"], seen + 1);
    assert_eq!(bob.wait_for("BoardUpdated").await["version"], seen + 2);
    assert_eq!(
        bob.wait_for("WaitingForPlayerPlay").await["playerId"],
        json!(bob.user)
    );
    // Too far back: told to reload.
    bob.send_frame(
        json!({ "type": "Resume", "payload": { "gameId": Uuid::new_v4(), "version": 3 } }),
    )
    .await;
    assert!(bob.wait_for("ReloadGame").await["gameId"].is_string());
}

#[tokio::test]
async fn a_player_who_reconnects_within_the_grace_period_never_looks_offline() {
    let server = TestServer::start(&["--presence-grace-ms", "1000"]).await;
    let (mut alice, mut bob) = (server.client(), server.client());
    for (client, alias) in [(&mut alice, "alice"), (&mut bob, "bob")] {
        client.sign_up(alias).await;
        client.connect().await;
    }
    while alice.wait_for("UsersOnlineUpdated").await["users"]
        .as_array()
        .map(Vec::len)
        != Some(2)
    {}
    // Bob's page reloads: the old socket closes, a new one opens.
    let before = alice.seen.len();
    bob.socket.take();
    bob.connect().await;
    alice.drain(Duration::from_millis(1_500)).await;
    assert!(
        !alice.seen[before..]
            .iter()
            .any(|f| f["type"] == "UsersOnlineUpdated"
                && f["payload"]["users"].as_array().map(Vec::len) == Some(1))
    );
    let (_, online) = alice.query("GetUsersOnline", json!({})).await;
    assert_eq!(online.as_array().map(Vec::len), Some(2));
    // Gone for good: offline once the grace period is over.
    bob.socket.take();
    let online = alice.wait_for("UsersOnlineUpdated").await;
    assert_eq!(
        online["users"],
        json!([{ "userId": alice.user, "alias": "alice" }])
    );
}

#[tokio::test]
async fn inviting_a_user_who_does_not_exist_is_refused_to_the_inviter() {
    let server = TestServer::start(&[]).await;
    let mut alice = connected(&server, "alice").await;
    let game = Uuid::new_v4();
    ok(alice.command("CreateGame", json!({ "gameId": game })).await);
    ok(alice
        .command(
            "InviteUser",
            json!({ "invitedId": Uuid::new_v4(), "gameId": game }),
        )
        .await);
    let refused = alice.wait_for("GameErrorOccurred").await;
    assert_eq!(
        refused,
        json!({ "gameId": game, "playerId": alice.user, "reason": "USER_NOT_FOUND" })
    );
}

#[tokio::test]
async fn a_game_nobody_joins_lapses() {
    let server = TestServer::start(&["--turn-timeout-ms", "300"]).await;
    let mut alice = connected(&server, "alice").await;
    let game = Uuid::new_v4();
    ok(alice.command("CreateGame", json!({ "gameId": game })).await);
    ok(alice.command("JoinGame", json!({ "gameId": game })).await);
    let ended = alice.wait_for("GameEnded").await;
    assert_eq!(ended["result"], "GAME_ABORTED");
}

#[tokio::test]
async fn a_player_has_at_most_ten_games_waiting() {
    let server = TestServer::start(&[]).await;
    let mut alice = connected(&server, "alice").await;
    for _ in 0..10 {
        ok(alice
            .command("CreateGame", json!({ "gameId": Uuid::new_v4() }))
            .await);
        alice.wait_for("GameCreated").await;
    }
    let eleventh = Uuid::new_v4();
    ok(alice
        .command("CreateGame", json!({ "gameId": eleventh }))
        .await);
    let refused = alice.wait_for("GameErrorOccurred").await;
    assert_eq!(
        refused,
        json!({ "gameId": eleventh, "playerId": alice.user, "reason": "TOO_MANY_WAITING_GAMES" })
    );
    let ended = alice.wait_for("GameEnded").await;
    assert_eq!(ended["gameId"], json!(eleventh));
    assert_eq!(ended["result"], "GAME_ABORTED");
}

#[tokio::test]
async fn a_game_against_the_computer_is_played_to_its_end_and_scores_nothing() {
    // A short turn: the computer thinks a quarter of it at most.
    let server = TestServer::start(&["--turn-timeout-ms", "2000"]).await;
    let mut alice = connected(&server, "alice").await;
    let game = Uuid::new_v4();
    ok(alice
        .command("PlayComputer", json!({ "gameId": game, "level": "EASY" }))
        .await);
    let started = alice.wait_for("GameStarted").await;
    let computer = started["players"]
        .as_array()
        .unwrap()
        .iter()
        .find(|player| **player != json!(alice.user))
        .cloned()
        .expect("the computer plays");
    let (_, user) = alice.query("GetUser", json!({ "userId": computer })).await;
    assert_eq!(user["alias"], "Computer (easy)");

    let mut moves = 0;
    let ended = loop {
        let (_, view) = alice.query("GetGame", json!({ "gameId": game })).await;
        if view["stage"] == "ENDED" {
            break view;
        }
        if view["turn"] == json!(alice.user) {
            let empty = (0..9)
                .map(|cell| (cell % 3, cell / 3))
                .find(|(x, y)| view["board"][*y][*x].is_null())
                .expect("an empty cell");
            ok(alice
                .command(
                    "PlaceMark",
                    json!({ "gameId": game, "x": empty.0, "y": empty.1 }),
                )
                .await);
        }
        // Ours, or the computer's: a mark lands.
        alice.wait_for("BoardUpdated").await;
        moves += 1;
        assert!(moves <= 9, "{view}");
    };
    assert!(
        ended["result"] == "PLAYER_WON" || ended["result"] == "DRAW",
        "{ended}"
    );
    let computer_moves = game_frames(&alice, game)
        .iter()
        .filter(|f| f["type"] == "MarkPlaced" && f["payload"]["playerId"] == computer)
        .count();
    assert!(computer_moves >= 2, "the computer played");
    // No points against the computer, whoever won.
    let (_, top) = alice.query("GetTopThreePlayers", json!({})).await;
    assert_eq!(top, json!([]));
}

#[tokio::test]
async fn two_players_pressing_play_anyone_get_a_game_at_once() {
    let server = TestServer::start(&[]).await;
    let mut alice = connected(&server, "alice").await;
    let mut bob = connected(&server, "bob").await;
    ok(alice
        .command("QuickPlay", json!({ "gameId": Uuid::new_v4() }))
        .await);
    assert_eq!(
        alice.wait_for("QuickPlayQueued").await["playerId"],
        json!(alice.user)
    );
    // Cancel, and in again.
    ok(alice.command("CancelQuickPlay", json!({})).await);
    alice.wait_for("QuickPlayLeft").await;
    ok(alice
        .command("QuickPlay", json!({ "gameId": Uuid::new_v4() }))
        .await);
    alice.wait_for("QuickPlayQueued").await;

    ok(bob
        .command("QuickPlay", json!({ "gameId": Uuid::new_v4() }))
        .await);
    let started = alice.wait_for("GameStarted").await;
    assert_eq!(bob.wait_for("GameStarted").await, started);
    assert_eq!(started["players"], json!([alice.user, bob.user]));
    let game: Uuid = serde_json::from_value(started["gameId"].clone()).unwrap();
    for player in [&mut alice, &mut bob] {
        player.wait_for("WaitingForPlayerPlay").await;
    }
    alice_wins(&mut alice, &mut bob, game).await;
    assert_eq!(alice.wait_for("PlayerScoreChanged").await["score"], 100);
    // Bob never saw himself queued: he was paired at once.
    assert!(!bob.seen.iter().any(|f| f["type"] == "QuickPlayQueued"));
}

#[tokio::test]
async fn a_spectator_without_a_session_watches_a_game_and_sees_none_of_its_private_events() {
    let server = TestServer::start(&[]).await;
    let (mut alice, mut bob, _carol, game) = started(&server).await;
    // The lobby lists the game; anyone may ask.
    let mut spectator = server.client();
    let (status, live) = spectator.query("GetLiveGames", json!({ "page": 0 })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(live["total"], 1, "{live}");
    assert_eq!(live["games"][0]["gameId"], json!(game));
    assert_eq!(live["games"][0]["players"], json!([alice.user, bob.user]));

    spectator.connect().await;
    spectator
        .send_frame(json!({ "type": "Resume", "payload": { "gameId": game, "version": 0 } }))
        .await;
    spectator
        .send_frame(json!({ "type": "Watch", "payload": { "gameId": game } }))
        .await;
    for player in [&mut alice, &mut bob] {
        assert_eq!(player.wait_for("WatchersChanged").await["watching"], 1);
    }
    // A refusal is Bob's own; the moves are everyone's.
    let (status, _) = bob
        .command("PlaceMark", json!({ "gameId": game, "x": 0, "y": 0 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    bob.wait_for("GameErrorOccurred").await;
    alice_wins(&mut alice, &mut bob, game).await;
    assert_eq!(
        spectator.wait_for("GameEnded").await["result"],
        "PLAYER_WON"
    );
    spectator.drain(Duration::from_millis(100)).await;
    let versions: Vec<u64> = game_frames(&spectator, game)
        .iter()
        .filter_map(|f| f["payload"]["version"].as_u64())
        .collect();
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
    assert!(
        !spectator.seen.iter().any(|f| {
            f["type"] == "GameErrorOccurred"
                || f["type"] == "PlayerScoreChanged"
                || f["type"] == "UserInvited"
        }),
        "{:?}",
        spectator.seen
    );
}

#[tokio::test]
async fn a_spectator_who_leaves_is_counted_no_more() {
    let server = TestServer::start(&[]).await;
    let (mut alice, _bob, _carol, game) = started(&server).await;
    let mut spectator = server.client();
    spectator.connect().await;
    let watch = json!({ "type": "Watch", "payload": { "gameId": game } });
    spectator.send_frame(watch.clone()).await;
    // Twice from one socket counts once.
    spectator.send_frame(watch).await;
    assert_eq!(alice.wait_for("WatchersChanged").await["watching"], 1);
    let mut second = server.client();
    second.connect().await;
    second
        .send_frame(json!({ "type": "Watch", "payload": { "gameId": game } }))
        .await;
    assert_eq!(alice.wait_for("WatchersChanged").await["watching"], 2);
    second
        .send_frame(json!({ "type": "Unwatch", "payload": { "gameId": game } }))
        .await;
    assert_eq!(alice.wait_for("WatchersChanged").await["watching"], 1);
    spectator.socket = None;
    assert_eq!(alice.wait_for("WatchersChanged").await["watching"], 0);
    let (_, view) = alice.query("GetGame", json!({ "gameId": game })).await;
    assert_eq!(view["watching"], 0, "{view}");
}

/// Sends `command` on the socket as command `id`, written `type` first as
/// browsers write it (the server reads such a frame straight from its
/// text); its answer's payload.
async fn over_socket(client: &mut Client, id: u64, command: Value) -> Value {
    let fields: Vec<String> = ["type", "payload"]
        .into_iter()
        .filter_map(|key| Some(format!(r#""{key}":{}"#, command.get(key)?)))
        .collect();
    let command = format!("{{{}}}", fields.join(","));
    let frame = format!(r#"{{"type":"Command","payload":{{"id":{id},"command":{command}}}}}"#);
    client.send_text(frame).await;
    answer_to(client, id).await
}

/// The same, the frame written with its keys sorted (`payload` first),
/// which the server reads through a `Value`.
async fn over_socket_sorted(client: &mut Client, id: u64, command: Value) -> Value {
    client
        .send_frame(json!({ "type": "Command", "payload": { "id": id, "command": command } }))
        .await;
    answer_to(client, id).await
}

/// The answer to command `id`.
async fn answer_to(client: &mut Client, id: u64) -> Value {
    loop {
        let frame = client.next_frame().await;
        if (frame["type"] == "CommandAnswered" || frame["type"] == "CommandRefused")
            && frame["payload"]["id"] == id
        {
            return frame;
        }
    }
}

#[tokio::test]
async fn commands_sent_on_the_socket_play_a_game_with_the_same_rules_and_errors() {
    let server = TestServer::start(&[]).await;
    let (mut alice, mut bob, _carol, game) = started(&server).await;
    let mark = |x: u8, y: u8| json!({ "type": "PlaceMark", "payload": { "gameId": game, "x": x, "y": y } });

    let answered = over_socket(&mut alice, 1, mark(0, 0)).await;
    assert_eq!(
        answered,
        json!({ "type": "CommandAnswered", "payload": { "id": 1, "accepted": true } })
    );
    bob.wait_for("BoardUpdated").await;
    // The same refusals as over HTTP, each with its command's id, whichever
    // way the frame is written.
    let someone_else = json!({ "type": "PlaceMark", "payload": { "gameId": game, "playerId": alice.user, "x": 1, "y": 1 } });
    let sign_up =
        json!({ "type": "CreateUser", "payload": { "userId": Uuid::new_v4(), "alias": "x" } });
    let refusals = [
        (someone_else, "FORBIDDEN"),
        (json!({ "type": "Explode", "payload": {} }), "UNKNOWN_TYPE"),
        (sign_up, "UNKNOWN_TYPE"),
        (
            json!({ "type": "PlaceMark", "payload": { "gameId": game, "x": "one" } }),
            "INVALID_PAYLOAD",
        ),
        (
            json!({ "type": "PlaceMark", "payload": { "gameId": game, "x": 1, "y": 1, "z": 1 } }),
            "INVALID_PAYLOAD",
        ),
        (
            json!({ "type": "PlaceMark", "payload": [game, 1, 1] }),
            "MALFORMED_JSON",
        ),
        (json!({ "type": "PlaceMark" }), "INVALID_PAYLOAD"),
        (json!({ "payload": {} }), "MALFORMED_JSON"),
    ];
    for (n, (command, code)) in refusals.into_iter().enumerate() {
        let id = 10 + n as u64;
        for refused in [
            over_socket(&mut bob, id, command.clone()).await,
            over_socket_sorted(&mut bob, id, command.clone()).await,
        ] {
            assert_eq!(refused["type"], "CommandRefused", "{command}: {refused}");
            assert_eq!(refused["payload"]["id"], id);
            assert_eq!(
                refused["payload"]["error"]["code"], code,
                "{command}: {refused}"
            );
        }
    }
    // A rule refusal is accepted, and told as an event, as over HTTP.
    // (Alice names herself, as she may.)
    let named = json!({ "type": "PlaceMark", "payload": { "gameId": game, "playerId": alice.user, "x": 2, "y": 2 } });
    let out_of_turn = over_socket(&mut alice, 2, named).await;
    assert_eq!(out_of_turn["type"], "CommandAnswered");
    // (Its event came before the answer: the answer waits for the commit.)
    alice.drain(Duration::from_millis(100)).await;
    let told = |client: &Client, effect_type: &str| {
        client
            .seen
            .iter()
            .rev()
            .find(|frame| frame["type"] == effect_type)
            .map(|frame| frame["payload"].clone())
    };
    assert_eq!(
        told(&alice, "GameErrorOccurred").map(|e| e["reason"].clone()),
        Some(json!("PLAYER_CAN_NOT_PLAY"))
    );
    // The game goes on to its end over the socket.
    for (n, (x, y)) in [(0u8, 1u8), (1, 0), (1, 1), (2, 0)].into_iter().enumerate() {
        let player = if n % 2 == 0 { &mut bob } else { &mut alice };
        let answered = over_socket(player, 100 + n as u64, mark(x, y)).await;
        assert_eq!(answered["type"], "CommandAnswered", "{answered}");
    }
    alice.drain(Duration::from_millis(100)).await;
    assert_eq!(
        told(&alice, "GameEnded").map(|e| e["result"].clone()),
        Some(json!("PLAYER_WON"))
    );

    // Without a session, the socket takes no command.
    let mut stranger = server.client();
    stranger.connect().await;
    let refused = over_socket(&mut stranger, 1, mark(2, 2)).await;
    assert_eq!(refused["payload"]["error"]["code"], "NO_SESSION");
}
