//! Cost of a move on each store: `cargo bench -p server --bench moves`.
//! Plays whole games through the bus (create, two joins, five moves to a
//! win) with the real handlers, and counts moves per second. PostgreSQL is
//! measured too when `TEST_DATABASE_URL` names a role that may create a
//! database (as `./scripts/postgres.sh` prints): the bench makes a
//! throwaway one.

use std::sync::Arc;

use bus::{Bus, BusBuilder, MemoryStore, Runtime, Store};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use domain::{CreateGame, GameId, JoinGame, PlaceMark, Rules, UserId};
use server::storage::{PostgresStore, SqliteStore};
use sqlx::Connection;
use uuid::Uuid;

/// Games per batch; each has five moves.
const GAMES: u64 = 200;
const WIN: [(i64, i64); 5] = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)];

fn bus(rt: &tokio::runtime::Runtime, store: Arc<dyn Store>) -> Bus {
    let mut handlers = BusBuilder::new();
    domain::register(&mut handlers, Rules::default());
    rt.block_on(Bus::start(
        handlers.build().expect("build"),
        Runtime::new().store(store),
    ))
    .expect("start")
}

fn play_batch(rt: &tokio::runtime::Runtime, bus: &Bus) {
    rt.block_on(async {
        let (x, o): (UserId, UserId) = (Uuid::new_v4().into(), Uuid::new_v4().into());
        for _ in 0..GAMES {
            let game_id: GameId = Uuid::new_v4().into();
            bus.send(CreateGame {
                game_id,
                player_id: x,
            })
            .expect("send");
            bus.send(JoinGame {
                game_id,
                player_id: x,
            })
            .expect("send");
            bus.send(JoinGame {
                game_id,
                player_id: o,
            })
            .expect("send");
            for (i, (mx, my)) in WIN.into_iter().enumerate() {
                let player_id = if i % 2 == 0 { x } else { o };
                bus.send(PlaceMark {
                    game_id,
                    player_id,
                    x: mx,
                    y: my,
                })
                .expect("send");
            }
        }
        bus.settle().await;
    });
}

fn moves(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let data = tempfile::tempdir().expect("temporary folder");
    let sqlite: Arc<dyn Store> =
        Arc::new(rt.block_on(SqliteStore::open(data.path())).expect("sqlite"));
    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut stores = vec![("memory", memory), ("sqlite", sqlite)];
    let postgres = std::env::var("TEST_DATABASE_URL")
        .ok()
        .map(|admin| rt.block_on(ThrowawayDatabase::create(admin)));
    if let Some(database) = &postgres {
        let store = rt
            .block_on(PostgresStore::open(&database.url))
            .expect("postgres");
        stores.push(("postgres", Arc::new(store)));
    }

    let mut group = c.benchmark_group("moves");
    group.throughput(Throughput::Elements(GAMES * WIN.len() as u64));
    group.sample_size(10);
    for (name, store) in stores {
        let bus = bus(&rt, store);
        group.bench_function(name, |b| b.iter(|| play_batch(&rt, &bus)));
        rt.block_on(bus.shutdown());
    }
    group.finish();
    if let Some(database) = postgres {
        rt.block_on(database.drop_it());
    }
}

/// A database made for this run on the cluster `admin` points at.
struct ThrowawayDatabase {
    admin: String,
    name: String,
    url: String,
}

impl ThrowawayDatabase {
    async fn create(admin: String) -> Self {
        let name = format!("tictactoe_test_bench_{}", Uuid::new_v4().simple());
        let mut connection = sqlx::PgConnection::connect(&admin)
            .await
            .expect("TEST_DATABASE_URL answers");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut connection)
            .await
            .expect("create database");
        let (server, _) = admin.rsplit_once('/').expect("a URL ending in /database");
        let url = format!("{server}/{name}");
        Self { admin, name, url }
    }

    async fn drop_it(self) {
        if let Ok(mut connection) = sqlx::PgConnection::connect(&self.admin).await {
            let _ = sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
                .execute(&mut connection)
                .await;
        }
    }
}

criterion_group!(benches, moves);
criterion_main!(benches);
