//! Stored effects and states outlive the release that wrote them: clients
//! are read strictly, stores leniently; older shapes are upcast; what does
//! not read at all is set aside at start, and the bus starts anyway.

use std::sync::Arc;

use bus::{
    Bus, BusBuilder, Commit, Ctx, DecodeError, Effect, EffectText, Event, Finished, Kind,
    MemoryStore, Outcome, PendingEntry, Runtime, Scheduled, SetAside, SetAsideSource, State,
    StateBody, StateKey, Store, StoreFuture, Stored, StoredEffect, by_id, managed,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Deposit {
    account: u32,
    cents: u64,
}
bus::commands!(Deposit);

/// Version 2: `cents`. Version 1 said `amount`, in whole units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Deposited {
    account: u32,
    cents: u64,
}

impl Effect for Deposited {
    const TYPE: &'static str = "Deposited";
    const KIND: Kind = Kind::Event;
    const SCHEMA_VERSION: u32 = 2;

    fn upcast(from_version: u32, mut payload: Value) -> Result<Value, String> {
        match from_version {
            1 => {
                let amount = payload
                    .get("amount")
                    .and_then(Value::as_u64)
                    .ok_or("no amount")?;
                payload["cents"] = json!(amount * 100);
                Ok(payload)
            }
            other => Err(format!("no version {other}")),
        }
    }
}
impl Event for Deposited {}

/// Version 2 of a state: `cents` (version 1: `units`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Account {
    cents: u64,
    #[serde(default)]
    deposits: u32,
}

impl State for Account {
    const TYPE: &'static str = "Account";
    const SCHEMA_VERSION: u32 = 2;

    fn upcast(from_version: u32, state: Value) -> Result<Value, String> {
        let units = state.get("units").and_then(Value::as_u64);
        match (from_version, units) {
            (1, Some(units)) => Ok(json!({ "cents": units * 100 })),
            _ => Err("not an account of version 1".to_owned()),
        }
    }
}

fn deposit(account: Option<Account>, deposit: &Deposit, _: &Ctx) -> Outcome<Account> {
    let account = account.unwrap_or_default();
    Outcome::set(Account {
        cents: account.cents + deposit.cents,
        deposits: account.deposits + 1,
    })
}

fn credit(account: Option<Account>, deposited: &Deposited, _: &Ctx) -> Outcome<Account> {
    let account = account.unwrap_or_default();
    Outcome::set(Account {
        cents: account.cents + deposited.cents,
        deposits: account.deposits + 1,
    })
}

fn registry() -> bus::Registry {
    let mut builder = BusBuilder::new();
    builder
        .command(managed(by_id(|c: &Deposit| c.account), deposit))
        .event(managed(by_id(|e: &Deposited| e.account), credit));
    builder.build().expect("handlers build")
}

#[test]
fn a_field_the_type_lacks_is_refused_from_a_client_and_ignored_from_a_store() {
    let registry = registry();
    let payload = json!({ "account": 1, "cents": 5, "memo": "hi" });
    let refused = registry.decode("Deposit", payload.clone());
    assert!(
        matches!(&refused, Err(DecodeError::Payload { reason, .. }) if reason == "unknown field `memo`"),
        "{refused:?}"
    );
    let stored = registry
        .decode_stored("Deposit", 1, payload)
        .expect("a stored payload reads leniently");
    assert_eq!(stored.payload_json(), json!({ "account": 1, "cents": 5 }));
}

#[test]
fn an_older_shape_is_upcast_and_a_newer_one_refused() {
    let registry = registry();
    let old = registry
        .decode_stored("Deposited", 1, json!({ "account": 1, "amount": 3 }))
        .expect("version 1 upcasts");
    assert_eq!(
        old.downcast_ref::<Deposited>(),
        Some(&Deposited {
            account: 1,
            cents: 300
        })
    );
    let newer = registry.decode_stored("Deposited", 3, json!({ "account": 1, "cents": 3 }));
    assert!(
        matches!(&newer, Err(DecodeError::Payload { reason, .. }) if reason.contains("newer release")),
        "{newer:?}"
    );
}

#[test]
fn a_state_of_an_older_shape_is_upcast_and_new_fields_take_their_default() {
    let v1 = StateBody::json(r#"{"units": 4}"#, 1);
    assert_eq!(
        v1.decode::<Account>().ok(),
        Some(Account {
            cents: 400,
            deposits: 0
        })
    );
    let v2_with_a_removed_field = StateBody::json(r#"{"cents": 7, "colour": "red"}"#, 2);
    assert_eq!(
        v2_with_a_removed_field.decode::<Account>().ok(),
        Some(Account {
            cents: 7,
            deposits: 0
        })
    );
}

/// A store as an older release left it: JSON effects, one of them of a type
/// that no longer exists.
struct Left {
    inner: MemoryStore,
    schedules: Vec<Scheduled>,
    outbox: Vec<PendingEntry>,
}

fn text(effect_type: &str, schema_version: u32, payload: Value) -> StoredEffect {
    StoredEffect::Json(EffectText {
        effect_type: effect_type.to_owned(),
        schema_version,
        payload: payload.to_string(),
    })
}

impl Store for Left {
    fn load<'a>(&'a self, key: &'a StateKey) -> StoreFuture<'a, Option<Stored>> {
        self.inner.load(key)
    }
    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>> {
        self.inner.scan(state_type)
    }
    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        self.inner.commit(commit)
    }
    fn pending_schedules(&self) -> StoreFuture<'_, Vec<Scheduled>> {
        Box::pin(std::future::ready(Ok(self.schedules.clone())))
    }
    fn pending_outbox(&self) -> StoreFuture<'_, Vec<PendingEntry>> {
        Box::pin(std::future::ready(Ok(self.outbox.clone())))
    }
    fn finish(&self, finished: Vec<Finished>) -> StoreFuture<'_, ()> {
        self.inner.finish(finished)
    }
    fn set_aside(&self, unreadable: Vec<SetAside>) -> StoreFuture<'_, ()> {
        self.inner.set_aside(unreadable)
    }
}

#[tokio::test]
async fn what_does_not_read_is_set_aside_and_the_rest_replays() {
    let store = Arc::new(Left {
        inner: MemoryStore::new(),
        schedules: vec![Scheduled {
            id: 11,
            key: "gone".into(),
            due_at_ms: 0,
            updates_every_ms: None,
            event: text("Vanished", 1, json!({})),
        }],
        outbox: vec![PendingEntry {
            id: 22,
            effects: vec![
                text(
                    "Deposited",
                    1,
                    json!({ "account": 1, "amount": 2, "memo": "x" }),
                ),
                text("Vanished", 1, json!({ "account": 1 })),
                text("Deposited", 2, json!({ "account": 1, "cents": 5 })),
            ],
            handled: Vec::new(),
        }],
    });
    let runtime = Runtime::new().store(store.clone()).drive_timers(false);
    let bus = Bus::start(registry(), runtime)
        .await
        .expect("the bus starts although two stored effects do not read");
    bus.settle().await;

    assert_eq!(bus.set_aside_at_start(), 2);
    assert_eq!(
        bus.pending_timers(),
        0,
        "the unreadable schedule is not pending"
    );
    let set_aside = store.inner.set_aside_effects();
    let sources: Vec<SetAsideSource> = set_aside.iter().map(|item| item.source).collect();
    assert_eq!(
        sources,
        [
            SetAsideSource::Schedule(11),
            SetAsideSource::Outbox {
                entry: 22,
                position: 1
            }
        ]
    );
    assert!(
        set_aside
            .iter()
            .all(|item| item.reason.contains("Vanished"))
    );
    assert_eq!(set_aside[1].effect.payload, r#"{"account":1}"#);

    let account = store
        .load(&StateKey::of::<Account>("1"))
        .await
        .expect("load")
        .expect("the readable effects were handled");
    assert_eq!(
        account.body.decode::<Account>().ok(),
        Some(Account {
            cents: 205,
            deposits: 2
        })
    );
}
