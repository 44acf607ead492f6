//! Several server processes on one PostgreSQL database and one
//! nats-server: a cluster, as `scripts/cluster.sh` runs it.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Client, TestDatabase};
use crate::cuttable_link::CuttableLink;
use crate::nats_server::NatsServer;
use crate::operations::health_becomes;
use crate::process::{Data, Process, client};
use crate::protocol::{alice_wins, invite, ok, play};

/// A presence grace short enough that a dead node's users go offline
/// within a test's patience.
const GRACE_MS: &str = "1000";

/// Nodes on one database and one NATS.
struct Cluster {
    nats: NatsServer,
    data: Data,
    nodes: Vec<Process>,
    grace_ms: &'static str,
}

impl Cluster {
    async fn start(nodes: usize, turn_timeout_ms: u64) -> Self {
        Self::start_on(Data::postgres().await, nodes, turn_timeout_ms, GRACE_MS).await
    }

    /// `nodes` nodes on `data`, with a presence grace of `grace_ms`.
    async fn start_on(
        data: Data,
        nodes: usize,
        turn_timeout_ms: u64,
        grace_ms: &'static str,
    ) -> Self {
        let nats = NatsServer::start().await;
        let mut cluster = Self {
            nats,
            data,
            nodes: Vec::new(),
            grace_ms,
        };
        for _ in 0..nodes {
            let node = cluster.node(turn_timeout_ms).await;
            cluster.nodes.push(node);
        }
        cluster
    }

    async fn node(&self, turn_timeout_ms: u64) -> Process {
        let url = self.nats.url();
        let flags = ["--nats-url", &url, "--presence-grace-ms", self.grace_ms];
        Process::start_with(&self.data, turn_timeout_ms, &flags).await
    }

    async fn stop(self) {
        drop(self.nodes);
        self.data.forget().await;
    }
}

/// A signed-up user with a socket on `node`.
async fn player(node: &Process, alias: &str) -> Client {
    let mut player = client(node);
    player.sign_up(alias).await;
    player.connect().await;
    player
}

/// Waits until an event of `effect_type` satisfies `wanted`.
async fn wait_until(
    client: &mut Client,
    effect_type: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    loop {
        let payload = client.wait_for(effect_type).await;
        if wanted(&payload) {
            return payload;
        }
    }
}

/// Alice makes a game and invites Bob, who joins: X is Alice's.
async fn start_game(alice: &mut Client, bob: &mut Client) -> Uuid {
    let game = invite(alice, bob).await;
    ok(bob.command("JoinGame", json!({ "gameId": game })).await);
    for player in [&mut *alice, &mut *bob] {
        player.wait_for("GameStarted").await;
        player.wait_for("WaitingForPlayerPlay").await;
    }
    game
}

/// The versions of the game events a client saw, in order.
fn versions(client: &Client, game: Uuid) -> Vec<u64> {
    client
        .seen
        .iter()
        .filter(|frame| frame["payload"]["gameId"] == json!(game))
        .filter_map(|frame| frame["payload"]["version"].as_u64())
        .collect()
}

fn without_gaps_or_repeats(versions: &[u64]) -> bool {
    versions.windows(2).all(|pair| pair[1] == pair[0] + 1)
}

#[tokio::test]
async fn players_on_two_nodes_play_a_game_and_a_third_node_sees_the_lobby() {
    let cluster = Cluster::start(3, 20_000).await;
    let [first, second, third] = &cluster.nodes[..] else {
        unreachable!()
    };
    let mut alice = player(first, "alice").await;
    let mut bob = player(second, "bob").await;
    let mut carol = player(third, "carol").await;
    // Each counted once, wherever their socket is.
    let online = wait_until(&mut carol, "UsersOnlineUpdated", |online| {
        online["total"] == 3
    })
    .await;
    assert_eq!(online["users"].as_array().unwrap().len(), 3);

    let game = start_game(&mut alice, &mut bob).await;
    alice_wins(&mut alice, &mut bob, game).await;
    for player in [&mut alice, &mut bob] {
        assert!(
            without_gaps_or_repeats(&versions(player, game)),
            "{:?}",
            versions(player, game)
        );
    }
    let top = wait_until(&mut carol, "TopThreeListUpdated", |top| {
        top["current"]
            .as_array()
            .is_some_and(|current| !current.is_empty())
    })
    .await;
    assert_eq!(
        top["current"],
        json!([{ "userId": alice.user, "alias": "alice", "score": 100 }])
    );
    // The score is right, once, whichever node answers.
    for node in &cluster.nodes {
        let (status, answer) = client(node).query("GetTopThreePlayers", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            answer,
            json!([{ "userId": alice.user, "alias": "alice", "score": 100 }])
        );
    }
    cluster.stop().await;
}

#[tokio::test]
async fn a_player_whose_node_is_killed_resumes_on_another_and_finishes() {
    let cluster = Cluster::start(3, 20_000).await;
    let mut alice = player(&cluster.nodes[0], "alice").await;
    let mut bob = player(&cluster.nodes[1], "bob").await;
    let _carol = player(&cluster.nodes[1], "carol").await;
    let game = start_game(&mut alice, &mut bob).await;
    play(&mut alice, &mut bob, game, &[(0, 0), (0, 1), (1, 0)]).await;
    let waiting = bob.wait_for("WaitingForPlayerPlay").await;
    assert_eq!(waiting["playerId"], json!(bob.user));
    let seen = waiting["version"].as_u64().unwrap();

    let mut cluster = cluster;
    cluster.nodes.remove(1).kill_9();
    // Bob's browser reconnects through the load balancer to another node.
    let third = &cluster.nodes[1];
    third.adopt(&mut bob);
    bob.connect().await;
    bob.send_frame(json!({ "type": "Resume", "payload": { "gameId": game, "version": seen } }))
        .await;
    ok(bob
        .command("PlaceMark", json!({ "gameId": game, "x": 1, "y": 1 }))
        .await);
    for player in [&mut alice, &mut bob] {
        let board = player.wait_for("BoardUpdated").await;
        assert_eq!(board["board"][1][1], "O");
    }
    alice.wait_for("WaitingForPlayerPlay").await;
    ok(alice
        .command("PlaceMark", json!({ "gameId": game, "x": 2, "y": 0 }))
        .await);
    let winner = json!(alice.user);
    for player in [&mut alice, &mut bob] {
        let ended = player.wait_for("GameEnded").await;
        assert_eq!(ended["winner"], winner);
        let seen = versions(player, game);
        assert!(without_gaps_or_repeats(&seen), "{seen:?}");
    }
    // Carol, on the dead node too, never came back: she goes offline after
    // the grace period. Bob, whose socket moved, stays online, once.
    let survivor = client(&cluster.nodes[0]);
    let mut online = Value::Null;
    for _ in 0..100 {
        online = survivor.query("GetUsersOnline", json!({})).await.1;
        if online.as_array().map(Vec::len) == Some(2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut users: Vec<&str> = online
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|user| user["alias"].as_str())
        .collect();
    users.sort_unstable();
    assert_eq!(users, ["alice", "bob"]);
    for node in &cluster.nodes {
        let (_, top) = client(node).query("GetTopThreePlayers", json!({})).await;
        assert_eq!(
            top,
            json!([{ "userId": alice.user, "alias": "alice", "score": 100 }])
        );
    }
    cluster.stop().await;
}

#[tokio::test]
async fn the_turn_timer_of_a_killed_node_fires_once_on_another_on_time() {
    const TURN_MS: u64 = 1_500;
    let mut cluster = Cluster::start(3, TURN_MS).await;
    let mut alice = player(&cluster.nodes[0], "alice").await;
    let mut bob = player(&cluster.nodes[1], "bob").await;
    // Alice makes the game through the third node, which sets the game's
    // one timer: the invitation, the start and a move leave it in place
    // (it waits on for the deadline then when it comes).
    let mut through_third = alice.clone_session();
    cluster.nodes[2].adopt(&mut through_third);
    let game = invite(&through_third, &mut bob).await;
    ok(bob.command("JoinGame", json!({ "gameId": game })).await);
    for player in [&mut alice, &mut bob] {
        player.wait_for("WaitingForPlayerPlay").await;
    }
    ok(alice
        .command("PlaceMark", json!({ "gameId": game, "x": 0, "y": 0 }))
        .await);
    let waiting = bob.wait_for("WaitingForPlayerPlay").await;
    let deadline = waiting["deadline"].as_u64().unwrap();
    cluster.nodes.remove(2).kill_9();

    for player in [&mut alice, &mut bob] {
        let timeout = player.wait_for("TurnTimeout").await;
        assert_eq!(timeout["gameId"], json!(game));
        let ended = player.wait_for("GameEnded").await;
        assert_eq!(ended["result"], "GAME_ABORTED", "{ended}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(now >= deadline, "not before the deadline");
    assert!(
        now < deadline + 1_000,
        "on time: {} ms after the deadline",
        now - deadline
    );
    // Once: nothing more comes, and no version repeats.
    for player in [&mut alice, &mut bob] {
        player.drain(std::time::Duration::from_millis(500)).await;
        let timeouts = player
            .seen
            .iter()
            .filter(|frame| frame["type"] == "TurnTimeout")
            .count();
        assert_eq!(timeouts, 1);
        let seen = versions(player, game);
        assert!(without_gaps_or_repeats(&seen), "{seen:?}");
    }
    cluster.stop().await;
}

#[tokio::test]
async fn the_same_move_sent_to_two_nodes_at_once_is_applied_once() {
    let cluster = Cluster::start(2, 20_000).await;
    let mut alice = player(&cluster.nodes[0], "alice").await;
    let mut bob = player(&cluster.nodes[1], "bob").await;
    let game = start_game(&mut alice, &mut bob).await;
    // Two tabs of Alice's, each through another node, each its own cell.
    let mut other_tab = alice.clone_session();
    cluster.nodes[1].adopt(&mut other_tab);
    let (one, two) = tokio::join!(
        alice.command("PlaceMark", json!({ "gameId": game, "x": 0, "y": 0 })),
        other_tab.command("PlaceMark", json!({ "gameId": game, "x": 2, "y": 2 })),
    );
    ok(one);
    ok(two);
    let refused = alice.wait_for("GameErrorOccurred").await;
    assert_eq!(refused["reason"], "PLAYER_CAN_NOT_PLAY", "{refused}");
    bob.wait_for("WaitingForPlayerPlay").await;
    bob.drain(std::time::Duration::from_millis(300)).await;
    let marks: Vec<&Value> = bob
        .seen
        .iter()
        .filter(|frame| frame["type"] == "MarkPlaced")
        .collect();
    assert_eq!(marks.len(), 1, "exactly one of the two: {marks:?}");
    let (_, view) = bob.query("GetGame", json!({ "gameId": game })).await;
    let crosses = view["board"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .filter(|cell| **cell == "X")
        .count();
    assert_eq!(crosses, 1, "{view}");
    cluster.stop().await;
}

#[tokio::test]
async fn with_nats_down_commands_get_503_and_the_game_finishes_after() {
    let mut cluster = Cluster::start(2, 20_000).await;
    let mut alice = player(&cluster.nodes[0], "alice").await;
    let mut bob = player(&cluster.nodes[1], "bob").await;
    let game = start_game(&mut alice, &mut bob).await;
    play(&mut alice, &mut bob, game, &[(0, 0), (0, 1)]).await;
    alice.wait_for("WaitingForPlayerPlay").await;

    cluster.nats.kill();
    for node in &cluster.nodes {
        let (status, _) = health_becomes(node.port, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    // Neither node takes a command it could not tell the other about.
    for node in &cluster.nodes {
        let mut through = alice.clone_session();
        node.adopt(&mut through);
        let (status, refused) = through
            .command("PlaceMark", json!({ "gameId": game, "x": 1, "y": 0 }))
            .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
        assert_eq!(refused["error"]["code"], "UNAVAILABLE", "{refused}");
    }

    cluster.nats.restart().await;
    // Both nodes reconnect by themselves; the sockets stayed open, and are
    // told to catch up on what they may have missed.
    for node in &cluster.nodes {
        let (status, _) = health_becomes(node.port, StatusCode::OK).await;
        assert_eq!(status, StatusCode::OK);
    }
    for player in [&mut alice, &mut bob] {
        assert_eq!(player.wait_for("ReloadGame").await["gameId"], json!(game));
        let online = player.wait_for("UsersOnlineUpdated").await;
        assert_eq!(online["total"], 2);
    }
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..200 {
        let (answer, _) = alice
            .command("PlaceMark", json!({ "gameId": game, "x": 1, "y": 0 }))
            .await;
        status = answer;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, StatusCode::OK);
    for player in [&mut alice, &mut bob] {
        let board = wait_until(player, "BoardUpdated", |board| board["board"][0][1] == "X").await;
        assert_eq!(board["board"][0][0], "X");
    }
    for (mover, x, y) in [(&mut bob, 1, 1), (&mut alice, 2, 0)] {
        let me = json!(mover.user);
        wait_until(mover, "WaitingForPlayerPlay", |turn| turn["playerId"] == me).await;
        ok(mover
            .command("PlaceMark", json!({ "gameId": game, "x": x, "y": y }))
            .await);
    }
    for player in [&mut alice, &mut bob] {
        assert_eq!(player.wait_for("GameEnded").await["result"], "PLAYER_WON");
    }
    cluster.stop().await;
}

#[tokio::test]
async fn a_move_answered_200_survives_its_node_killed_right_after() {
    let mut cluster = Cluster::start(2, 20_000).await;
    let mut alice = player(&cluster.nodes[0], "alice").await;
    let mut bob = player(&cluster.nodes[0], "bob").await;
    let game = start_game(&mut alice, &mut bob).await;
    let mut through_second = alice.clone_session();
    cluster.nodes[1].adopt(&mut through_second);
    ok(through_second
        .command("PlaceMark", json!({ "gameId": game, "x": 1, "y": 1 }))
        .await);
    // Killed the moment it answered: the 200 meant applied, not queued.
    cluster.nodes.remove(1).kill_9();
    let (_, view) = bob.query("GetGame", json!({ "gameId": game })).await;
    assert_eq!(view["board"][1][1], "X", "{view}");
    cluster.stop().await;
}

#[tokio::test]
async fn a_node_the_cluster_judged_dead_stops_rather_than_work_twice() {
    let mut cluster = Cluster::start(1, 20_000).await;
    let Data::Postgres(database) = &cluster.data else {
        unreachable!()
    };
    // As a surviving node does once this one has been silent too long.
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    sqlx::query("DELETE FROM nodes")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let node = &mut cluster.nodes[0].child;
    let mut exited = None;
    for _ in 0..100 {
        exited = node.try_wait().unwrap();
        if exited.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let status = exited.expect("the node stops within a few beats");
    assert!(!status.success(), "{status}");
    cluster.stop().await;
}

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

#[tokio::test]
async fn after_a_database_outage_the_online_list_counts_who_came_and_went_meanwhile() {
    let database = TestDatabase::create().await;
    let link = CuttableLink::to(database.server_addr()).await;
    let url = database.url_through(link.addr);
    // A short grace: a socket closed during the outage is withdrawn (and
    // that fails) well before the database is back.
    let mut cluster = Cluster::start_on(Data::PostgresAt(database, url), 2, 20_000, "300").await;
    let mut alice = player(&cluster.nodes[0], "alice").await;
    let mut dave = player(&cluster.nodes[1], "dave").await;
    let mut carol = client(&cluster.nodes[1]);
    carol.sign_up("carol").await;
    wait_until(&mut alice, "UsersOnlineUpdated", |online| {
        online["total"] == 2
    })
    .await;

    link.cut();
    for node in &cluster.nodes {
        let (status, _) = health_becomes(node.port, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    // Meanwhile Dave leaves and Carol arrives: neither can be recorded.
    dave.socket = None;
    carol.connect_while_the_store_is_away().await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    link.restore();
    for node in &cluster.nodes {
        let (status, _) = health_becomes(node.port, StatusCode::OK).await;
        assert_eq!(status, StatusCode::OK);
    }

    // Listed by user id: sorted by name here.
    let names = |online: &Value| -> Vec<String> {
        let mut names: Vec<String> = online["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|user| user["alias"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let wanted = |online: &Value| online["total"] == 2 && names(online) != ["alice", "dave"];
    let seen_by_alice = wait_until(&mut alice, "UsersOnlineUpdated", wanted).await;
    let seen_by_carol = wait_until(&mut carol, "UsersOnlineUpdated", wanted).await;
    for online in [seen_by_alice, seen_by_carol] {
        assert_eq!(names(&online), ["alice", "carol"], "{online}");
    }
    // And so the store says, whichever node answers.
    for node in &cluster.nodes {
        let (status, online) = client(node).query("GetUsersOnline", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(online.as_array().map(Vec::len), Some(2), "{online}");
    }
    cluster.nodes.clear();
    cluster.stop().await;
}
