//! The public API: three server functions that any HTTP client can call,
//! the browser included.
//!
//! - `POST /api/commands` with `{"command": {"type", "payload"}}`: 200 once
//!   the command is queued; its outcomes arrive as events on the socket.
//! - `POST /api/queries` with `{"query": {"type", "payload"}}`: 200 with the
//!   answer.
//! - `POST /api/events` with `{"event": {"type", "payload"}}`: for trusted
//!   services holding the configured token; off without one.
//!
//! Errors are `{"error": {"code", "message"}}` with the status of the code.

#[cfg(feature = "ssr")]
pub mod endpoints;
mod error;
#[cfg(feature = "ssr")]
pub mod sessions;

#[cfg(feature = "ssr")]
pub(crate) use error::with_status;
pub use error::{ApiError, ErrorBody, ErrorCode};

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// The answer to an accepted command or event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// Always `true`: queued, not yet handled.
    pub accepted: bool,
}

/// `POST /api/commands`: queues a command acting as the session's user.
#[server(prefix = "/api", endpoint = "commands", input = Json)]
pub async fn commands(command: serde_json::Value) -> Result<Accepted, ApiError> {
    error::with_status(endpoints::send_command(command).await)
}

/// `POST /api/queries`: answers a query from committed state.
#[server(prefix = "/api", endpoint = "queries", input = Json)]
pub async fn queries(query: serde_json::Value) -> Result<serde_json::Value, ApiError> {
    error::with_status(endpoints::answer_query(query).await)
}

/// `POST /api/me`: the session's user, if the browser has signed in.
#[server(prefix = "/api", endpoint = "me", input = Json)]
pub async fn me() -> Result<Option<domain::users::User>, ApiError> {
    error::with_status(endpoints::me().await)
}

/// `POST /api/events`: publishes an event from a trusted service.
#[server(prefix = "/api", endpoint = "events", input = Json)]
pub async fn events(event: serde_json::Value) -> Result<Accepted, ApiError> {
    error::with_status(endpoints::publish_event(event).await)
}
