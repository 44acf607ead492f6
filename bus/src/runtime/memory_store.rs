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
struct Shard(HashMap<&'static str, HashMap<Id, Stored>>);

impl Shard {
    fn get(&self, state_type: &str, id: &Id) -> Option<&Stored> {
        self.0.get(state_type)?.get(id)
    }

    fn insert(&mut self, state_type: &'static str, id: Id, stored: Stored) {
        self.0.entry(state_type).or_default().insert(id, stored);
    }

    fn remove(&mut self, state_type: &str, id: &Id) {
        if let Some(states) = self.0.get_mut(state_type) {
            states.remove(id);
        }
    }
}

/// A state's id as a shard keeps it: most ids are UUIDs written the usual
/// way (users, games, scores), kept as their 16 bytes in place of 36
/// characters on the heap (48 bytes an id with the allocator's rounding;
/// docs/performance.md, "State ids as bytes"); any other id as its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Id {
    Uuid([u8; 16]),
    Text(Box<str>),
}

impl Id {
    fn of(id: &str) -> Self {
        // Hyphenated and lowercase: the one way of writing it that the
        // bytes give back exactly.
        if id.len() == 36
            && !id.bytes().any(|byte| byte.is_ascii_uppercase())
            && let Ok(uuid) = uuid::Uuid::try_parse(id)
        {
            return Self::Uuid(uuid.into_bytes());
        }
        Self::Text(id.into())
    }

    fn text(&self) -> String {
        match self {
            Self::Uuid(bytes) => uuid::Uuid::from_bytes(*bytes).hyphenated().to_string(),
            Self::Text(text) => text.to_string(),
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
        let id = Id::of(&key.id);
        lock(self.shard(&key)).insert(key.state_type, id, stored);
    }

    /// The version of the state at `key`, if any.
    pub fn version(&self, key: &StateKey) -> Option<u64> {
        lock(self.shard(key))
            .get(key.state_type, &Id::of(&key.id))
            .map(|stored| stored.version)
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
            let id = Id::of(&key.id);
            let mut shard = lock(self.shard(key));
            let found = shard.get(key.state_type, &id).map(|stored| stored.version);
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
                    shard.insert(key.state_type, id, Stored { version, body });
                }
                Change::Delete => {
                    shard.remove(key.state_type, &id);
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
        let id = Id::of(&key.id);
        let stored = lock(self.shard(key)).get(key.state_type, &id).cloned();
        Box::pin(std::future::ready(Ok(stored)))
    }

    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>> {
        let mut all = Vec::new();
        for shard in &self.shards {
            if let Some(states) = lock(shard).0.get(state_type) {
                all.extend(
                    states
                        .iter()
                        .map(|(id, stored)| (id.text(), stored.clone())),
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

#[cfg(test)]
mod tests {
    use super::*;

    // The store contract (`store_contract.rs`) checks that ids of every
    // shape are found and scanned back as written; here, which are bytes.
    #[test]
    fn only_a_uuid_written_hyphenated_in_lowercase_is_kept_as_bytes() {
        let uuid = "0b7e4f3c-9a5d-4d55-8f4e-2b1c6a0d9e11";
        let bytes = uuid::Uuid::parse_str(uuid).expect("a uuid").into_bytes();
        assert_eq!(Id::of(uuid), Id::Uuid(bytes));
        assert_eq!(Id::of(uuid).text(), uuid);
        for text in [
            "0B7E4F3C-9A5D-4D55-8F4E-2B1C6A0D9E11",
            "0b7e4f3c9a5d4d558f4e2b1c6a0d9e11",
            "{0b7e4f3c-9a5d-4d55-8f4e-2b1c6a0d9e11}",
            "0b7e4f3c-9a5d-4d55-8f4e-2b1c6a0d9e1g",
            "",
            "lobby",
        ] {
            assert_eq!(Id::of(text), Id::Text(text.into()), "{text}");
            assert_eq!(Id::of(text).text(), text);
        }
    }
}
