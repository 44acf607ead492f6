//! The outbox: effects committed with a handler's result survive a crash
//! before they are published, and are handled once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bus::{Bus, BusBuilder, CaptureHook, Ctx, MemoryStore, Outcome, Runtime, by_id, key, managed};
use bus::{Commit, Finished, PendingEntry, Scheduled, SetAside, Store, StoreError, StoreFuture};
use bus::{StateKey, Stored};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Deposit {
    account: u32,
    amount: u64,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Deposited {
    account: u32,
    amount: u64,
}
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Balance(u64);
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Audit(u64);
/// Emits [`Noted`], an event no handler takes (hooks see it).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Note {
    account: u32,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Noted {
    account: u32,
}
bus::commands!(Deposit, Note);
bus::events!(Deposited, Noted);
bus::states!(Balance, Audit);

fn deposit(balance: Option<Balance>, cmd: &Deposit, _: &Ctx) -> Outcome<Balance> {
    let balance = balance.unwrap_or_default().0 + cmd.amount;
    Outcome::set(Balance(balance)).emit(Deposited {
        account: cmd.account,
        amount: cmd.amount,
    })
}

/// Two subscribers of `Deposited`: handler 0 audits, handler 1 deletes the
/// account when it reaches 100 (a framework effect in the outbox).
fn bank(bus: &mut BusBuilder) {
    bus.command(managed(by_id(|c: &Deposit| c.account), deposit))
        .command(managed(
            by_id(|c: &Note| c.account),
            |balance: Option<Balance>, c: &Note, _: &Ctx| {
                Outcome::set(balance.unwrap_or_default()).emit(Noted { account: c.account })
            },
        ))
        .event(managed(
            key(|_: &Deposited| Some("all".to_owned())),
            |audit: Option<Audit>, e: &Deposited, _: &Ctx| {
                Outcome::set(Audit(audit.unwrap_or_default().0 + e.amount))
            },
        ))
        .event(bus::stateless(|e: &Deposited, _: &Ctx| {
            if e.amount >= 100 {
                Outcome::nothing().delete_state::<Balance>(e.account.to_string())
            } else {
                Outcome::nothing()
            }
        }));
}

/// A store in a process that dies: once `dies_at` matches a commit, that
/// commit (and every write after it) is lost or kept as `keeps` says, and
/// nothing reaches the store any more. It notes, per commit it is asked
/// for, the type of the first effect of its outbox entry (`None`: none).
struct Dying {
    inner: Arc<MemoryStore>,
    dies_at: fn(&Commit) -> bool,
    keeps: bool,
    dead: AtomicBool,
    entries: std::sync::Mutex<Vec<Option<&'static str>>>,
}

impl Dying {
    fn new(inner: Arc<MemoryStore>, dies_at: fn(&Commit) -> bool, keeps: bool) -> Arc<Self> {
        Arc::new(Self {
            inner,
            dies_at,
            keeps,
            dead: AtomicBool::new(false),
            entries: Default::default(),
        })
    }
}

fn died() -> StoreError {
    StoreError::backend_says("the process died")
}

impl Store for Dying {
    fn load<'a>(&'a self, key: &'a StateKey) -> StoreFuture<'a, Option<Stored>> {
        self.inner.load(key)
    }
    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>> {
        self.inner.scan(state_type)
    }
    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        let entry = commit
            .outbox
            .as_ref()
            .map(|entry| entry.effects[0].type_name());
        self.entries.lock().expect("entries").push(entry);
        Box::pin(async move {
            if self.dead.load(Ordering::SeqCst) {
                return Err(died());
            }
            if (self.dies_at)(&commit) {
                self.dead.store(true, Ordering::SeqCst);
                if self.keeps {
                    self.inner.commit(commit).await?;
                }
                return Err(died());
            }
            self.inner.commit(commit).await
        })
    }
    fn pending_schedules(&self) -> StoreFuture<'_, Vec<Scheduled>> {
        self.inner.pending_schedules()
    }
    fn pending_outbox(&self) -> StoreFuture<'_, Vec<PendingEntry>> {
        self.inner.pending_outbox()
    }
    fn finish(&self, finished: Vec<Finished>) -> StoreFuture<'_, ()> {
        if self.dead.load(Ordering::SeqCst) {
            return Box::pin(std::future::ready(Err(died())));
        }
        self.inner.finish(finished)
    }
    fn set_aside(&self, unreadable: Vec<SetAside>) -> StoreFuture<'_, ()> {
        self.inner.set_aside(unreadable)
    }
}

async fn start(store: Arc<dyn Store>, capture: Arc<CaptureHook>) -> Bus {
    start_with(store, capture, Runtime::new()).await
}

async fn start_with(store: Arc<dyn Store>, capture: Arc<CaptureHook>, runtime: Runtime) -> Bus {
    let mut builder = BusBuilder::new();
    bank(&mut builder);
    let registry = builder.build().expect("handlers build");
    // One lane: handler 0 of an event runs before handler 1.
    let runtime = runtime.store(store).hook(capture).lanes(1);
    Bus::start(registry, runtime).await.expect("bus starts")
}

/// Sends a note, then a deposit, and tells which commits had an outbox
/// entry (the deposit's two subscribers commit none: they emit nothing).
async fn entries_of_a_note_and_a_deposit(runtime: Runtime) -> Vec<Option<&'static str>> {
    let disk = Arc::new(MemoryStore::new());
    let store = Dying::new(disk.clone(), |_| false, true);
    let capture = Arc::new(CaptureHook::new());
    let bus = start_with(store.clone(), capture.clone(), runtime).await;
    bus.send(Note { account: 5 }).expect("accepted");
    bus.send(Deposit {
        account: 5,
        amount: 10,
    })
    .expect("accepted");
    bus.settle().await;
    assert_eq!(seen(&capture, "Noted"), 1, "hooks see it either way");
    assert_eq!(seen(&capture, "Deposited"), 1);
    assert_eq!(state::<Audit>(&disk, "all").await, Some(Audit(10)));
    store.entries.lock().expect("entries").clone()
}

#[tokio::test]
async fn effects_no_handler_takes_skip_the_outbox_when_the_bus_says_so() {
    assert_eq!(
        entries_of_a_note_and_a_deposit(Runtime::new()).await,
        [Some("Noted"), Some("Deposited"), None, None],
        "by default every emitted effect is in the outbox"
    );
    assert_eq!(
        entries_of_a_note_and_a_deposit(Runtime::new().unhandled_in_outbox(false)).await,
        [None, Some("Deposited"), None, None],
        "an effect a handler takes still is"
    );
}

fn seen(capture: &CaptureHook, effect_type: &str) -> usize {
    capture
        .effects()
        .iter()
        .filter(|effect| effect.type_name() == effect_type)
        .count()
}

async fn state<S: bus::State + Clone>(store: &MemoryStore, id: &str) -> Option<S> {
    let stored = store.load(&StateKey::of::<S>(id)).await.expect("load")?;
    Some(stored.body.decode::<S>().expect("decodes"))
}

#[tokio::test]
async fn effects_committed_but_never_published_go_out_at_the_next_start() {
    let disk = Arc::new(MemoryStore::new());
    // Dies right after the deposit commits, before `Deposited` is published.
    let dying = Dying::new(disk.clone(), |c| c.outbox.is_some(), true);
    let first = Arc::new(CaptureHook::new());
    let bus = start(dying, first.clone()).await;
    bus.send(Deposit {
        account: 1,
        amount: 30,
    })
    .expect("accepted");
    bus.settle().await;
    bus.shutdown().await;
    assert_eq!(seen(&first, "Deposited"), 0, "never published");
    assert_eq!(state::<Balance>(&disk, "1").await, Some(Balance(30)));
    assert_eq!(state::<Audit>(&disk, "all").await, None);

    let second = Arc::new(CaptureHook::new());
    let bus = start(disk.clone(), second.clone()).await;
    bus.settle().await;
    assert_eq!(seen(&second, "Deposited"), 1, "published once, at start");
    assert_eq!(state::<Audit>(&disk, "all").await, Some(Audit(30)));
    assert!(
        disk.pending_outbox().await.expect("outbox").is_empty(),
        "the entry is forgotten once handled"
    );
}

#[tokio::test]
async fn a_republished_effect_skips_the_handlers_that_already_ran() {
    let disk = Arc::new(MemoryStore::new());
    // Dies as handler 1 of `Deposited` commits: handler 0 has committed.
    let dying = Dying::new(
        disk.clone(),
        |c| c.delivery.is_some_and(|d| d.handler == 1),
        false,
    );
    let bus = start(dying, Arc::new(CaptureHook::new())).await;
    bus.send(Deposit {
        account: 2,
        amount: 100,
    })
    .expect("accepted");
    bus.settle().await;
    bus.shutdown().await;
    assert_eq!(state::<Audit>(&disk, "all").await, Some(Audit(100)));
    assert_eq!(
        state::<Balance>(&disk, "2").await,
        Some(Balance(100)),
        "the delete was lost with the process"
    );

    let capture = Arc::new(CaptureHook::new());
    let bus = start(disk.clone(), capture.clone()).await;
    bus.settle().await;
    assert_eq!(
        state::<Audit>(&disk, "all").await,
        Some(Audit(100)),
        "the audit ran once"
    );
    assert_eq!(
        state::<Balance>(&disk, "2").await,
        None,
        "handler 1 ran now"
    );
    assert!(disk.pending_outbox().await.expect("outbox").is_empty());
}

#[tokio::test]
async fn a_delete_state_in_the_outbox_survives_a_restart() {
    let disk = Arc::new(MemoryStore::new());
    // Dies after handler 1 commits the `DeleteState` it emitted.
    let dying = Dying::new(
        disk.clone(),
        |c| c.delivery.is_some_and(|d| d.handler == 1),
        true,
    );
    let bus = start(dying, Arc::new(CaptureHook::new())).await;
    bus.send(Deposit {
        account: 3,
        amount: 150,
    })
    .expect("accepted");
    bus.settle().await;
    bus.shutdown().await;
    assert_eq!(state::<Balance>(&disk, "3").await, Some(Balance(150)));

    let bus = start(disk.clone(), Arc::new(CaptureHook::new())).await;
    bus.settle().await;
    assert_eq!(state::<Balance>(&disk, "3").await, None);
    assert_eq!(state::<Audit>(&disk, "all").await, Some(Audit(150)));
    assert!(disk.pending_outbox().await.expect("outbox").is_empty());
}

#[test]
fn a_stored_delete_state_decodes_for_a_state_a_handler_manages() {
    let mut builder = BusBuilder::new();
    bank(&mut builder);
    let registry = builder.build().expect("handlers build");
    let delete = registry
        .decode(
            "DeleteState",
            serde_json::json!({ "stateType": "Balance", "id": "4" }),
        )
        .expect("decodes");
    let delete = delete.downcast_ref::<bus::DeleteState>().expect("a delete");
    assert_eq!(delete.key(), StateKey::of::<Balance>("4"));
    assert!(
        registry
            .decode(
                "DeleteState",
                serde_json::json!({ "stateType": "Nobody", "id": "4" })
            )
            .is_err()
    );
}
