//! The server-side runtime: tokio lanes, stores, the clock, timers and hooks
//! (cargo feature `runtime`; not built for the browser).
//!
//! Where each part of a handler's life is:
//!
//! - [`bus`]: the handle callers hold (send, publish, query, settle, stop)
//!   and what [`Bus::start`] sets up;
//! - [`lanes`]: how an effect reaches its lane (one task per group of state
//!   keys) and is run there, one at a time per key;
//! - [`handler_run`]: one run of a handler: hooks around it, a panic turned
//!   into an error, its outcome split into a commit;
//! - [`conflict_retry`]: how a version conflict is retried (run again on the
//!   fresh state);
//! - [`outbox_replay`]: how committed effects are tracked until every handler
//!   has run, and replayed after a crash;
//! - [`stored_effects`]: reading stored effects back, older shapes and
//!   unreadable entries included;
//! - [`scheduler`]: firing schedules on time; [`timers`] is its index.

mod bus;
mod clock;
mod conflict_retry;
mod error;
mod handler_run;
mod hooks;
mod lanes;
mod memory_store;
mod outbox_replay;
mod scheduler;
mod settings;
mod store;
mod stored_effects;
mod timers;

pub use bus::Bus;
pub use clock::{Clock, FakeClock, SystemClock};
pub use error::BusError;
pub use hooks::{
    CaptureHook, HandlerReport, HandlerRun, Histogram, Hook, MetricsHook, TracingHook,
};
pub use memory_store::MemoryStore;
pub use settings::Runtime;
pub use store::{
    BackendCause, Commit, Delivery, EffectText, Finished, OutboxEntry, OutboxId, PendingEntry,
    ScheduleId, ScheduleOp, Scheduled, SetAside, SetAsideSource, Store, StoreError, StoreFuture,
    StoredEffect,
};
pub use timers::{Timer, TimerIndex};
