//! Fault injection for the durability tests. With the hidden flag
//! `--abort-after-commit-of <EffectType>`, the process aborts right after
//! the store commits a handler result whose outbox holds that effect, before
//! anything is published: the worst moment for a crash.

use std::sync::Arc;

use bus::Store;
use bus::{Commit, Finished, PendingEntry, Scheduled, SetAside, StoreFuture};
use bus::{StateKey, Stored};

/// A store that ends the process after one kind of commit.
pub struct AbortAfterCommit {
    inner: Arc<dyn Store>,
    effect_type: String,
}

impl AbortAfterCommit {
    /// Wraps `inner`; aborts after committing an outbox with `effect_type`.
    pub fn new(inner: Arc<dyn Store>, effect_type: String) -> Self {
        Self { inner, effect_type }
    }
}

impl Store for AbortAfterCommit {
    fn load<'a>(&'a self, key: &'a StateKey) -> StoreFuture<'a, Option<Stored>> {
        self.inner.load(key)
    }

    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>> {
        self.inner.scan(state_type)
    }

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        let aborts = commit
            .outbox
            .iter()
            .flat_map(|entry| &entry.effects)
            .any(|effect| effect.type_name() == self.effect_type);
        Box::pin(async move {
            let committed = self.inner.commit(commit).await;
            if aborts && committed.is_ok() {
                eprintln!(
                    "fault injection: aborting after committing {}",
                    self.effect_type
                );
                std::process::abort();
            }
            committed
        })
    }

    fn pending_schedules(&self) -> StoreFuture<'_, Vec<Scheduled>> {
        self.inner.pending_schedules()
    }

    fn pending_outbox(&self) -> StoreFuture<'_, Vec<PendingEntry>> {
        self.inner.pending_outbox()
    }

    fn finish(&self, finished: Vec<Finished>) -> StoreFuture<'_, ()> {
        self.inner.finish(finished)
    }

    fn set_aside(&self, unreadable: Vec<SetAside>) -> StoreFuture<'_, ()> {
        self.inner.set_aside(unreadable)
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.inner.ping()
    }
}
