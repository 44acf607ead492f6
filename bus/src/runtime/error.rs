//! Why the bus refused a call or could not answer it.

use crate::builder::DecodeError;
use crate::effect::{Envelope, Kind};
use crate::runtime::store::StoreError;

/// Why the bus refused or could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BusError {
    /// Nothing handles this command or query.
    #[error("no handler for {0}")]
    NoHandler(&'static str),
    /// Only commands are sent, events published, queries asked.
    #[error("{effect} is a {kind:?}, not a {expected:?}")]
    WrongKind {
        /// The effect.
        effect: &'static str,
        /// What it is.
        kind: Kind,
        /// What the call takes.
        expected: Kind,
    },
    /// The bus is shutting down.
    #[error("the bus is shut down")]
    Closed,
    /// The query handler failed.
    #[error("query {query} failed: {reason}")]
    QueryFailed {
        /// The query's wire name.
        query: &'static str,
        /// What went wrong (the handler's error, or its panic).
        reason: String,
    },
    /// A command's handler failed, or its state kept changing under it:
    /// nothing of it was applied.
    #[error("command {command} was not applied: {reason}")]
    CommandFailed {
        /// The command's wire name.
        command: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// A handler of an event published with
    /// [`Bus::publish_committed`](crate::Bus::publish_committed) failed, or
    /// its state kept changing under it: that run was not applied.
    #[error("event {event} was not applied: {reason}")]
    EventFailed {
        /// The event's wire name.
        event: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A JSON effect did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// `Ok` when `effect` is of the `expected` kind.
pub(super) fn expect_kind(effect: &Envelope, expected: Kind) -> Result<(), BusError> {
    if effect.kind() == expected {
        Ok(())
    } else {
        Err(BusError::WrongKind {
            effect: effect.type_name(),
            kind: effect.kind(),
            expected,
        })
    }
}
