//! States not worth keeping across restarts, kept in memory beside a
//! durable store. Presence is one: it is reset at every start (no socket
//! survives a restart), and writing the whole lobby to disk each time
//! someone connects would cost a busy site more than everything else.

use foldhash::HashSet;
use std::sync::Arc;

use bus::{Commit, Finished, PendingEntry, Scheduled, SetAside, StoreFuture};
use bus::{MemoryStore, Store};
use bus::{StateKey, Stored};

/// A durable store with some state types in memory instead.
pub struct WithEphemeral {
    durable: Arc<dyn Store>,
    memory: MemoryStore,
    ephemeral: HashSet<&'static str>,
}

impl WithEphemeral {
    /// Keeps the `ephemeral` state types (with the effects their handlers
    /// emit) in memory, everything else in `durable`.
    pub fn new(durable: Arc<dyn Store>, ephemeral: &[&'static str]) -> Self {
        Self {
            durable,
            memory: MemoryStore::new(),
            ephemeral: ephemeral.iter().copied().collect(),
        }
    }

    fn for_type(&self, state_type: &str) -> &dyn Store {
        if self.ephemeral.contains(state_type) {
            &self.memory
        } else {
            self.durable.as_ref()
        }
    }
}

impl Store for WithEphemeral {
    fn load<'a>(&'a self, key: &'a StateKey) -> StoreFuture<'a, Option<Stored>> {
        self.for_type(key.state_type).load(key)
    }

    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>> {
        self.for_type(state_type).scan(state_type)
    }

    /// A commit goes where its state lives, with its outbox entry: the
    /// events of ephemeral state are as ephemeral.
    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        match &commit.key {
            Some(key) => self.for_type(key.state_type).commit(commit),
            None => self.durable.commit(commit),
        }
    }

    fn pending_schedules(&self) -> StoreFuture<'_, Vec<Scheduled>> {
        self.durable.pending_schedules()
    }

    fn pending_outbox(&self) -> StoreFuture<'_, Vec<PendingEntry>> {
        self.durable.pending_outbox()
    }

    /// Either store may hold a finished entry (or deliveries of it).
    fn finish(&self, finished: Vec<Finished>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.memory.finish(finished.clone()).await?;
            self.durable.finish(finished).await
        })
    }

    fn set_aside(&self, unreadable: Vec<SetAside>) -> StoreFuture<'_, ()> {
        self.durable.set_aside(unreadable)
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.durable.ping()
    }

    fn claim_schedule(&self, id: bus::ScheduleId, now_ms: u64) -> StoreFuture<'_, bool> {
        self.durable.claim_schedule(id, now_ms)
    }

    fn claim_due_schedules(&self, now_ms: u64) -> StoreFuture<'_, Vec<Scheduled>> {
        self.durable.claim_due_schedules(now_ms)
    }
}
