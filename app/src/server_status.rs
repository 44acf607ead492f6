//! A server function that answers what the server is and how busy it is: the
//! smallest round trip through the command/query channel.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::ApiError;

/// The server's answer to [`fetch_server_status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    /// The server's crate version.
    pub version: String,
    /// Server time, in milliseconds since the Unix epoch.
    pub server_time_ms: u64,
    /// Event WebSockets open on this server right now.
    pub live_connections: u64,
}

domain::json_struct!(ServerStatus {
    version,
    server_time_ms,
    live_connections
});

/// Asks the server for its [`ServerStatus`].
#[server(prefix = "/api", endpoint = "status", input = leptos::server_fn::codec::Json)]
pub async fn fetch_server_status() -> Result<ServerStatus, ApiError> {
    // The API's error, as every other server function answers: Leptos's
    // own `ServerFnError` brought its codec into the bundle for this one.
    let missing = || {
        ApiError::new(
            crate::api::ErrorCode::Internal,
            "the server did not provide its status",
        )
    };
    let status = || {
        let ssr::OpenSockets(open) = use_context::<ssr::OpenSockets>().ok_or_else(missing)?;
        let ssr::ServerClock(now_ms) = use_context::<ssr::ServerClock>().ok_or_else(missing)?;
        Ok(ServerStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            server_time_ms: now_ms(),
            live_connections: open(),
        })
    };
    crate::api::with_status(status())
}

/// What the server provides for [`fetch_server_status`] to read.
#[cfg(feature = "ssr")]
pub mod ssr {
    use std::sync::Arc;

    /// How many event sockets are open, as the server counts them; in
    /// every request's context.
    #[derive(Clone)]
    pub struct OpenSockets(pub Arc<dyn Fn() -> u64 + Send + Sync>);

    /// Server time for the status, in milliseconds since the Unix epoch;
    /// in every request's context (the bus clock).
    #[derive(Clone)]
    pub struct ServerClock(pub Arc<dyn Fn() -> u64 + Send + Sync>);
}

/// `hh:mm:ss UTC` of a server time, for people.
pub fn clock_time(ms_since_epoch: u64) -> String {
    let seconds_of_day = (ms_since_epoch / 1000) % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::clock_time;

    #[test]
    fn formats_time_of_day_in_utc() {
        // 2026-11-27T21:55:03.250Z
        assert_eq!(clock_time(1_795_816_503_250), "21:55:03 UTC");
        assert_eq!(clock_time(0), "00:00:00 UTC");
    }
}
