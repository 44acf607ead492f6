//! Bus benchmarks: `cargo bench -p bus`. Results are in the crate README.

use std::hint::black_box;
use std::sync::Arc;

use bus::{
    Bus, BusBuilder, Change, Ctx, Envelope, MemoryStore, Outcome, Runtime, Store, by_id, managed,
};
use bus::{Commit, ScheduleOp, Scheduled, StoredEffect};
use bus::{Timer, TimerIndex};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Add {
    id: u32,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Added {
    id: u32,
    total: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Get {
    id: u32,
}
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Counter(u64);
bus::commands!(Add);
bus::events!(Added);
bus::queries!(Get => u64);
bus::states!(Counter);

fn add(counter: Option<Counter>, add: &Add, _: &Ctx) -> Outcome<Counter> {
    let total = counter.unwrap_or_default().0 + 1;
    Outcome::set(Counter(total)).emit(Added { id: add.id, total })
}

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn bus(rt: &tokio::runtime::Runtime) -> Bus {
    let mut builder = BusBuilder::new();
    builder
        .command(managed(by_id(|c: &Add| c.id), add))
        .query(bus::answer(
            by_id(|q: &Get| q.id),
            |c: Option<&Counter>, _: &Get| c.map_or(0, |c| c.0),
        ));
    rt.block_on(Bus::start(builder.build().expect("build"), Runtime::new()))
        .expect("start")
}

/// Commands per batch; each makes two effects (the command and its event).
const BATCH: u32 = 20_000;

fn throughput(c: &mut Criterion) {
    let rt = tokio();
    let bus = bus(&rt);
    let mut group = c.benchmark_group("command->handler->event");
    group.throughput(Throughput::Elements(u64::from(BATCH) * 2));
    group.sample_size(20);
    for (name, keys) in [("one key", 1), ("10,000 keys", 10_000)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    for i in 0..BATCH {
                        bus.send(Add { id: i % keys }).expect("send");
                    }
                    bus.settle().await;
                });
            });
        });
    }
    group.finish();
}

fn query_latency(c: &mut Criterion) {
    let rt = tokio();
    let bus = bus(&rt);
    rt.block_on(async {
        for id in 0..10_000 {
            bus.send(Add { id }).expect("send");
        }
        bus.settle().await;
    });
    let mut id = 0;
    c.bench_function("query one state of 10,000", |b| {
        b.iter(|| {
            id = (id + 7919) % 10_000;
            black_box(rt.block_on(bus.query(Get { id })).expect("answer"))
        });
    });
}

fn timer(id: u128, key: String, due_at_ms: u64) -> Timer {
    Timer {
        id,
        key,
        due_at_ms,
        updates_every_ms: None,
        event: Envelope::new(Added { id: 0, total: 0 }),
    }
}

fn scheduling(c: &mut Criterion) {
    const PENDING: u64 = 100_000;
    let mut group = c.benchmark_group("timers with 100,000 pending");

    // The timer index alone: the in-memory part of every schedule and cancel.
    let mut index = TimerIndex::new();
    for i in 0..PENDING {
        index.add(
            timer(u128::from(i), format!("game-{i}"), 1_000 + i * 7 % 20_000),
            0,
        );
    }
    let mut n = 0u64;
    group.bench_function("index: schedule then cancel", |b| {
        b.iter_batched(
            || {
                n += 1;
                (n, format!("extra-{n}"))
            },
            |(n, key)| {
                index.add(
                    timer(u128::from(n) << 64, key.clone(), 10_000 + n % 20_000),
                    0,
                );
                black_box(index.cancel(&key));
            },
            BatchSize::SmallInput,
        );
    });

    // The store's side: the same two changes written to the memory store.
    let store = MemoryStore::new();
    let rt = tokio();
    let commit = |schedules| Commit {
        schedules,
        ..Commit::state(None, None, Change::Keep)
    };
    rt.block_on(async {
        for i in 0..PENDING {
            let add = ScheduleOp::Add(Scheduled {
                id: u128::from(i),
                key: format!("game-{i}"),
                due_at_ms: 1_000 + i,
                updates_every_ms: None,
                event: StoredEffect::Live(Envelope::new(Added { id: 0, total: 0 })),
            });
            store.commit(commit(vec![add])).await.expect("commit");
        }
    });
    let store = Arc::new(store);
    group.bench_function("store: schedule then cancel", |b| {
        b.iter_batched(
            || {
                n += 1;
                (n, format!("extra-{n}"))
            },
            |(n, key)| {
                let add = ScheduleOp::Add(Scheduled {
                    id: u128::from(n) << 64,
                    key: key.clone(),
                    due_at_ms: 10_000,
                    updates_every_ms: None,
                    event: StoredEffect::Live(Envelope::new(Added { id: 0, total: 0 })),
                });
                let store = store.clone();
                futures_lite_block_on(async move {
                    store.commit(commit(vec![add])).await.expect("commit");
                    store
                        .commit(commit(vec![ScheduleOp::Cancel { key }]))
                        .await
                        .expect("commit");
                });
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// The memory store's futures are ready at once: poll them once, no runtime.
fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

criterion_group!(benches, throughput, query_latency, scheduling);
criterion_main!(benches);
