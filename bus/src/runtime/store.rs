//! Where managed state, pending schedules and the outbox live.
//!
//! A [`Store`] keeps states by [`StateKey`] with a version for optimistic
//! concurrency, the pending schedules, and the outbox. Every handler's result
//! is written with one [`Store::commit`]: the state change, the schedule
//! changes and the effects it emitted (an [`OutboxEntry`]), together. An
//! entry stays until every handler its effects reach has run; each of those
//! runs records its [`Delivery`] in its own commit, so after a crash the bus
//! republishes what was left and skips what was handled. [`MemoryStore`]
//! keeps live values and never serialises; durable stores keep JSON (see
//! [`StateBody`]).

use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::effect::Envelope;
use crate::outcome::Change;
use crate::state::{StateBody, StateKey, Stored};

/// The future a store operation returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Someone else wrote the state since it was read: run the handler again
    /// on the fresh state.
    #[error("{key} changed since it was read (expected version {expected:?}, found {found:?})")]
    Conflict {
        /// The state.
        key: StateKey,
        /// The version the handler saw (`None`: no state).
        expected: Option<u64>,
        /// The version in the store (`None`: no state).
        found: Option<u64>,
    },
    /// The backend failed (I/O, connection, corrupt data).
    #[error("store backend: {0}")]
    Backend(String),
}

/// An identifier of one pending schedule.
pub type ScheduleId = u128;

/// An identifier of one outbox entry.
pub type OutboxId = u128;

/// An effect as a store holds it (a schedule's event, an outbox effect).
#[derive(Debug, Clone)]
pub enum StoredEffect {
    /// The effect itself (memory).
    Live(Envelope),
    /// Its wire form, decoded by the bus's registry (durable stores).
    Json {
        /// The effect's wire name.
        event_type: String,
        /// Its payload as JSON text.
        payload: String,
    },
}

impl StoredEffect {
    /// The wire name and JSON payload, for a durable store to write.
    pub fn to_json_text(&self) -> (String, String) {
        match self {
            Self::Live(effect) => (effect.type_name().to_owned(), effect.payload_text()),
            Self::Json {
                event_type,
                payload,
            } => (event_type.clone(), payload.clone()),
        }
    }
}

/// A pending schedule.
#[derive(Debug, Clone)]
pub struct Scheduled {
    /// Unique among pending schedules.
    pub id: ScheduleId,
    /// The key it was scheduled under, for cancelling.
    pub key: String,
    /// When it is due, on the bus clock (ms since the Unix epoch).
    pub due_at_ms: u64,
    /// Period of update events until due, if asked for.
    pub updates_every_ms: Option<u64>,
    /// What to deliver.
    pub event: StoredEffect,
}

/// A change to the pending schedules, in the order the handler emitted it.
#[derive(Debug, Clone)]
pub enum ScheduleOp {
    /// Drop every pending schedule under this key.
    Cancel {
        /// The key.
        key: String,
    },
    /// Add this schedule.
    Add(Scheduled),
}

/// The effects one handler run emitted (schedules aside), committed with its
/// result and kept until every handler they reach has run.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    /// Unique among entries.
    pub id: OutboxId,
    /// The effects, in the order they were emitted.
    pub effects: Vec<Envelope>,
}

/// One effect of an outbox entry, handled by one of the handlers it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delivery {
    /// The entry.
    pub entry: OutboxId,
    /// The effect's position in the entry.
    pub position: u32,
    /// The handler's position among those of the effect (0 for a command).
    pub handler: u32,
}

/// An outbox entry not finished yet, as found at start-up.
#[derive(Debug, Clone)]
pub struct PendingEntry {
    /// The entry.
    pub id: OutboxId,
    /// Its effects, in order.
    pub effects: Vec<StoredEffect>,
    /// The (position, handler) pairs already handled.
    pub handled: Vec<(u32, u32)>,
}

/// Work the bus is done with, for the store to forget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Every handler the entry's effects reach has run.
    Entry(OutboxId),
    /// The schedule fired and its handlers have run.
    Schedule(ScheduleId),
}

/// Everything one handler run writes, applied all or nothing.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The handler's state, if it has one.
    pub key: Option<StateKey>,
    /// The version the handler read (`None`: there was no state). Checked
    /// even when the state is kept, so a decision made on stale state never
    /// commits.
    pub expected_version: Option<u64>,
    /// What happens to the state.
    pub change: Change<StateBody>,
    /// Schedule changes, in order.
    pub schedules: Vec<ScheduleOp>,
    /// The effects to publish once committed, if any.
    pub outbox: Option<OutboxEntry>,
    /// The outbox delivery this run handled, if it handled one.
    pub delivery: Option<Delivery>,
}

impl Commit {
    /// A commit that changes the state at `key` (or nothing, with `None`)
    /// and nothing else.
    pub fn state(
        key: Option<StateKey>,
        expected_version: Option<u64>,
        change: Change<StateBody>,
    ) -> Self {
        Self {
            key,
            expected_version,
            change,
            schedules: Vec::new(),
            outbox: None,
            delivery: None,
        }
    }
}

/// A place for managed state and pending schedules.
pub trait Store: Send + Sync + 'static {
    /// The state at `key`, if any.
    fn load<'a>(&'a self, key: &'a StateKey) -> StoreFuture<'a, Option<Stored>>;
    /// Every state of a type, in no particular order.
    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>>;
    /// Applies a handler's result atomically, or fails with
    /// [`StoreError::Conflict`] and changes nothing.
    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()>;
    /// Every pending schedule (read at start-up).
    fn pending_schedules(&self) -> StoreFuture<'_, Vec<Scheduled>>;
    /// Every outbox entry not finished, in the order they were committed
    /// (read at start-up).
    fn pending_outbox(&self) -> StoreFuture<'_, Vec<PendingEntry>>;
    /// Forgets finished entries (with their deliveries) and fired schedules.
    fn finish(&self, finished: Vec<Finished>) -> StoreFuture<'_, ()>;
}

/// Shards keep writers on different keys off each other's lock.
const SHARDS: usize = 16;

/// An in-memory [`Store`]: the default for tests and benchmarks.
#[derive(Debug)]
pub struct MemoryStore {
    shards: Vec<Mutex<HashMap<StateKey, Stored>>>,
    schedules: Mutex<Schedules>,
    outbox: Mutex<Outbox>,
    hasher: std::collections::hash_map::RandomState,
}

#[derive(Debug, Default)]
struct Outbox {
    next: u64,
    /// By commit order.
    entries: std::collections::BTreeMap<u64, (OutboxEntry, Vec<(u32, u32)>)>,
    order: HashMap<OutboxId, u64>,
}

impl Outbox {
    fn add(&mut self, entry: OutboxEntry) {
        self.next += 1;
        self.order.insert(entry.id, self.next);
        self.entries.insert(self.next, (entry, Vec::new()));
    }

    fn handled(&mut self, delivery: Delivery) {
        if let Some(order) = self.order.get(&delivery.entry)
            && let Some((_, handled)) = self.entries.get_mut(order)
        {
            handled.push((delivery.position, delivery.handler));
        }
    }

    fn remove(&mut self, id: OutboxId) {
        if let Some(order) = self.order.remove(&id) {
            self.entries.remove(&order);
        }
    }
}

#[derive(Debug, Default)]
struct Schedules {
    by_id: HashMap<ScheduleId, Scheduled>,
    by_key: HashMap<String, Vec<ScheduleId>>,
}

impl Schedules {
    fn apply(&mut self, op: ScheduleOp) {
        match op {
            ScheduleOp::Cancel { key } => {
                for id in self.by_key.remove(&key).unwrap_or_default() {
                    self.by_id.remove(&id);
                }
            }
            ScheduleOp::Add(scheduled) => {
                self.by_key
                    .entry(scheduled.key.clone())
                    .or_default()
                    .push(scheduled.id);
                self.by_id.insert(scheduled.id, scheduled);
            }
        }
    }

    fn remove(&mut self, id: ScheduleId) {
        if let Some(scheduled) = self.by_id.remove(&id)
            && let Some(ids) = self.by_key.get_mut(&scheduled.key)
        {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                self.by_key.remove(&scheduled.key);
            }
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            schedules: Mutex::default(),
            outbox: Mutex::default(),
            hasher: Default::default(),
        }
    }
}

/// A poisoned lock only means another thread panicked while holding it; the
/// maps stay consistent because every update below is a single insert/remove.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts a state as it was read from elsewhere, version and all (a
    /// durable store that keeps its states in memory too fills one so).
    pub fn restore(&self, key: StateKey, stored: Stored) {
        lock(self.shard(&key)).insert(key, stored);
    }

    /// The version of the state at `key`, if any.
    pub fn version(&self, key: &StateKey) -> Option<u64> {
        lock(self.shard(key)).get(key).map(|stored| stored.version)
    }

    fn shard(&self, key: &StateKey) -> &Mutex<HashMap<StateKey, Stored>> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    fn commit_now(&self, commit: Commit) -> Result<(), StoreError> {
        if let Some(key) = &commit.key {
            let mut shard = lock(self.shard(key));
            let found = shard.get(key).map(|stored| stored.version);
            if found != commit.expected_version {
                return Err(StoreError::Conflict {
                    key: key.clone(),
                    expected: commit.expected_version,
                    found,
                });
            }
            match commit.change {
                Change::Keep => {}
                Change::Set(body) => {
                    let version = found.map_or(1, |version| version + 1);
                    shard.insert(key.clone(), Stored { version, body });
                }
                Change::Delete => {
                    shard.remove(key);
                }
            }
        }
        if !commit.schedules.is_empty() {
            let mut schedules = lock(&self.schedules);
            for op in commit.schedules {
                schedules.apply(op);
            }
        }
        if commit.outbox.is_some() || commit.delivery.is_some() {
            let mut outbox = lock(&self.outbox);
            if let Some(delivery) = commit.delivery {
                outbox.handled(delivery);
            }
            if let Some(entry) = commit.outbox {
                outbox.add(entry);
            }
        }
        Ok(())
    }
}

impl Store for MemoryStore {
    fn load<'a>(&'a self, key: &'a StateKey) -> StoreFuture<'a, Option<Stored>> {
        let stored = lock(self.shard(key)).get(key).cloned();
        Box::pin(std::future::ready(Ok(stored)))
    }

    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>> {
        let mut all = Vec::new();
        for shard in &self.shards {
            all.extend(
                lock(shard)
                    .iter()
                    .filter(|(key, _)| key.state_type == state_type)
                    .map(|(key, stored)| (key.id.clone(), stored.clone())),
            );
        }
        Box::pin(std::future::ready(Ok(all)))
    }

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(self.commit_now(commit)))
    }

    fn pending_schedules(&self) -> StoreFuture<'_, Vec<Scheduled>> {
        let all = lock(&self.schedules).by_id.values().cloned().collect();
        Box::pin(std::future::ready(Ok(all)))
    }

    fn pending_outbox(&self) -> StoreFuture<'_, Vec<PendingEntry>> {
        let pending = lock(&self.outbox)
            .entries
            .values()
            .map(|(entry, handled)| PendingEntry {
                id: entry.id,
                effects: entry
                    .effects
                    .iter()
                    .cloned()
                    .map(StoredEffect::Live)
                    .collect(),
                handled: handled.clone(),
            })
            .collect();
        Box::pin(std::future::ready(Ok(pending)))
    }

    fn finish(&self, finished: Vec<Finished>) -> StoreFuture<'_, ()> {
        for done in finished {
            match done {
                Finished::Entry(id) => lock(&self.outbox).remove(id),
                Finished::Schedule(id) => lock(&self.schedules).remove(id),
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }
}
