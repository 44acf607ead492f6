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

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::effect::Envelope;
use crate::runtime::bus::Bus;
use crate::runtime::handler_run::is_schedule_change;
use crate::runtime::store::{Delivery, Finished, OutboxId};

/// An outbox entry found at start, decoded, with the runs it already had.
pub(super) struct Replay {
    pub(super) id: OutboxId,
    /// Its readable effects, each at its position in the entry.
    pub(super) effects: Vec<(u32, Envelope)>,
    /// The (position, handler) runs done before the stop.
    pub(super) handled: Vec<(u32, u32)>,
}

/// Effects whose handler runs are counted: when the last has run, the store
/// forgets the outbox entry (or the fired schedule) they came from.
pub(super) struct Batch {
    finished: Finished,
    /// Runs not done yet, plus one while the batch is being dispatched.
    remaining: AtomicUsize,
}

/// One run of a batch: which effect, which of its handlers.
pub(super) struct Tracked {
    pub(super) batch: Arc<Batch>,
    position: u32,
    handler: u32,
}

impl Tracked {
    /// The delivery to record with the run's commit (outbox entries only:
    /// a fired schedule is delivered at least once).
    pub(super) fn delivery(&self) -> Option<Delivery> {
        match self.batch.finished {
            Finished::Entry(entry) => Some(Delivery {
                entry,
                position: self.position,
                handler: self.handler,
            }),
            Finished::Schedule(_) => None,
        }
    }
}

/// Where a dispatched effect sits in its batch, and which of its handlers
/// already ran (before a restart).
pub(super) struct Source<'a> {
    batch: &'a Arc<Batch>,
    position: u32,
    handled: &'a [(u32, u32)],
}

/// What to do with one handler's run of a dispatched effect.
pub(super) enum Tracking {
    /// The effect is not part of a batch: run it, count nothing.
    Untracked,
    /// Run it and count the run in its batch.
    Tracked(Tracked),
    /// It ran before a restart (its delivery is recorded): skip it.
    AlreadyHandled,
}

impl Tracking {
    /// The run of `source`'s effect by handler `index`; a tracked run is
    /// counted in its batch from here.
    pub(super) fn of(source: Option<&Source<'_>>, index: u32) -> Self {
        let Some(source) = source else {
            return Self::Untracked;
        };
        if source.handled.contains(&(source.position, index)) {
            return Self::AlreadyHandled;
        }
        source.batch.remaining.fetch_add(1, Ordering::SeqCst);
        Self::Tracked(Tracked {
            batch: source.batch.clone(),
            position: source.position,
            handler: index,
        })
    }
}

impl Bus {
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

    /// Dispatches committed effects as one batch; the store forgets
    /// `finished` once every handler they reach has run. `handled` lists
    /// the (position, handler) runs done before a restart, skipped now.
    pub(super) fn dispatch_batch(
        &self,
        finished: Finished,
        effects: impl IntoIterator<Item = Envelope>,
        handled: &[(u32, u32)],
    ) {
        let mut position = 0;
        let positioned = effects.into_iter().filter_map(|effect| {
            if is_schedule_change(&effect) {
                // Committed with the schedules, not in the outbox: for hooks.
                self.dispatch(effect);
                return None;
            }
            position += 1;
            Some((position - 1, effect))
        });
        self.dispatch_positioned(finished, positioned, handled);
    }

    /// As [`dispatch_batch`](Self::dispatch_batch), each effect at the
    /// position it has in its outbox entry.
    fn dispatch_positioned(
        &self,
        finished: Finished,
        effects: impl IntoIterator<Item = (u32, Envelope)>,
        handled: &[(u32, u32)],
    ) {
        let batch = Arc::new(Batch {
            finished,
            remaining: AtomicUsize::new(1),
        });
        for (position, effect) in effects {
            let source = Source {
                batch: &batch,
                position,
                handled,
            };
            self.dispatch_from(effect, Some(source));
        }
        self.run_done(&batch);
    }

    /// One run of `batch` is done (or its dispatch is): when none is left,
    /// the store may forget it.
    pub(super) fn run_done(&self, batch: &Batch) {
        if batch.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
            if self.inner.finished.send(batch.finished).is_err() {
                self.finished_one();
            }
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
