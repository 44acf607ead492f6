//! [`Runtime`]: how a bus runs (its store, clock, hooks and parallelism),
//! set before [`Bus::start`](crate::Bus::start).

use std::sync::Arc;

use crate::runtime::clock::{Clock, SystemClock};
use crate::runtime::hooks::Hook;
use crate::runtime::memory_store::MemoryStore;
use crate::runtime::store::Store;

/// Lanes by default: enough that unrelated keys rarely share one, few
/// enough that an idle bus costs little (a lane is one parked task).
const DEFAULT_LANES: usize = 64;

/// How many times a handler runs again after a version conflict before its
/// effect is reported as failed: a conflict means another writer got in
/// between, and eight in a row means something is wrong, not busy.
const DEFAULT_CONFLICT_RETRIES: u32 = 8;

/// How the bus runs: its store, clock, hooks and parallelism.
pub struct Runtime {
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) hooks: Vec<Arc<dyn Hook>>,
    pub(super) lanes: usize,
    pub(super) drive_timers: bool,
    pub(super) conflict_retries: u32,
    pub(super) shared_schedules: Option<std::time::Duration>,
    pub(super) unhandled_in_outbox: bool,
}

impl Default for Runtime {
    fn default() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(SystemClock),
            hooks: Vec::new(),
            lanes: DEFAULT_LANES,
            drive_timers: true,
            conflict_retries: DEFAULT_CONFLICT_RETRIES,
            shared_schedules: None,
            unhandled_in_outbox: true,
        }
    }
}

impl Runtime {
    /// Memory store, system clock, 64 lanes, timers driven by a task.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps state in `store`.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = store;
        self
    }

    /// Reads time from `clock`. With a clock other than the system's, call
    /// [`Runtime::drive_timers`]`(false)` and fire timers with
    /// [`Bus::advance_to`](crate::Bus::advance_to).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Adds a hook.
    pub fn hook(mut self, hook: Arc<dyn Hook>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// How many lanes run handlers in parallel (at least one). Effects on one
    /// state key always share a lane.
    pub fn lanes(mut self, lanes: usize) -> Self {
        self.lanes = lanes.max(1);
        self
    }

    /// The store's schedules are shared with other processes (a cluster's
    /// nodes): each due schedule is claimed before it fires
    /// ([`Store::claim_schedule`]), so one process fires it, and every
    /// `poll` the bus claims and fires the due schedules no process holds
    /// ([`Store::claim_due_schedules`]): those others made, a dead one's
    /// among them. Off by default.
    pub fn shared_schedules(mut self, poll: std::time::Duration) -> Self {
        self.shared_schedules = Some(poll);
        self
    }

    /// Whether effects that no handler takes go through the outbox too (on
    /// by default). The outbox is there so that every handler an effect
    /// reaches runs, also across a crash; an effect no handler takes
    /// reaches only the hooks. Keep it on when a hook must still see such
    /// effects after a crash (a cluster's relay: another node republishes
    /// a dead node's entries). Off, they are dispatched after their commit
    /// as before, with nothing more written for them, and a crash between
    /// the commit and the dispatch keeps them from the hooks.
    pub fn unhandled_in_outbox(mut self, keep: bool) -> Self {
        self.unhandled_in_outbox = keep;
        self
    }

    /// Whether a task fires timers on the real clock (on by default).
    pub fn drive_timers(mut self, drive: bool) -> Self {
        self.drive_timers = drive;
        self
    }
}
