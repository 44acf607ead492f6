//! [`MemoryStore`]: every state, schedule and outbox entry in memory, as
//! live values (nothing is serialised). The default for tests and
//! benchmarks, and the in-memory half of the SQLite store.

use foldhash::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::outcome::Change;
use crate::runtime::store::{
    Commit, Delivery, Finished, OutboxEntry, OutboxId, PendingEntry, ScheduleId, ScheduleOp,
    Scheduled, SetAside, SetAsideSource, Store, StoreError, StoreFuture, StoredEffect,
};
use crate::state::{StateKey, Stored};

/// Shards keep writers on different keys off each other's lock.
const SHARDS: usize = 16;

/// An in-memory [`Store`]: the default for tests and benchmarks.
#[derive(Debug)]
pub struct MemoryStore {
    shards: Vec<Mutex<Shard>>,
    schedules: Mutex<Schedules>,
    outbox: Mutex<Outbox>,
    set_aside: Mutex<Vec<SetAside>>,
    hasher: foldhash::fast::RandomState,
}

/// One shard's states, by type, then id: a scan of one type visits that
/// type's states only. (With one map by whole key, every new socket's
/// list of live games went through every user, score and history held:
/// 14% of the server's CPU per arrival with 10,000 users.)
#[derive(Debug, Default)]
struct Shard(HashMap<&'static str, HashMap<String, Stored>>);

impl Shard {
    fn get(&self, key: &StateKey) -> Option<&Stored> {
        self.0.get(key.state_type)?.get(&key.id)
    }

    fn insert(&mut self, key: StateKey, stored: Stored) {
        self.0
            .entry(key.state_type)
            .or_default()
            .insert(key.id, stored);
    }

    fn remove(&mut self, key: &StateKey) {
        if let Some(states) = self.0.get_mut(key.state_type) {
            states.remove(&key.id);
        }
    }
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
            set_aside: Mutex::default(),
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

    /// What was set aside, in order.
    pub fn set_aside_effects(&self) -> Vec<SetAside> {
        lock(&self.set_aside).clone()
    }

    fn shard(&self, key: &StateKey) -> &Mutex<Shard> {
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
            if let Some(states) = lock(shard).0.get(state_type) {
                all.extend(
                    states
                        .iter()
                        .map(|(id, stored)| (id.clone(), stored.clone())),
                );
            }
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

    fn set_aside(&self, unreadable: Vec<SetAside>) -> StoreFuture<'_, ()> {
        let mut kept = lock(&self.set_aside);
        for item in unreadable {
            if let SetAsideSource::Schedule(id) = item.source {
                lock(&self.schedules).remove(id);
            }
            if !kept.iter().any(|other| other.source == item.source) {
                kept.push(item);
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }
}
