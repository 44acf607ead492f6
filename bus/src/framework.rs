//! Effects the bus defines itself: timers, state deletion and handler failures.

use std::any::Any;

use serde::{Deserialize, Serialize};

use crate::effect::{AnyEffect, Envelope, Event, Kind, to_json_value};
use crate::state::{State, StateKey};

/// Delivers `event` once, `after_ms` from now, unless the schedules under
/// `key` are cancelled first. With `updates_every_ms`, a
/// [`ScheduledEventUpdate`] goes out at that period until then.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleEvent {
    /// What to deliver when due.
    pub event: Envelope,
    /// Delay from the moment the emitting handler's change is committed.
    pub after_ms: u64,
    /// Groups schedules for [`CancelScheduledEvents`] (a game's id, say).
    pub key: String,
    /// Period of [`ScheduledEventUpdate`]s until the event is due.
    pub updates_every_ms: Option<u64>,
}

impl ScheduleEvent {
    /// Schedules `event` under `key`.
    pub fn new<E: Event>(event: E, after_ms: u64, key: impl Into<String>) -> Self {
        Self {
            event: Envelope::new(event),
            after_ms,
            key: key.into(),
            updates_every_ms: None,
        }
    }

    /// Also sends a [`ScheduledEventUpdate`] every `period_ms` until due.
    pub fn with_updates_every(mut self, period_ms: u64) -> Self {
        self.updates_every_ms = Some(period_ms.max(1));
        self
    }
}

/// Cancels every pending schedule under `key`.
#[derive(Debug, Clone, Serialize)]
pub struct CancelScheduledEvents {
    /// The key the schedules were made under.
    pub key: String,
}

/// Deletes a state, whichever handler owns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteState {
    /// The state's type.
    pub state_type: &'static str,
    /// The state's id.
    pub id: String,
}

impl DeleteState {
    /// Deletes the `S` with this id.
    pub fn of<S: State>(id: impl Into<String>) -> Self {
        Self {
            state_type: S::TYPE,
            id: id.into(),
        }
    }

    /// The key of the state to delete.
    pub fn key(&self) -> StateKey {
        StateKey {
            state_type: self.state_type,
            id: self.id.clone(),
        }
    }
}

macro_rules! framework_effects {
    ($($name:ident),*) => {$(
        impl AnyEffect for $name {
            fn type_name(&self) -> &'static str {
                stringify!($name)
            }
            fn kind(&self) -> Kind {
                Kind::Framework
            }
            fn payload_json(&self) -> serde_json::Value {
                to_json_value(self)
            }
            fn as_any(&self) -> &dyn Any {
                self
            }
        }
        impl From<$name> for Envelope {
            fn from(effect: $name) -> Self {
                Envelope::framework(effect)
            }
        }
    )*};
}

framework_effects!(ScheduleEvent, CancelScheduledEvents, DeleteState);

/// A handler returned an error or panicked. The state it would have changed
/// is as it was, none of its effects went out, and the bus went on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusHandlerFailed {
    /// The handler's name (its function's path).
    pub handler: String,
    /// The effect it was handling, as `{"type", "payload"}`.
    pub effect: serde_json::Value,
    /// What went wrong, in words.
    pub reason: String,
}

/// A periodic update of a pending [`ScheduleEvent`] that asked for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledEventUpdate {
    /// The schedule's key.
    pub key: String,
    /// The wire name of the event that is pending.
    pub event_type: String,
    /// When it is due, on the bus clock.
    pub due_at_ms: u64,
    /// How long until then.
    pub remaining_ms: u64,
}

crate::events!(BusHandlerFailed, ScheduledEventUpdate);
