//! A batch: the effects of one commit (an outbox entry, or a fired
//! schedule), counted until every handler run they reach is done, so the
//! store can forget them (`outbox_replay.rs` says why).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::effect::Envelope;
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
    pub(super) finished: Finished,
    /// Runs not done yet, plus one while the batch is being dispatched.
    pub(super) remaining: AtomicUsize,
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
    pub(super) batch: &'a Arc<Batch>,
    pub(super) position: u32,
    pub(super) handled: &'a [(u32, u32)],
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

impl Batch {
    /// A batch of the effects `finished` names, being dispatched.
    pub(super) fn new(finished: Finished) -> Arc<Self> {
        Arc::new(Self {
            finished,
            remaining: AtomicUsize::new(1),
        })
    }

    /// One run (or the dispatch) is done: whether it was the last.
    pub(super) fn one_done(&self) -> bool {
        self.remaining.fetch_sub(1, Ordering::SeqCst) == 1
    }
}
