//! The effect bus: commands, events, queries and managed-state handlers.
//!
//! This crate knows nothing of games. Its core (effect kinds, handler and
//! state types) builds for `wasm32-unknown-unknown` so that `domain` can run in
//! the browser; the tokio runtime sits behind a cargo feature that only the
//! server enables.
#![forbid(unsafe_code)]

use serde::{Serialize, de::DeserializeOwned};

/// An effect that travels on the bus and over the wire: a plain serde type
/// with a stable name, used as the `type` tag of `{"type", "payload"}`.
pub trait Effect: Serialize + DeserializeOwned + Send + 'static {
    /// The name of the effect on the wire, stable across releases.
    const TYPE: &'static str;
}
