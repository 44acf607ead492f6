//! What every request handler can reach.

use std::time::Duration;

use app::server_status::ssr::LiveConnections;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use tokio_util::sync::CancellationToken;

/// Shared, cheaply cloned server state.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Where the site's files are and what the bundle is called.
    pub leptos: LeptosOptions,
    /// Event WebSockets open right now.
    pub live: LiveConnections,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// Silence on a socket before the server pings it.
    pub ws_ping_interval: Duration,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
