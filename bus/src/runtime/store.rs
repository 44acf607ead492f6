//! Where managed state and pending schedules live.
//!
//! A [`Store`] keeps states by [`StateKey`] with a version for optimistic
//! concurrency, and the pending schedules. Every handler's result is written
//! with one [`Store::commit`]: the state change and the schedule changes it
//! emitted, together. [`MemoryStore`] keeps live values and never serialises;
//! durable stores keep JSON (see [`StateBody`]).

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

/// The event of a pending schedule, as a store holds it.
#[derive(Debug, Clone)]
pub enum ScheduledEvent {
    /// The event itself (memory).
    Live(Envelope),
    /// Its wire form, decoded by the bus's registry (durable stores).
    Json {
        /// The event's wire name.
        event_type: String,
        /// Its payload as JSON text.
        payload: String,
    },
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
    pub event: ScheduledEvent,
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
    /// Forgets a schedule that has fired.
    fn remove_schedule(&self, id: ScheduleId) -> StoreFuture<'_, ()>;
}

/// Shards keep writers on different keys off each other's lock.
const SHARDS: usize = 16;

/// An in-memory [`Store`]: the default for tests and benchmarks.
#[derive(Debug)]
pub struct MemoryStore {
    shards: Vec<Mutex<HashMap<StateKey, Stored>>>,
    schedules: Mutex<Schedules>,
    hasher: std::collections::hash_map::RandomState,
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

    fn remove_schedule(&self, id: ScheduleId) -> StoreFuture<'_, ()> {
        lock(&self.schedules).remove(id);
        Box::pin(std::future::ready(Ok(())))
    }
}
