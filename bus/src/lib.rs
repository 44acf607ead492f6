#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
mod effect;
mod framework;
mod handler;
mod outcome;
mod schema;
mod state;
mod with_field;

#[cfg(feature = "runtime")]
mod runtime;
#[cfg(feature = "testkit")]
mod store_contract;
/// Given / when / then against the real bus (cargo feature `testkit`).
#[cfg(feature = "testkit")]
pub mod testkit;

pub use builder::{BuildError, BusBuilder, DecodeError, Registry};
pub use effect::{AnyEffect, Command, Effect, Envelope, Event, Kind, Query};
pub use framework::{
    BusHandlerFailed, CancelScheduledEvents, DeleteState, ScheduleEvent, ScheduledEventUpdate,
};
pub use handler::{Fetch, answer, answer_all, by_id, key, managed, over_all, singleton, stateless};
pub use outcome::{Change, Ctx, HandlerError, IntoOutcome, Outcome};
pub use state::{AnyState, State, StateBody, StateError, StateKey, Stored};

pub use schema::{SchemaError, Upcast};

#[cfg(feature = "runtime")]
pub use runtime::{
    BackendCause, Bus, BusError, CaptureHook, Clock, Commit, Delivery, EffectText, FakeClock,
    Finished, HandlerReport, HandlerRun, Histogram, Hook, MemoryStore, MetricsHook, OutboxEntry,
    OutboxId, PendingEntry, Runtime, ScheduleId, ScheduleOp, Scheduled, SetAside, SetAsideSource,
    Store, StoreError, StoreFuture, StoredEffect, SystemClock, TracingHook,
};
/// The in-memory timer index, for the bus's own benchmark only.
#[cfg(feature = "runtime")]
#[doc(hidden)]
pub use runtime::{Timer, TimerIndex};
