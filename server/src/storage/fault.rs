//! Fault injection for the durability tests. With the hidden flag
//! `--abort-after-commit-of <EffectType>`, the process aborts right after
//! the store commits a handler result whose outbox holds that effect (and
//! writes it to disk), before anything is published: the worst moment for
//! a crash.

use std::sync::Arc;

use bus::Store;
use bus::{Commit, StoreFuture};

/// A store that ends the process after one kind of commit.
pub struct AbortAfterCommit {
    inner: Arc<dyn Store>,
    effect_type: String,
    barrier: super::Barrier,
}

impl AbortAfterCommit {
    /// Wraps `inner`; aborts after committing an outbox with `effect_type`
    /// and passing `barrier`.
    pub fn new(inner: Arc<dyn Store>, effect_type: String, barrier: super::Barrier) -> Self {
        Self {
            inner,
            effect_type,
            barrier,
        }
    }
}

impl Store for AbortAfterCommit {
    crate::storage::delegate_all_but_commit!(inner);

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        let aborts = commit
            .outbox
            .iter()
            .flat_map(|entry| &entry.effects)
            .any(|effect| effect.type_name() == self.effect_type);
        Box::pin(async move {
            let committed = self.inner.commit(commit).await;
            if aborts && committed.is_ok() && self.barrier.pass().is_ok() {
                eprintln!(
                    "fault injection: aborting after committing {}",
                    self.effect_type
                );
                std::process::abort();
            }
            committed
        })
    }
}
