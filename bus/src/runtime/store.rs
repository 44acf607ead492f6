//! Where managed state, pending schedules and the outbox live.
//!
//! A [`Store`] keeps states by [`StateKey`] with a version for optimistic
//! concurrency, the pending schedules, and the outbox. Every handler's result
//! is written with one [`Store::commit`]: the state change, the schedule
//! changes and the effects it emitted (an [`OutboxEntry`]), together. An
//! entry stays until every handler its effects reach has run; each of those
//! runs records its [`Delivery`] in its own commit, so after a crash the bus
//! republishes what was left and skips what was handled. The
//! [`MemoryStore`](crate::MemoryStore) keeps live values and never
//! serialises; durable stores keep JSON with its schema version (see
//! [`StateBody`] and [`StoredEffect`]), and keep aside what a later release
//! can no longer read ([`Store::set_aside`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::effect::Envelope;
use crate::outcome::Change;
use crate::state::{StateBody, StateKey, Stored};

/// A backend's own error, kept as the cause of a [`StoreError::Backend`].
pub type BackendCause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// The future a store operation returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Someone else wrote the state since it was read: run the handler again
    /// on the fresh state.
    #[error("{key} changed since it was read (expected version {expected:?}, found {found:?})")]
    Conflict {
        /// The state.
        key: StateKey,
        /// The version the handler saw (`None`: no state).
        expected: Option<u64>,
        /// The version in the store (`None`: no state).
        found: Option<u64>,
    },
    /// The backend failed (I/O, connection, corrupt data).
    #[error("store backend: {context}")]
    Backend {
        /// What the store was doing.
        context: String,
        /// What the backend said, if it said anything.
        #[source]
        cause: Option<BackendCause>,
    },
}

impl StoreError {
    /// The backend failed at `context` with `cause`.
    pub fn backend(
        context: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Backend {
            context: context.into(),
            cause: Some(Arc::new(cause)),
        }
    }

    /// The backend failed at `context`, for a reason it states itself.
    pub fn backend_says(context: impl Into<String>) -> Self {
        Self::Backend {
            context: context.into(),
            cause: None,
        }
    }
}

/// An identifier of one pending schedule.
pub type ScheduleId = u128;

/// An identifier of one outbox entry.
pub type OutboxId = u128;

/// An effect as a store holds it (a schedule's event, an outbox effect).
#[derive(Debug, Clone)]
pub enum StoredEffect {
    /// The effect itself (memory).
    Live(Envelope),
    /// Its wire form, decoded by the bus's registry (durable stores).
    Json(EffectText),
}

/// An effect as JSON text, as a durable store writes and reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectText {
    /// The effect's wire name.
    pub effect_type: String,
    /// The schema version its payload was written at.
    pub schema_version: u32,
    /// Its payload as JSON text.
    pub payload: String,
}

impl StoredEffect {
    /// The wire name, schema version and JSON payload, for a durable store
    /// to write.
    pub fn to_text(&self) -> EffectText {
        match self {
            Self::Live(effect) => EffectText::of(effect),
            Self::Json(text) => text.clone(),
        }
    }
}

impl EffectText {
    /// The text of a live effect.
    pub fn of(effect: &Envelope) -> Self {
        Self {
            effect_type: effect.type_name().to_owned(),
            schema_version: effect.schema_version(),
            payload: effect.payload_text(),
        }
    }
}

/// A pending schedule.
#[derive(Debug, Clone)]
pub struct Scheduled {
    /// Unique among pending schedules.
    pub id: ScheduleId,
    /// The key it was scheduled under, for cancelling.
    pub key: String,
    /// When it is due, on the bus clock (ms since the Unix epoch).
    pub due_at_ms: u64,
    /// Period of update events until due, if asked for.
    pub updates_every_ms: Option<u64>,
    /// What to deliver.
    pub event: StoredEffect,
}

/// A change to the pending schedules, in the order the handler emitted it.
#[derive(Debug, Clone)]
pub enum ScheduleOp {
    /// Drop every pending schedule under this key.
    Cancel {
        /// The key.
        key: String,
    },
    /// Add this schedule.
    Add(Scheduled),
}

/// The effects one handler run emitted (schedules aside), committed with its
/// result and kept until every handler they reach has run.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    /// Unique among entries.
    pub id: OutboxId,
    /// The effects, in the order they were emitted.
    pub effects: Vec<Envelope>,
}

/// One effect of an outbox entry, handled by one of the handlers it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delivery {
    /// The entry.
    pub entry: OutboxId,
    /// The effect's position in the entry.
    pub position: u32,
    /// The handler's position among those of the effect (0 for a command).
    pub handler: u32,
}

/// An outbox entry not finished yet, as found at start-up.
#[derive(Debug, Clone)]
pub struct PendingEntry {
    /// The entry.
    pub id: OutboxId,
    /// Its effects, in order.
    pub effects: Vec<StoredEffect>,
    /// The (position, handler) pairs already handled.
    pub handled: Vec<(u32, u32)>,
}

/// Where a stored effect that could not be read was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetAsideSource {
    /// A pending schedule's event: the schedule is moved aside.
    Schedule(ScheduleId),
    /// One effect of an outbox entry: the entry's other effects are
    /// delivered as usual.
    Outbox {
        /// The entry.
        entry: OutboxId,
        /// The effect's position in it.
        position: u32,
    },
}

/// A stored effect this release cannot read, kept aside with the reason
/// for an operator to look at (and, once a release reads it, replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// Where it was.
    pub source: SetAsideSource,
    /// The effect as it was stored.
    pub effect: EffectText,
    /// Why it does not read.
    pub reason: String,
}

/// Work the bus is done with, for the store to forget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Every handler the entry's effects reach has run.
    Entry(OutboxId),
    /// The schedule fired and its handlers have run.
    Schedule(ScheduleId),
}

/// Everything one handler run writes, applied all or nothing.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The handler's state, if it has one.
    pub key: Option<StateKey>,
    /// The version the handler read (`None`: there was no state). Checked
    /// even when the state is kept, so a decision made on stale state never
    /// commits.
    pub expected_version: Option<u64>,
    /// What happens to the state.
    pub change: Change<StateBody>,
    /// Schedule changes, in order.
    pub schedules: Vec<ScheduleOp>,
    /// The effects to publish once committed, if any.
    pub outbox: Option<OutboxEntry>,
    /// The outbox delivery this run handled, if it handled one.
    pub delivery: Option<Delivery>,
}

impl Commit {
    /// A commit that changes the state at `key` (or nothing, with `None`)
    /// and nothing else.
    pub fn state(
        key: Option<StateKey>,
        expected_version: Option<u64>,
        change: Change<StateBody>,
    ) -> Self {
        Self {
            key,
            expected_version,
            change,
            schedules: Vec::new(),
            outbox: None,
            delivery: None,
        }
    }
}

/// A place for managed state and pending schedules.
pub trait Store: Send + Sync + 'static {
    /// The state at `key`, if any.
    fn load<'a>(&'a self, key: &'a StateKey) -> StoreFuture<'a, Option<Stored>>;
    /// Every state of a type, in no particular order.
    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>>;
    /// Applies a handler's result atomically, or fails with
    /// [`StoreError::Conflict`] and changes nothing.
    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()>;
    /// Every pending schedule (read at start-up).
    fn pending_schedules(&self) -> StoreFuture<'_, Vec<Scheduled>>;
    /// Every outbox entry not finished, in the order they were committed
    /// (read at start-up).
    fn pending_outbox(&self) -> StoreFuture<'_, Vec<PendingEntry>>;
    /// Forgets finished entries (with their deliveries) and fired schedules.
    fn finish(&self, finished: Vec<Finished>) -> StoreFuture<'_, ()>;
    /// Keeps unreadable stored effects aside, with their reasons: a pending
    /// schedule moves out of the schedules; an outbox effect is copied (its
    /// entry is finished as usual). Setting the same effect aside twice (a
    /// second start before its entry finished) keeps one copy.
    fn set_aside(&self, unreadable: Vec<SetAside>) -> StoreFuture<'_, ()>;
    /// Whether the store answers now (a health check: a round trip to a
    /// database server). A store in this process always does; a store that
    /// wraps another must ask the inner one.
    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    /// Claims a schedule this process found due, so that one process of
    /// several sharing the store fires it: whether it is this one's to
    /// fire (`false`: it was cancelled, fired, or claimed by another).
    /// A store only this process uses has nothing to claim.
    fn claim_schedule(&self, _id: ScheduleId, _now_ms: u64) -> StoreFuture<'_, bool> {
        Box::pin(async { Ok(true) })
    }
    /// Claims the schedules due by `now_ms` that no process holds, for this
    /// one to fire (those other processes made, a dead one's among them).
    /// A store only this process uses has none.
    fn claim_due_schedules(&self, _now_ms: u64) -> StoreFuture<'_, Vec<Scheduled>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
