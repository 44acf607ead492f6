//! The contract every durable [`Store`] keeps, as one suite each backend
//! runs on a fresh, empty store (cargo feature `testkit`).

use crate::effect::Envelope;
use crate::outcome::Change;
use crate::runtime::{
    Commit, Delivery, Finished, OutboxEntry, ScheduleOp, Scheduled, SetAside, SetAsideSource,
    Store, StoreError, StoredEffect,
};
use crate::state::{State, StateBody, StateKey};

/// The contract every [`Store`] keeps, as one test a backend runs on a
/// fresh, empty store: versions, conflicts, deletion, scans, schedules, the
/// outbox and its deliveries, and all-or-nothing commits. Panics on the
/// first broken promise.
pub async fn store_contract(store: &dyn Store) {
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Note(String);
    crate::states!(Note);
    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Ring(u32);
    crate::events!(Ring);

    let key = StateKey::of::<Note>("a");
    let write =
        |expected: Option<u64>, change: Change<StateBody>, schedules: Vec<ScheduleOp>| Commit {
            schedules,
            ..Commit::state(Some(key.clone()), expected, change)
        };
    let note = |text: &str| Change::Set(StateBody::live(Note(text.to_owned())));
    let read = || async {
        store.load(&key).await.expect("load").map(|stored| {
            (
                stored.version,
                stored.body.decode::<Note>().expect("decodes"),
            )
        })
    };
    let schedule = |id: u128, key: &str, due: u64| {
        ScheduleOp::Add(Scheduled {
            id,
            key: key.to_owned(),
            due_at_ms: due,
            updates_every_ms: id.is_multiple_of(2).then_some(250),
            event: StoredEffect::Live(Envelope::new(Ring(id as u32))),
        })
    };
    let pending = || async {
        let mut all: Vec<(u128, String, u64, Option<u64>)> = store
            .pending_schedules()
            .await
            .expect("schedules")
            .into_iter()
            .map(|s| (s.id, s.key, s.due_at_ms, s.updates_every_ms))
            .collect();
        all.sort();
        all
    };

    assert!(read().await.is_none(), "a fresh store is empty");
    store
        .commit(write(None, note("one"), vec![]))
        .await
        .expect("create");
    assert_eq!(
        read().await,
        Some((1, Note("one".into()))),
        "the first write is version 1"
    );

    let stale = store
        .commit(write(None, note("other"), vec![schedule(1, "k", 10)]))
        .await;
    assert!(
        matches!(
            stale,
            Err(StoreError::Conflict {
                expected: None,
                found: Some(1),
                ..
            })
        ),
        "{stale:?}"
    );
    assert_eq!(
        read().await,
        Some((1, Note("one".into()))),
        "a conflict changes nothing"
    );
    assert!(
        pending().await.is_empty(),
        "a conflict writes no schedule either"
    );

    store
        .commit(write(Some(1), note("two"), vec![]))
        .await
        .expect("update");
    assert_eq!(read().await, Some((2, Note("two".into()))));
    let kept = store.commit(write(Some(1), Change::Keep, vec![])).await;
    assert!(
        matches!(kept, Err(StoreError::Conflict { .. })),
        "keeping checks the version too"
    );

    let other = StateKey::of::<Note>("b");
    store
        .commit(Commit::state(Some(other.clone()), None, note("bee")))
        .await
        .expect("second state");
    // A UUID's id, and the same UUID spelled in capitals: two ids, each
    // given back as it was written (a store may keep a UUID as its bytes).
    let lower = "0b7e4f3c-9a5d-4d55-8f4e-2b1c6a0d9e11";
    let upper = lower.to_uppercase();
    for id in [lower, &upper] {
        let key = StateKey::of::<Note>(id);
        store
            .commit(Commit::state(Some(key.clone()), None, note(id)))
            .await
            .expect("a state under a UUID");
        assert_eq!(
            store.load(&key).await.expect("load").map(|s| s.version),
            Some(1),
            "{id}"
        );
    }
    let mut scanned: Vec<String> = store
        .scan(Note::TYPE)
        .await
        .expect("scan")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    scanned.sort();
    let mut written = ["a", "b", &upper, lower];
    written.sort_unstable();
    assert_eq!(scanned, written);
    assert!(store.scan("Nothing").await.expect("scan").is_empty());

    store
        .commit(write(
            Some(2),
            Change::Keep,
            vec![
                schedule(1, "k", 10),
                schedule(2, "k", 20),
                schedule(3, "j", 30),
            ],
        ))
        .await
        .expect("schedules");
    assert_eq!(
        pending().await,
        [
            (1, "k".into(), 10, None),
            (2, "k".into(), 20, Some(250)),
            (3, "j".into(), 30, None)
        ]
    );
    store
        .commit(write(
            Some(2),
            Change::Keep,
            vec![ScheduleOp::Cancel { key: "k".into() }, schedule(4, "k", 40)],
        ))
        .await
        .expect("cancel then schedule");
    assert_eq!(
        pending().await,
        [(3, "j".into(), 30, None), (4, "k".into(), 40, Some(250))]
    );
    store
        .finish(vec![Finished::Schedule(3)])
        .await
        .expect("forget a fired schedule");
    assert_eq!(pending().await, [(4, "k".into(), 40, Some(250))]);

    store
        .commit(write(Some(2), Change::Delete, vec![]))
        .await
        .expect("delete");
    assert!(read().await.is_none(), "deleted");
    store
        .commit(write(None, note("again"), vec![]))
        .await
        .expect("recreate");
    assert_eq!(
        read().await,
        Some((1, Note("again".into()))),
        "a recreated state starts over"
    );

    // The outbox: entries in commit order, with the deliveries made.
    let outbox = || async {
        store
            .pending_outbox()
            .await
            .expect("outbox")
            .into_iter()
            .map(|entry| {
                let effects: Vec<(String, serde_json::Value)> = entry
                    .effects
                    .iter()
                    .map(|effect| {
                        let text = effect.to_text();
                        (
                            text.effect_type,
                            serde_json::from_str(&text.payload).expect("payload is JSON"),
                        )
                    })
                    .collect();
                let mut handled = entry.handled;
                handled.sort();
                (entry.id, effects, handled)
            })
            .collect::<Vec<_>>()
    };
    let ring = |n: u32| ("Ring".to_owned(), serde_json::json!(n));
    assert!(outbox().await.is_empty(), "no entry yet");
    let emit = |id: u128, rings: &[u32]| OutboxEntry {
        id,
        effects: rings.iter().map(|n| Envelope::new(Ring(*n))).collect(),
    };
    store
        .commit(Commit {
            outbox: Some(emit(7, &[1, 2])),
            ..Commit::state(Some(key.clone()), Some(1), note("rung"))
        })
        .await
        .expect("state and outbox");
    let lost = store
        .commit(Commit {
            outbox: Some(emit(8, &[3])),
            delivery: Some(Delivery {
                entry: 7,
                position: 0,
                handler: 0,
            }),
            ..Commit::state(Some(key.clone()), Some(1), Change::Keep)
        })
        .await;
    assert!(matches!(lost, Err(StoreError::Conflict { .. })), "{lost:?}");
    assert_eq!(
        outbox().await,
        [(7, vec![ring(1), ring(2)], vec![])],
        "a conflict writes no entry and no delivery"
    );
    for (handler, entry) in [(1, 9), (0, 10)] {
        store
            .commit(Commit {
                outbox: Some(emit(entry, &[entry as u32])),
                delivery: Some(Delivery {
                    entry: 7,
                    position: 1,
                    handler,
                }),
                ..Commit::state(None, None, Change::Keep)
            })
            .await
            .expect("a delivery and the effects it emitted");
    }
    assert_eq!(
        outbox().await,
        [
            (7, vec![ring(1), ring(2)], vec![(1, 0), (1, 1)]),
            (9, vec![ring(9)], vec![]),
            (10, vec![ring(10)], vec![]),
        ],
        "entries in commit order, with the deliveries made"
    );
    store
        .finish(vec![Finished::Entry(7), Finished::Entry(10)])
        .await
        .expect("finish");
    assert_eq!(outbox().await, [(9, vec![ring(9)], vec![])]);

    // Schema versions are kept beside what was written, for an upcast.
    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Shaped(u32);
    impl State for Shaped {
        const TYPE: &'static str = "Shaped";
        const SCHEMA_VERSION: u32 = 3;
    }
    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Chime(u32);
    impl crate::Effect for Chime {
        const TYPE: &'static str = "Chime";
        const KIND: crate::Kind = crate::Kind::Event;
        const SCHEMA_VERSION: u32 = 2;
    }
    impl crate::Event for Chime {}
    let shaped = StateKey::of::<Shaped>("s");
    store
        .commit(Commit {
            schedules: vec![ScheduleOp::Add(Scheduled {
                id: 31,
                key: "chimes".into(),
                due_at_ms: 5,
                updates_every_ms: None,
                event: StoredEffect::Live(Envelope::new(Chime(1))),
            })],
            outbox: Some(OutboxEntry {
                id: 30,
                effects: vec![Envelope::new(Chime(2))],
            }),
            ..Commit::state(
                Some(shaped.clone()),
                None,
                Change::Set(StateBody::live(Shaped(1))),
            )
        })
        .await
        .expect("a state, a schedule and an entry of later schema versions");
    let stored = store.load(&shaped).await.expect("load").expect("written");
    assert_eq!(stored.body.schema_version(), 3, "a state's schema version");
    let schedules = store.pending_schedules().await.expect("schedules");
    let chime = schedules.iter().find(|s| s.id == 31).expect("scheduled");
    assert_eq!(chime.event.to_text().schema_version, 2, "a schedule's");
    let entries = store.pending_outbox().await.expect("outbox");
    let entry = entries.iter().find(|e| e.id == 30).expect("committed");
    assert_eq!(entry.effects[0].to_text().schema_version, 2, "an effect's");

    // Setting aside: a schedule leaves the pending ones, an outbox entry
    // stays to be finished; twice is as once.
    let aside = |source| SetAside {
        source,
        effect: chime.event.to_text(),
        reason: "this release does not read it".into(),
    };
    let unreadable = vec![
        aside(SetAsideSource::Schedule(31)),
        aside(SetAsideSource::Outbox {
            entry: 30,
            position: 0,
        }),
    ];
    for _ in 0..2 {
        store
            .set_aside(unreadable.clone())
            .await
            .expect("set aside (again)");
    }
    let schedules = store.pending_schedules().await.expect("schedules");
    assert!(
        schedules.iter().all(|s| s.id != 31),
        "a schedule set aside is no longer pending"
    );
    let entries = store.pending_outbox().await.expect("outbox");
    assert!(
        entries.iter().any(|e| e.id == 30),
        "an entry with an effect set aside waits to be finished"
    );
}
