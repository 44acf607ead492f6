//! One move's whole server path, as a command on the socket takes it:
//! `cargo bench -p server --bench move_path`. From the command's JSON to the
//! opponent's frames: decoding, the acting user's checks, the bus, the
//! SQLite commit, the hub routing the events into both players' socket
//! queues, and the store's barrier each socket passes before it writes
//! (where the commit's journal line is written). (The WebSocket's own
//! reading and writing are left out: the load generator measures them
//! with the rest, over the network.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::api::endpoints::{ApiContext, always_ready, send_command_as};
use app::api::sessions::Sessions;
use clap::Parser;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use domain::{Alias, CreateUser, UserId};
use serde_json::json;
use server::event_routing::Hub;
use server::queue::Receiver;
use server::storage::{Barrier, SqliteStore};
use uuid::Uuid;

/// X wins along the top row.
const WIN: [(u8, u8); 5] = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)];

struct Table {
    api: ApiContext,
    players: [(UserId, Receiver); 2],
    /// `BoardUpdated` frames each player's queue has had so far.
    boards: [usize; 2],
    /// What a socket passes before it writes its frames.
    barrier: Barrier,
}

impl Table {
    /// A command as `player`; panics unless it is applied.
    async fn act(&self, player: UserId, command: serde_json::Value) {
        send_command_as(&self.api, player, command)
            .await
            .expect("applied");
    }

    /// Waits until player `index`'s queue has had `total` `BoardUpdated`
    /// frames.
    async fn boards(&mut self, index: usize, total: usize) {
        while self.boards[index] < total {
            let frames = self.players[index].1.recv_all().await.expect("open");
            self.barrier.pass().expect("written");
            self.boards[index] += frames
                .iter()
                .filter(|frame| frame.as_str().contains("\"BoardUpdated\""))
                .count();
        }
    }

    /// Sets a game up (untimed), then plays it to a win; the time its five
    /// moves took, each until the opponent's queue has the new board.
    async fn game(&mut self) -> Duration {
        let game = Uuid::new_v4();
        let [x, o] = [self.players[0].0, self.players[1].0];
        self.act(
            x,
            json!({ "type": "CreateGame", "payload": { "gameId": game } }),
        )
        .await;
        self.act(
            x,
            json!({ "type": "JoinGame", "payload": { "gameId": game } }),
        )
        .await;
        self.act(
            o,
            json!({ "type": "JoinGame", "payload": { "gameId": game } }),
        )
        .await;
        let before = self.boards;
        let mut took = Duration::ZERO;
        for (i, (mx, my)) in WIN.into_iter().enumerate() {
            let (mover, opponent) = if i % 2 == 0 { (x, 1) } else { (o, 0) };
            let mark =
                json!({ "type": "PlaceMark", "payload": { "gameId": game, "x": mx, "y": my } });
            let started = Instant::now();
            self.act(mover, mark).await;
            self.boards(opponent, before[opponent] + i + 1).await;
            took += started.elapsed();
        }
        // Both queues have every board of the game before the next one.
        self.boards(0, before[0] + WIN.len()).await;
        self.boards(1, before[1] + WIN.len()).await;
        took
    }
}

fn move_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let data = tempfile::tempdir().expect("temporary folder");
    let mut table = rt.block_on(async {
        let config = server::Config::try_parse_from(["server"]).expect("defaults");
        let store = Arc::new(SqliteStore::open(data.path()).await.expect("sqlite"));
        let barrier = store.barrier();
        let hub = Arc::new(Hub::new(4096, Duration::from_millis(100)));
        let bus = server::start_bus(&config, store, hub.clone())
            .await
            .expect("bus");
        let api = ApiContext {
            bus: bus.clone(),
            sessions: Sessions::default(),
            service_token: None,
            https: false,
            ready: always_ready(),
        };
        let mut players = Vec::new();
        for name in ["alice", "bob"] {
            let user_id: UserId = Uuid::new_v4().into();
            let alias = Alias::parse(name).expect("alias");
            bus.send_committed(bus::Envelope::new(CreateUser { user_id, alias }))
                .await
                .expect("user");
            let (_, frames) = hub.connect(Some(user_id));
            players.push((user_id, frames));
        }
        let [alice, bob]: [(UserId, Receiver); 2] =
            players.try_into().unwrap_or_else(|_| unreachable!());
        Table {
            api,
            players: [alice, bob],
            boards: [0, 0],
            barrier,
        }
    });

    let mut group = c.benchmark_group("move_path");
    group.throughput(Throughput::Elements(WIN.len() as u64));
    group.bench_function("sqlite", |b| {
        b.iter_custom(|games| {
            rt.block_on(async {
                let mut took = Duration::ZERO;
                for _ in 0..games {
                    took += table.game().await;
                }
                took
            })
        })
    });
    group.finish();
}

criterion_group!(benches, move_path);
criterion_main!(benches);
