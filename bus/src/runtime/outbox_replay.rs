//! How committed effects are tracked until every handler has run, and how
//! the outbox is replayed after a crash.
//!
//! A handler's emitted effects are committed with its result as one outbox
//! entry, then dispatched as a *batch*. Each handler run an effect reaches
//! is counted, and records its [`Delivery`] (entry, effect position, handler
//! position) in its own commit. When the last run is done the store forgets
//! the entry. A crash anywhere in between leaves the entry in the store:
//! [`Bus::start`] reads it back and dispatches it again, skipping every
//! (position, handler) whose delivery is recorded, so each handler's state
//! sees each effect exactly once. A fired schedule is a batch of one, but
//! its runs record nothing: it fires again after a crash (at least once).

use tokio::sync::mpsc;

use crate::runtime::batch::Replay;
use crate::runtime::bus::Bus;
use crate::runtime::store::{Finished, PendingEntry, StoreError};
use crate::runtime::stored_effects;

impl Bus {
    /// Republishes outbox entries another process committed and left
    /// unfinished (a dead node of a cluster whose entries this one took
    /// over in the store), skipping the deliveries they record; what does
    /// not read is set aside. How many entries.
    pub async fn republish(&self, entries: Vec<PendingEntry>) -> Result<usize, StoreError> {
        let mut unreadable = Vec::new();
        let replays = stored_effects::read_entries(self.registry(), entries, &mut unreadable);
        stored_effects::set_aside(self.inner.store.as_ref(), unreadable).await?;
        let count = replays.len();
        self.replay(replays);
        Ok(count)
    }

    /// Republishes the outbox entries found at start.
    pub(super) fn replay(&self, entries: Vec<Replay>) {
        if !entries.is_empty() {
            tracing::info!(
                entries = entries.len(),
                "republishing effects committed before a stop"
            );
        }
        for entry in entries {
            self.dispatch_positioned(Finished::Entry(entry.id), entry.effects, &entry.handled);
        }
    }

    /// Tells the store what is finished, a group at a time.
    pub(super) async fn forget_finished(self, mut finished: mpsc::UnboundedReceiver<Finished>) {
        let mut group = Vec::new();
        loop {
            tokio::select! {
                () = self.inner.stop.cancelled() => return,
                count = finished.recv_many(&mut group, 256) => if count == 0 { return },
            }
            let count = group.len();
            if let Err(error) = self.inner.store.finish(std::mem::take(&mut group)).await {
                // Kept in the store: replayed at the next start, where every
                // delivery already handled is skipped.
                tracing::error!(%error, "cannot forget finished outbox entries");
            }
            for _ in 0..count {
                self.finished_one();
            }
        }
    }
}
