//! What every request handler can reach.

use std::sync::Arc;
use std::time::Duration;

use app::api::endpoints::ApiContext;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use tokio_util::sync::CancellationToken;

use crate::event_routing::Hub;
use crate::live_sockets::LiveSockets;
use crate::rate_limit::RateLimiter;

/// Shared server state: a handle, so a clone (one per request, one per
/// socket task) is one reference count, not a copy of every field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Shares `shared`.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }

    /// Socket `id` of this process as presence and spectating know it.
    pub fn connection_uuid(&self, id: crate::event_routing::ConnectionId) -> uuid::Uuid {
        uuid::Uuid::from_u64_pair(self.instance, id)
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// Where the site's files are and what the bundle is called.
    pub leptos: LeptosOptions,
    /// The bus, the sessions and the API's settings.
    pub api: ApiContext,
    /// Routes events to sockets.
    pub hub: Arc<Hub>,
    /// Event WebSockets open right now.
    pub live: LiveSockets,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// Silence on a socket before the server pings it.
    pub ws_ping_interval: Duration,
    /// How long a user stays online after their last socket closes.
    pub presence_grace: Duration,
    /// Requests per session.
    pub limiter: Arc<RateLimiter>,
    /// The largest API request body, and how long it may take.
    pub body_limit: crate::body_limit::BodyLimit,
    /// This process, in connection ids (so ids from two nodes never meet).
    pub instance: u64,
    /// The sockets of signed-in users here, as presence should know them.
    pub presence_roll: Arc<crate::presence_roll::PresenceRoll>,
    /// Which origin is this site's.
    pub site: crate::same_site::Site,
    /// Passed before anything is sent: the store's commits on disk.
    pub barrier: crate::storage::Barrier,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
