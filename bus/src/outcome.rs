//! What a handler returns: the new state and the effects to dispatch.

use std::fmt;

use crate::effect::{Effect, Envelope, Event};
use crate::framework::{CancelScheduledEvents, DeleteState, ScheduleEvent};
use crate::state::{State, StateError};

/// What happens to the handler's state.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<S> {
    /// Left as it was (no write).
    Keep,
    /// Replaced by this value (created if there was none).
    Set(S),
    /// Removed.
    Delete,
}

/// A handler's result: a [`Change`] to its state, then effects, dispatched in
/// order once the change is committed.
///
/// ```
/// # use bus::{Outcome, Change};
/// # #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] struct Counter(u32);
/// # bus::states!(Counter);
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)] struct Counted { total: u32 }
/// # bus::events!(Counted);
/// let outcome = Outcome::set(Counter(3)).emit(Counted { total: 3 });
/// assert_eq!(outcome.change(), &Change::Set(Counter(3)));
/// assert_eq!(outcome.emitted()[0].type_name(), "Counted");
/// ```
#[derive(Debug)]
pub struct Outcome<S = ()> {
    change: Change<S>,
    emitted: Vec<Envelope>,
}

impl<S> Outcome<S> {
    /// Leaves the state as it was.
    pub fn keep() -> Self {
        Self {
            change: Change::Keep,
            emitted: Vec::new(),
        }
    }

    /// Sets the state to `state`.
    pub fn set(state: S) -> Self {
        Self {
            change: Change::Set(state),
            emitted: Vec::new(),
        }
    }

    /// Deletes the state.
    pub fn delete() -> Self {
        Self {
            change: Change::Delete,
            emitted: Vec::new(),
        }
    }

    /// Adds a command or an event to dispatch after the commit.
    pub fn emit<E: Effect>(mut self, effect: E) -> Self {
        const { assert!(E::KIND.can_be_emitted(), "a handler cannot emit a query") };
        self.emitted.push(Envelope::new(effect));
        self
    }

    /// Schedules `event` for `after_ms` from now under `key`.
    pub fn schedule<E: Event>(self, event: E, after_ms: u64, key: impl Into<String>) -> Self {
        self.schedule_with(ScheduleEvent::new(event, after_ms, key))
    }

    /// Adds a [`ScheduleEvent`] built by hand (with periodic updates, say).
    pub fn schedule_with(mut self, schedule: ScheduleEvent) -> Self {
        self.emitted.push(schedule.into());
        self
    }

    /// Cancels every pending schedule under `key`.
    pub fn cancel_schedules(mut self, key: impl Into<String>) -> Self {
        self.emitted
            .push(CancelScheduledEvents { key: key.into() }.into());
        self
    }

    /// Deletes another state (not this handler's own: use [`Outcome::delete`]).
    pub fn delete_state<T: State>(mut self, id: impl Into<String>) -> Self {
        self.emitted.push(DeleteState::of::<T>(id).into());
        self
    }

    /// What happens to the state.
    pub fn change(&self) -> &Change<S> {
        &self.change
    }

    /// The new state, if the handler set one.
    pub fn state(&self) -> Option<&S> {
        match &self.change {
            Change::Set(state) => Some(state),
            Change::Keep | Change::Delete => None,
        }
    }

    /// The effects to dispatch, in order.
    pub fn emitted(&self) -> &[Envelope] {
        &self.emitted
    }

    /// The effects as `{"type", "payload"}` JSON, for assertions.
    pub fn emitted_json(&self) -> Vec<serde_json::Value> {
        self.emitted.iter().map(Envelope::to_json).collect()
    }

    /// Splits into the change and the effects.
    pub fn into_parts(self) -> (Change<S>, Vec<Envelope>) {
        (self.change, self.emitted)
    }

    /// Puts an outcome back together from [`Outcome::into_parts`], to
    /// combine the effects of two outcomes under one change.
    pub fn from_parts(change: Change<S>, emitted: Vec<Envelope>) -> Self {
        Self { change, emitted }
    }
}

impl Outcome<()> {
    /// No state, no effects: for stateless handlers and conditions not met.
    pub fn nothing() -> Self {
        Self::keep()
    }
}

/// A handler that could not do its job: a bug or broken data, not a rule
/// refusal (refusals are events the domain defines). The bus turns it into
/// [`BusHandlerFailed`](crate::BusHandlerFailed), with its causes.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The handler failed, for the reason it gives.
    #[error("{0}")]
    Failed(String),
    /// The state it manages does not read.
    #[error("{state_type}: {cause}")]
    State {
        /// The state's type.
        state_type: &'static str,
        /// Why.
        #[source]
        cause: StateError,
    },
    /// The bus handed it something it does not take (a bug in the bus).
    #[error("{0}")]
    Misrouted(String),
}

impl HandlerError {
    /// An error with this reason.
    pub fn new(reason: impl fmt::Display) -> Self {
        Self::Failed(reason.to_string())
    }
}

impl From<&str> for HandlerError {
    fn from(reason: &str) -> Self {
        Self::Failed(reason.to_owned())
    }
}

impl From<String> for HandlerError {
    fn from(reason: String) -> Self {
        Self::Failed(reason)
    }
}

/// What a handler may return: an [`Outcome`], or a `Result` of one.
pub trait IntoOutcome<S> {
    /// The outcome, or why there is none.
    fn into_outcome(self) -> Result<Outcome<S>, HandlerError>;
}

impl<S> IntoOutcome<S> for Outcome<S> {
    fn into_outcome(self) -> Result<Outcome<S>, HandlerError> {
        Ok(self)
    }
}

impl<S, E: Into<HandlerError>> IntoOutcome<S> for Result<Outcome<S>, E> {
    fn into_outcome(self) -> Result<Outcome<S>, HandlerError> {
        self.map_err(Into::into)
    }
}

/// What a handler knows besides its state and its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    now_ms: u64,
}

impl Ctx {
    /// A context at this bus time (tests build their own).
    pub const fn at(now_ms: u64) -> Self {
        Self { now_ms }
    }

    /// The bus clock when the handler runs, in milliseconds since the Unix
    /// epoch (a fake clock in tests).
    pub const fn now_ms(&self) -> u64 {
        self.now_ms
    }
}
