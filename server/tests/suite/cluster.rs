//! Several server processes on one PostgreSQL database and one
//! nats-server: a cluster, as `scripts/cluster.sh` runs it.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::Client;
use crate::nats_server::NatsServer;
use crate::process::{Data, Process, client};
use crate::protocol::{ok, play};

/// A presence grace short enough that a dead node's users go offline
/// within a test's patience.
const GRACE_MS: &str = "1000";

/// Nodes on one database and one NATS.
struct Cluster {
    nats: NatsServer,
    data: Data,
    nodes: Vec<Process>,
}

impl Cluster {
    async fn start(nodes: usize, turn_timeout_ms: u64) -> Self {
        let nats = NatsServer::start().await;
        let data = Data::postgres().await;
        let mut cluster = Self {
            nats,
            data,
            nodes: Vec::new(),
        };
        for _ in 0..nodes {
            let node = cluster.node(turn_timeout_ms).await;
            cluster.nodes.push(node);
        }
        cluster
    }

    async fn node(&self, turn_timeout_ms: u64) -> Process {
        let url = self.nats.url();
        let flags = ["--nats-url", &url, "--presence-grace-ms", GRACE_MS];
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
    let game = Uuid::new_v4();
    ok(alice.command("CreateGame", json!({ "gameId": game })).await);
    ok(alice.command("JoinGame", json!({ "gameId": game })).await);
    ok(alice
        .command(
            "InviteUser",
            json!({ "invitedId": bob.user, "gameId": game }),
        )
        .await);
    bob.wait_for("UserInvited").await;
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
    play(
        &mut alice,
        &mut bob,
        game,
        &[(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)],
    )
    .await;
    let winner = json!(alice.user);
    for player in [&mut alice, &mut bob] {
        let ended = player.wait_for("GameEnded").await;
        assert_eq!(ended["winner"], winner);
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
