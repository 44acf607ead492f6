//! The server-side runtime: tokio lanes, stores, the clock, timers and hooks
//! (cargo feature `runtime`; not built for the browser).
//!
//! Where each part of a handler's life is:
//!
//! - `bus.rs`: the handle callers hold and what its clones share (settle,
//!   shut down); each file below adds to it, depending only on those above
//!   it in this list;
//! - `batch.rs`, `job.rs`: a commit's effects counted until handled, and
//!   what a lane runs;
//! - `handler_run.rs`: one run of a handler: hooks around it, a panic turned
//!   into an error, its outcome split into a commit;
//! - `conflict_retry.rs`: how a version conflict is retried (run again on
//!   the fresh state);
//! - `lanes.rs`: how a command reaches its lane (send, publish, dispatch of
//!   a handler's effects) and what a lane does with it;
//! - `query.rs`: how a query is answered;
//! - `scheduler.rs`: firing schedules on time (`timers.rs` is its index);
//! - `stored_effects.rs`: reading stored effects back, older shapes and
//!   unreadable entries included;
//! - `outbox_replay.rs`: how the outbox is replayed after a crash;
//! - `start.rs`: what [`Bus::start`] sets up.

mod batch;
mod bus;
mod clock;
mod conflict_retry;
mod error;
mod handler_run;
mod hooks;
mod job;
mod lanes;
mod memory_store;
mod outbox_replay;
mod query;
mod scheduler;
mod settings;
mod start;
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
