//! The bus's promises, one test each: registration, routing, ordering,
//! parallelism, failures, state changes, schedules and hooks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bus::testkit::{Expect, TestKit, any};
use bus::{
    BuildError, Bus, BusBuilder, BusError, BusHandlerFailed, CaptureHook, Ctx, FakeClock,
    MemoryStore, MetricsHook, Outcome, Runtime, ScheduleEvent, ScheduledEventUpdate, by_id, key,
    managed, over_all, singleton, stateless,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Append {
    list: u32,
    item: u64,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Appended {
    list: u32,
    len: usize,
}
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct List {
    items: Vec<u64>,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GetList {
    list: u32,
}
bus::commands!(Append);
bus::events!(Appended);
bus::queries!(GetList => Vec<u64>);
bus::states!(List);

fn append(list: Option<List>, cmd: &Append, _: &Ctx) -> Outcome<List> {
    let mut list = list.unwrap_or_default();
    list.items.push(cmd.item);
    let len = list.items.len();
    Outcome::set(list).emit(Appended {
        list: cmd.list,
        len,
    })
}

fn lists(bus: &mut BusBuilder) {
    bus.command(managed(by_id(|c: &Append| c.list), append))
        .query(bus::answer(
            by_id(|q: &GetList| q.list),
            |list: Option<&List>, _: &GetList| list.map(|l| l.items.clone()).unwrap_or_default(),
        ));
}

async fn start(register: impl FnOnce(&mut BusBuilder), runtime: Runtime) -> Bus {
    let mut builder = BusBuilder::new();
    register(&mut builder);
    Bus::start(builder.build().expect("handlers build"), runtime)
        .await
        .expect("bus starts")
}

#[test]
fn a_second_command_handler_is_refused_at_start_up() {
    let mut builder = BusBuilder::new();
    lists(&mut builder);
    builder.command(managed(by_id(|c: &Append| c.list), append));
    assert!(matches!(
        builder.build(),
        Err(BuildError::DuplicateCommandHandler {
            effect: "Append",
            ..
        })
    ));
}

#[test]
fn a_second_query_handler_is_refused_at_start_up() {
    let mut builder = BusBuilder::new();
    lists(&mut builder);
    builder.query(bus::answer(
        by_id(|q: &GetList| q.list),
        |_: Option<&List>, _: &GetList| Vec::new(),
    ));
    assert!(matches!(
        builder.build(),
        Err(BuildError::DuplicateQueryHandler {
            effect: "GetList",
            ..
        })
    ));
}

#[tokio::test]
async fn a_command_or_query_without_handler_is_an_error_to_the_caller() {
    let bus = start(|_| {}, Runtime::new()).await;
    assert!(matches!(
        bus.send(Append { list: 1, item: 1 }),
        Err(BusError::NoHandler("Append"))
    ));
    assert!(matches!(
        bus.query(GetList { list: 1 }).await,
        Err(BusError::NoHandler("GetList"))
    ));
    // An event with no subscribers is fine.
    assert!(matches!(bus.publish(Appended { list: 1, len: 1 }), Ok(())));
}

#[tokio::test]
async fn events_reach_every_subscriber() {
    let seen = Arc::new(AtomicUsize::new(0));
    let (one, two) = (seen.clone(), seen.clone());
    let bus = start(
        |bus| {
            bus.event(stateless(move |_: &Appended, _: &Ctx| {
                one.fetch_add(1, Ordering::SeqCst);
                Outcome::nothing()
            }))
            .event(stateless(move |_: &Appended, _: &Ctx| {
                two.fetch_add(10, Ordering::SeqCst);
                Outcome::nothing()
            }));
        },
        Runtime::new(),
    )
    .await;
    bus.publish(Appended { list: 1, len: 1 }).unwrap();
    bus.settle().await;
    assert_eq!(seen.load(Ordering::SeqCst), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_is_handled_in_the_order_commands_were_accepted() {
    let bus = start(lists, Runtime::new().lanes(8)).await;
    let next = Arc::new(std::sync::Mutex::new(0u64));
    let mut senders = Vec::new();
    for _ in 0..8 {
        let (bus, next) = (bus.clone(), next.clone());
        senders.push(tokio::spawn(async move {
            for _ in 0..250 {
                // Taking a number and sending under one lock makes the
                // acceptance order the numbering order.
                {
                    let mut number = next.lock().unwrap();
                    bus.send(Append {
                        list: 7,
                        item: *number,
                    })
                    .unwrap();
                    *number += 1;
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }
    bus.settle().await;
    let items = bus.query(GetList { list: 7 }).await.unwrap();
    assert_eq!(items, (0..2000).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_keys_run_in_parallel() {
    // Each handler waits (up to 5 s) until another handler is running at the
    // same time: that only happens if two keys run in parallel.
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (running_in, most_in) = (running.clone(), most.clone());
    let bus = start(
        move |bus| {
            bus.command(managed(
                by_id(|c: &Append| c.list),
                move |_: Option<List>, _: &Append, _: &Ctx| {
                    let now = running_in.fetch_add(1, Ordering::SeqCst) + 1;
                    most_in.fetch_max(now, Ordering::SeqCst);
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while most_in.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
                        std::hint::spin_loop();
                    }
                    running_in.fetch_sub(1, Ordering::SeqCst);
                    Outcome::<List>::keep()
                },
            ));
        },
        Runtime::new().lanes(64),
    )
    .await;
    for list in 0..4 {
        bus.send(Append { list, item: 0 }).unwrap();
    }
    bus.settle().await;
    assert!(most.load(Ordering::SeqCst) >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_do_not_wait_behind_commands() {
    let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let release_in = release.clone();
    let bus = start(
        move |bus| {
            lists(bus);
            bus.event(managed(
                by_id(|e: &Appended| e.list + 1000),
                move |_: Option<List>, _: &Appended, _: &Ctx| {
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while !release_in.load(Ordering::SeqCst) && Instant::now() < deadline {
                        std::hint::spin_loop();
                    }
                    Outcome::<List>::keep()
                },
            ));
        },
        Runtime::new(),
    )
    .await;
    bus.send(Append { list: 1, item: 42 }).unwrap();
    // The slow subscriber is now holding a lane; the query still answers
    // from committed state at once.
    let answered = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            let items = bus.query(GetList { list: 1 }).await.unwrap();
            if !items.is_empty() {
                return items;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    release.store(true, Ordering::SeqCst);
    assert_eq!(
        answered.expect("the query answered while a handler was busy"),
        vec![42]
    );
    bus.settle().await;
}

#[test]
fn a_panicking_handler_becomes_an_event_and_changes_nothing() {
    let mut kit = TestKit::new(|bus| {
        bus.command(managed(
            by_id(|c: &Append| c.list),
            |list: Option<List>, cmd: &Append, ctx: &Ctx| {
                assert!(cmd.item != 13, "unlucky item");
                append(list, cmd, ctx)
            },
        ));
    });
    kit.given(Append { list: 1, item: 1 })
        .when(Append { list: 1, item: 13 })
        .then_expect([Expect::partial::<BusHandlerFailed>(json!({
            "effect": { "type": "Append", "payload": { "list": 1, "item": 13 } },
            "reason": "panicked: unlucky item",
        }))])
        .when(Append { list: 1, item: 2 })
        .then_expect([Expect::from(Appended { list: 1, len: 2 })]);
    assert_eq!(kit.state::<List>("1"), Some(List { items: vec![1, 2] }));
}

#[test]
fn a_failed_handler_emits_none_of_its_effects() {
    TestKit::new(|bus| {
        bus.command(managed(
            by_id(|c: &Append| c.list),
            |_: Option<List>, _: &Append, _: &Ctx| Err::<Outcome<List>, _>("disk on fire"),
        ));
        bus.event(stateless(|_: &Appended, _: &Ctx| -> Outcome {
            panic!("must not run")
        }));
    })
    .when(Append { list: 1, item: 1 })
    .then_expect([Expect::partial::<BusHandlerFailed>(
        json!({ "reason": "disk on fire" }),
    )]);
}

/// A game-like state whose stage changes type: waiting, then playing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Table {
    Waiting { seated: u64 },
    Playing { players: [u64; 2] },
}
bus::states!(Table);

#[test]
fn a_handler_changes_the_stage_of_its_state_and_can_delete_it() {
    let mut kit = TestKit::new(|bus| {
        bus.command(managed(
            by_id(|c: &Append| c.list),
            |table: Option<Table>, cmd: &Append, _: &Ctx| match table {
                None => Outcome::set(Table::Waiting { seated: cmd.item }),
                Some(Table::Waiting { seated }) => Outcome::set(Table::Playing {
                    players: [seated, cmd.item],
                }),
                Some(Table::Playing { .. }) => Outcome::delete(),
            },
        ));
    });
    kit.given(Append { list: 1, item: 5 });
    assert_eq!(kit.state::<Table>("1"), Some(Table::Waiting { seated: 5 }));
    kit.given(Append { list: 1, item: 6 });
    assert_eq!(
        kit.state::<Table>("1"),
        Some(Table::Playing { players: [5, 6] })
    );
    kit.given(Append { list: 1, item: 7 });
    assert_eq!(kit.state::<Table>("1"), None);
}

#[test]
fn another_handler_can_delete_a_state_by_key() {
    let mut kit = TestKit::new(|bus| {
        lists(bus);
        bus.event(stateless(|e: &Appended, _: &Ctx| {
            if e.len == 2 {
                Outcome::nothing().delete_state::<List>(e.list.to_string())
            } else {
                Outcome::nothing()
            }
        }));
    });
    kit.given(Append { list: 3, item: 1 });
    assert!(kit.state::<List>("3").is_some());
    kit.given(Append { list: 3, item: 2 });
    assert_eq!(kit.state::<List>("3"), None);
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Totals {
    appended: usize,
}
bus::states!(Totals);
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Summary {
    lists: usize,
    items: usize,
}
bus::events!(Summary);

#[test]
fn fetchers_singleton_custom_key_all_and_conditions() {
    let mut kit = TestKit::new(|bus| {
        lists(bus);
        // Singleton: one Totals for the whole bus.
        bus.event(managed(
            singleton(),
            |t: Option<Totals>, _: &Appended, _: &Ctx| {
                Outcome::set(Totals {
                    appended: t.unwrap_or_default().appended + 1,
                })
            },
        ));
        // Custom key that declines odd lists: their events never reach it.
        bus.event(managed(
            key(|e: &Appended| e.list.is_multiple_of(2).then(|| format!("even-{}", e.list))),
            |t: Option<Totals>, _: &Appended, _: &Ctx| {
                Outcome::set(Totals {
                    appended: t.unwrap_or_default().appended + 1,
                })
            },
        ));
        // All states of a type, only when a list reaches three items.
        bus.event(
            over_all(|all: Vec<List>, _: &Appended, _: &Ctx| {
                Outcome::nothing().emit(Summary {
                    lists: all.len(),
                    items: all.iter().map(|l| l.items.len()).sum(),
                })
            })
            .when(|e: &Appended| e.len == 3),
        );
    });
    kit.given(Append { list: 1, item: 1 })
        .given(Append { list: 2, item: 1 })
        .given(Append { list: 2, item: 2 });
    assert_eq!(kit.state::<Totals>(""), Some(Totals { appended: 3 }));
    assert_eq!(kit.state::<Totals>("even-2"), Some(Totals { appended: 2 }));
    assert_eq!(kit.state::<Totals>("even-1"), None);
    kit.when(Append { list: 2, item: 3 })
        .then_expect_including([Expect::partial::<Summary>(
            json!({ "lists": 2, "items": 4 }),
        )]);
}

#[test]
fn emitted_effects_are_dispatched_in_order_after_the_commit() {
    let mut kit = TestKit::new(|bus| {
        bus.command(managed(
            by_id(|c: &Append| c.list),
            |list: Option<List>, cmd: &Append, ctx: &Ctx| {
                append(list, cmd, ctx).emit(Appended {
                    list: cmd.list,
                    len: 99,
                })
            },
        ));
        // A subscriber on the same key sees the committed state.
        bus.event(managed(
            by_id(|e: &Appended| e.list),
            |list: Option<List>, e: &Appended, _: &Ctx| {
                let len = list.map_or(0, |l| l.items.len());
                Outcome::<List>::keep().emit(Summary {
                    lists: e.len,
                    items: len,
                })
            },
        ));
    });
    kit.when(Append { list: 1, item: 1 }).then_expect([
        Expect::from(Appended { list: 1, len: 1 }),
        Expect::from(Appended { list: 1, len: 99 }),
        Expect::partial::<Summary>(json!({ "lists": 1, "items": 1 })),
        Expect::partial::<Summary>(json!({ "lists": 99, "items": 1 })),
    ]);
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ring {
    list: u32,
}
bus::events!(Ring);

fn ringing(bus: &mut BusBuilder) {
    bus.register::<Ring>();
    bus.command(managed(
        by_id(|c: &Append| c.list),
        |list: Option<List>, cmd: &Append, ctx: &Ctx| {
            let key = format!("ring-{}", cmd.list);
            let outcome = append(list, cmd, ctx).cancel_schedules(key.clone());
            match cmd.item {
                0 => outcome,
                1 => outcome.schedule(Ring { list: cmd.list }, 1_000, key),
                period => outcome.schedule_with(
                    ScheduleEvent::new(Ring { list: cmd.list }, 1_000, key)
                        .with_updates_every(period),
                ),
            }
        },
    ));
}

#[test]
fn a_schedule_fires_once_at_its_time() {
    let mut kit = TestKit::new(ringing);
    kit.given(Append { list: 1, item: 1 });
    assert_eq!(kit.pending_timers(), 1);
    kit.advance_ms(999).then_expect_nothing();
    kit.advance_ms(1)
        .then_expect([Expect::from(Ring { list: 1 })]);
    kit.advance_ms(10_000).then_expect_nothing();
    assert_eq!(kit.pending_timers(), 0);
}

#[test]
fn cancelling_by_key_stops_a_schedule() {
    let mut kit = TestKit::new(ringing);
    kit.given(Append { list: 1, item: 1 })
        .given(Append { list: 1, item: 0 });
    assert_eq!(kit.pending_timers(), 0);
    kit.advance_ms(5_000).then_expect_nothing();
}

#[test]
fn cancel_then_reschedule_in_one_handler_restarts_the_timer() {
    let mut kit = TestKit::new(ringing);
    kit.given(Append { list: 1, item: 1 }).advance_ms(700);
    kit.given(Append { list: 1, item: 1 });
    assert_eq!(kit.pending_timers(), 1);
    kit.advance_ms(999).then_expect_nothing();
    kit.advance_ms(1)
        .then_expect([Expect::from(Ring { list: 1 })]);
}

#[test]
fn schedules_on_other_keys_are_untouched_by_a_cancel() {
    let mut kit = TestKit::new(ringing);
    kit.given(Append { list: 1, item: 1 })
        .given(Append { list: 2, item: 1 })
        .given(Append { list: 1, item: 0 });
    kit.advance_ms(1_000)
        .then_expect([Expect::from(Ring { list: 2 })]);
}

#[test]
fn periodic_updates_until_due() {
    let mut kit = TestKit::new(ringing);
    kit.given(Append { list: 1, item: 300 });
    kit.advance_ms(1_000).then_expect([
        Expect::partial::<ScheduledEventUpdate>(
            json!({ "key": "ring-1", "eventType": "Ring", "remainingMs": 700 }),
        ),
        Expect::partial::<ScheduledEventUpdate>(json!({ "remainingMs": 400 })),
        Expect::partial::<ScheduledEventUpdate>(json!({ "remainingMs": 100 })),
        Expect::from(Ring { list: 1 }),
    ]);
}

#[test]
fn a_scheduled_event_is_recorded_as_emitted() {
    TestKit::new(ringing).when(Append { list: 4, item: 1 }).then_expect([
        Expect::from(Appended { list: 4, len: 1 }),
        Expect::partial_named("CancelScheduledEvents", json!({ "key": "ring-4" })),
        Expect::partial_named(
            "ScheduleEvent",
            json!({ "key": "ring-4", "afterMs": 1000, "updatesEveryMs": null, "event": { "type": "Ring", "payload": { "list": any() } } }),
        ),
    ]);
}

#[tokio::test]
async fn pending_schedules_survive_a_restart_on_the_same_store() {
    let store = Arc::new(MemoryStore::new());
    let clock = FakeClock::at(1_000_000);
    let runtime = || {
        Runtime::new()
            .store(store.clone())
            .clock(Arc::new(clock.clone()))
            .drive_timers(false)
    };
    let first = start(ringing, runtime()).await;
    first.send(Append { list: 1, item: 1 }).unwrap();
    first.settle().await;
    first.shutdown().await;

    let capture = Arc::new(CaptureHook::new());
    let second = start(ringing, runtime().hook(capture.clone())).await;
    assert_eq!(second.pending_timers(), 1);
    second.advance_to(1_001_000, |now| clock.set(now)).await;
    let fired: Vec<_> = capture.effects().iter().map(|e| e.type_name()).collect();
    assert_eq!(fired, ["Ring"]);
}

#[tokio::test]
async fn the_timer_task_fires_on_the_real_clock() {
    let capture = Arc::new(CaptureHook::new());
    let bus = start(
        |bus| {
            bus.command(managed(
                by_id(|c: &Append| c.list),
                |_: Option<List>, c: &Append, _: &Ctx| {
                    Outcome::<List>::keep().schedule(Ring { list: c.list }, 30, "ring")
                },
            ));
        },
        Runtime::new().hook(capture.clone()),
    )
    .await;
    bus.send(Append { list: 1, item: 0 }).unwrap();
    let fired = tokio::time::timeout(Duration::from_secs(5), async {
        while !capture.effects().iter().any(|e| e.is::<Ring>()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(fired.is_ok(), "the schedule fired within 5 s");
}

#[tokio::test]
async fn hooks_see_every_effect_and_time_every_handler() {
    let metrics = Arc::new(MetricsHook::new());
    let capture = Arc::new(CaptureHook::new());
    let bus = start(
        lists,
        Runtime::new().hook(metrics.clone()).hook(capture.clone()),
    )
    .await;
    for item in 0..5 {
        bus.send(Append {
            list: item as u32 % 2,
            item,
        })
        .unwrap();
    }
    bus.settle().await;
    assert_eq!(metrics.dispatched_count("Append"), 5);
    assert_eq!(metrics.dispatched_count("Appended"), 5);
    assert_eq!(capture.len(), 10);
    let handler = std::any::type_name_of_val(&append);
    assert_eq!(metrics.with_latency(handler, |h| h.count()), Some(5));
    assert_eq!(metrics.failures(), 0);
}

#[tokio::test]
async fn shutdown_refuses_new_work() {
    let bus = start(lists, Runtime::new()).await;
    bus.shutdown().await;
    assert!(matches!(
        bus.send(Append { list: 1, item: 1 }),
        Err(BusError::Closed)
    ));
}

#[test]
fn the_pure_form_calls_one_handler() {
    let outcome = bus::testkit::run(
        append,
        Some(List { items: vec![1] }),
        &Append { list: 1, item: 2 },
        0,
    );
    assert_eq!(outcome.state(), Some(&List { items: vec![1, 2] }));
    assert_eq!(
        outcome.emitted_json(),
        [json!({ "type": "Appended", "payload": { "list": 1, "len": 2 } })]
    );
}

/// A store where another writer (another node, say) slips in one write
/// just before the bus's first commit.
struct Contended {
    inner: MemoryStore,
    slipped: std::sync::atomic::AtomicBool,
}

impl bus::Store for Contended {
    fn load<'a>(&'a self, key: &'a bus::StateKey) -> bus::StoreFuture<'a, Option<bus::Stored>> {
        self.inner.load(key)
    }
    fn scan<'a>(&'a self, state_type: &'a str) -> bus::StoreFuture<'a, Vec<(String, bus::Stored)>> {
        self.inner.scan(state_type)
    }
    fn commit(&self, commit: bus::Commit) -> bus::StoreFuture<'_, ()> {
        Box::pin(async move {
            if !self.slipped.swap(true, Ordering::SeqCst) {
                let other = bus::Commit::state(
                    commit.key.clone(),
                    None,
                    bus::Change::Set(bus::StateBody::live(List { items: vec![100] })),
                );
                self.inner.commit(other).await?;
            }
            self.inner.commit(commit).await
        })
    }
    fn pending_schedules(&self) -> bus::StoreFuture<'_, Vec<bus::Scheduled>> {
        self.inner.pending_schedules()
    }
    fn pending_outbox(&self) -> bus::StoreFuture<'_, Vec<bus::PendingEntry>> {
        self.inner.pending_outbox()
    }
    fn finish(&self, finished: Vec<bus::Finished>) -> bus::StoreFuture<'_, ()> {
        self.inner.finish(finished)
    }
    fn set_aside(&self, unreadable: Vec<bus::SetAside>) -> bus::StoreFuture<'_, ()> {
        self.inner.set_aside(unreadable)
    }
}

#[tokio::test]
async fn a_conflicting_write_reruns_the_handler_on_fresh_state() {
    let store = Arc::new(Contended {
        inner: MemoryStore::new(),
        slipped: Default::default(),
    });
    let capture = Arc::new(CaptureHook::new());
    let bus = start(lists, Runtime::new().store(store).hook(capture.clone())).await;
    bus.send(Append { list: 1, item: 1 }).unwrap();
    bus.settle().await;
    // Nothing was overwritten: the other writer's item is kept, ours follows.
    assert_eq!(bus.query(GetList { list: 1 }).await.unwrap(), vec![100, 1]);
    // The events are those of the run that committed, once.
    let appended: Vec<_> = capture
        .effects()
        .iter()
        .filter_map(|e| e.downcast_ref::<Appended>().cloned())
        .collect();
    assert_eq!(appended, [Appended { list: 1, len: 2 }]);
}

#[tokio::test]
async fn the_memory_store_keeps_the_store_contract() {
    bus::testkit::store_contract(&MemoryStore::new()).await;
}

#[test]
fn the_wire_text_of_an_effect_is_its_json() {
    let effect = bus::Envelope::new(Appended { list: 3, len: 2 });
    let text = effect.to_json_text();
    assert!(
        text.starts_with(r#"{"type":"Appended","payload":"#),
        "{text}"
    );
    assert_eq!(text.capacity(), text.len(), "sized exactly");
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, effect.to_json());
    assert_eq!(serde_json::to_value(&effect).unwrap(), parsed);
}

#[tokio::test]
async fn a_command_sent_committed_is_applied_when_it_returns_or_says_why_not() {
    let bus = start(
        |bus| {
            bus.command(managed(
                by_id(|c: &Append| c.list),
                |list: Option<List>, cmd: &Append, ctx: &Ctx| {
                    assert!(cmd.item != 13, "unlucky item");
                    append(list, cmd, ctx)
                },
            ))
            .query(bus::answer(
                by_id(|q: &GetList| q.list),
                |list: Option<&List>, _: &GetList| {
                    list.map(|l| l.items.clone()).unwrap_or_default()
                },
            ));
        },
        Runtime::new(),
    )
    .await;
    let applied = bus::Envelope::new(Append { list: 1, item: 7 });
    bus.send_committed(applied).await.expect("applied");
    // No settling: the state is committed when the call returns.
    assert_eq!(bus.query(GetList { list: 1 }).await.unwrap(), vec![7]);
    let failing = bus::Envelope::new(Append { list: 1, item: 13 });
    let refused = bus.send_committed(failing).await;
    assert!(
        matches!(refused, Err(BusError::CommandFailed { command: "Append", ref reason }) if reason.contains("unlucky")),
        "{refused:?}"
    );
    assert_eq!(bus.query(GetList { list: 1 }).await.unwrap(), vec![7]);
    bus.shutdown().await;
    let late = bus.send_committed(bus::Envelope::new(Append { list: 1, item: 8 }));
    assert!(matches!(late.await, Err(BusError::Closed)));
}

#[tokio::test]
async fn an_event_published_committed_is_applied_by_every_handler_when_it_returns() {
    // Two managed handlers of one event: the totals of lists, and a tally
    // that refuses a length of 13.
    let bus = start(
        |bus| {
            bus.event(managed(
                by_id(|e: &Appended| e.list),
                |list: Option<List>, e: &Appended, _: &Ctx| {
                    let mut list = list.unwrap_or_default();
                    list.items.push(e.len as u64);
                    Outcome::set(list)
                },
            ))
            .event(managed(
                by_id(|e: &Appended| e.list + 100),
                |list: Option<List>, e: &Appended, _: &Ctx| {
                    assert!(e.len != 13, "unlucky length");
                    let mut list = list.unwrap_or_default();
                    list.items.push(e.len as u64);
                    Outcome::set(list)
                },
            ))
            .query(bus::answer(
                by_id(|q: &GetList| q.list),
                |list: Option<&List>, _: &GetList| {
                    list.map(|l| l.items.clone()).unwrap_or_default()
                },
            ));
        },
        Runtime::new(),
    )
    .await;
    bus.publish_committed(Appended { list: 1, len: 2 })
        .await
        .expect("applied");
    // No settling: both states are committed when the call returns.
    assert_eq!(bus.query(GetList { list: 1 }).await.unwrap(), vec![2]);
    assert_eq!(bus.query(GetList { list: 101 }).await.unwrap(), vec![2]);
    let refused = bus.publish_committed(Appended { list: 1, len: 13 }).await;
    assert!(
        matches!(refused, Err(BusError::EventFailed { event: "Appended", ref reason }) if reason.contains("unlucky")),
        "{refused:?}"
    );
    assert_eq!(bus.query(GetList { list: 101 }).await.unwrap(), vec![2]);
    bus.shutdown().await;
    let late = bus.publish_committed(Appended { list: 1, len: 3 }).await;
    assert!(matches!(late, Err(BusError::Closed)));
}
