#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod builder;
pub mod effect;
pub mod framework;
pub mod handler;
pub mod outcome;
pub mod state;

#[cfg(feature = "runtime")]
pub mod runtime;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use builder::{BuildError, BusBuilder, DecodeError, Registry};
pub use effect::{AnyEffect, Command, Effect, Envelope, Event, Kind, Query};
pub use framework::{
    BusHandlerFailed, CancelScheduledEvents, DeleteState, ScheduleEvent, ScheduledEventUpdate,
};
pub use handler::{Fetch, answer, answer_all, by_id, key, managed, over_all, singleton, stateless};
pub use outcome::{Change, Ctx, HandlerError, IntoOutcome, Outcome};
pub use state::{State, StateKey};

#[cfg(feature = "runtime")]
pub use runtime::{
    bus::{Bus, BusError, Runtime},
    clock::{Clock, FakeClock, SystemClock},
    hooks::{CaptureHook, Hook, MetricsHook, TracingHook},
    store::{MemoryStore, Store, StoreError},
};
