//! [`Bus`]: the handle callers hold, what its clones share, and the
//! bookkeeping every other part of the runtime uses (the in-flight count,
//! the timer index, reading committed state). The parts live in files of
//! their own, each an `impl Bus` on top of this one; [`Bus::start`] is in
//! `start.rs`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::builder::Registry;
use crate::handler::{Loaded, Route};
use crate::runtime::clock::Clock;
use crate::runtime::error::BusError;
use crate::runtime::hooks::Hook;
use crate::runtime::job::Job;
use crate::runtime::store::{Finished, Store, StoreError};
use crate::runtime::timers::TimerIndex;

/// What every clone of a [`Bus`] shares.
pub(super) struct Inner {
    pub(super) registry: Registry,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) hooks: Vec<Arc<dyn Hook>>,
    pub(super) conflict_retries: u32,
    /// Set when other processes share the store's schedules: how often
    /// to claim the due ones nobody holds.
    pub(super) shared_schedules: Option<std::time::Duration>,
    /// Whether effects no handler takes are written to the outbox too.
    pub(super) unhandled_in_outbox: bool,
    pub(super) lanes: Vec<mpsc::UnboundedSender<Job>>,
    pub(super) lane_hasher: std::collections::hash_map::RandomState,
    /// Jobs queued or running; the bus is settled when it is zero.
    pub(super) in_flight: AtomicUsize,
    pub(super) settled: Notify,
    pub(super) timers: Mutex<TimerIndex>,
    pub(super) timers_changed: Notify,
    /// Finished batches, for the store to forget (in groups).
    pub(super) finished: mpsc::UnboundedSender<Finished>,
    /// Stored effects found unreadable at start and set aside.
    pub(super) set_aside: usize,
    pub(super) closed: AtomicBool,
    pub(super) stop: CancellationToken,
}

/// A handle on a running bus; clones share it.
///
/// # Ordering
///
/// - Effects routed to one state key are handled one at a time, in the order
///   they were dispatched: a command accepted by [`Bus::send`] before another
///   on the same key is handled before it.
/// - Effects on different keys run in parallel, on up to
///   [`Runtime::lanes`](crate::Runtime::lanes) tokio tasks (a key always
///   maps to the same lane).
/// - A handler's effects are dispatched in the order it emitted them, after
///   its state change and schedule changes are committed. Two effects it
///   emits towards one key are handled in that order.
/// - Queries read committed state directly; they never wait behind commands.
/// - A scheduled event can be already on its way when a handler cancels its
///   key: a handler of scheduled events checks that the event still applies
///   (a turn timeout names the turn it was for).
#[derive(Clone)]
pub struct Bus {
    pub(super) inner: Arc<Inner>,
}

impl Bus {
    /// The handler table.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The bus clock.
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// How many stored effects were unreadable at start and set aside.
    pub fn set_aside_at_start(&self) -> usize {
        self.inner.set_aside
    }

    /// Waits until every dispatched effect has been handled, including the
    /// effects those handlers emitted.
    pub async fn settle(&self) {
        loop {
            let settled = self.inner.settled.notified();
            if self.inner.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            settled.await;
        }
    }

    /// Stops accepting, lets queued work finish, then stops the lanes and
    /// the timer task.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.settle().await;
        self.inner.stop.cancel();
    }

    /// `Ok` while the bus takes new work.
    pub(super) fn accepting(&self) -> Result<(), BusError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            Err(BusError::Closed)
        } else {
            Ok(())
        }
    }

    /// One more job (or store write of finished work) in flight.
    pub(super) fn started_one(&self) {
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    /// One job (or store write of finished work) is done.
    pub(super) fn finished_one(&self) {
        if self.inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.settled.notify_waiters();
        }
    }

    /// The pending schedules.
    pub(super) fn timers(&self) -> MutexGuard<'_, TimerIndex> {
        self.inner
            .timers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The state a route names, as committed.
    pub(super) async fn load(&self, route: &Route) -> Result<Loaded, StoreError> {
        Ok(match route {
            Route::Skip | Route::Stateless => Loaded::Nothing,
            Route::Key(key) => Loaded::One(self.inner.store.load(key).await?),
            Route::All(state_type) => Loaded::All(
                self.inner
                    .store
                    .scan(state_type)
                    .await?
                    .into_iter()
                    .map(|(_, stored)| stored)
                    .collect(),
            ),
        })
    }
}
