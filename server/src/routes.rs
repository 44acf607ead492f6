//! The HTTP routes: health, the event WebSocket, server functions (the API),
//! pages and static files.

use app::server_status::ssr::{OpenSockets, ServerClock};
use app::shell;
use app::socket_frames::SOCKET_PATH;
use std::sync::Arc;
use std::time::Duration;

use app::api::{ApiError, ErrorCode};
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes};
use leptos_router::{Method, SsrMode};
use tower_http::trace::TraceLayer;

use crate::body_limit::limit_body;
use crate::connection_caps::ConnectionCaps;
use crate::live_sockets::LiveSockets;
use crate::rate_limit::{RateLimit, limit_rate};
use crate::same_site::from_this_site;
use crate::socket;
use crate::state::AppState;

/// What the operators' routes look at.
#[derive(Clone)]
pub struct Operations {
    /// The store, for the health check.
    pub store: Arc<dyn bus::Store>,
    /// The connection caps, for the connections open.
    pub caps: Arc<ConnectionCaps>,
    /// The cluster's NATS, on a node of one.
    pub nats: Option<async_nats::Client>,
}

/// How long the health check waits for the database.
const HEALTH_PATIENCE: Duration = Duration::from_secs(2);

/// Every route of the site.
pub fn router(state: AppState, operations: Operations) -> Router {
    // The app's pages, from its own table (`app::router`).
    let pages = app::router::ROUTES
        .iter()
        .map(|(_, path)| {
            AxumRouteListing::new(path.to_string(), SsrMode::default(), [Method::Get], [])
        })
        .collect::<Vec<_>>();
    let live = state.live.clone();
    let live_for_metrics = state.live.clone();
    let open = OpenSockets(std::sync::Arc::new(move || live.count()));
    let bus = state.api.bus.clone();
    let clock = ServerClock(std::sync::Arc::new(move || bus.now_ms()));
    let api = state.api.clone();
    let context = move || {
        provide_context(open.clone());
        provide_context(clock.clone());
        provide_context(api.clone());
    };
    let options = state.leptos.clone();
    let render = move || shell(options.clone());

    Router::new()
        .route("/healthz", get(healthz).with_state(operations.clone()))
        .route(
            "/metrics",
            get(move || metrics(live_for_metrics.clone(), operations.caps.clone())),
        )
        .route(SOCKET_PATH, get(socket::upgrade))
        .leptos_routes_with_context(&state, pages, context, render)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // The last layer runs first: the rate limit, then the origin and
        // media type, then the body's size, before the body is read.
        .layer(axum::middleware::from_fn_with_state(
            state.body_limit,
            limit_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.site.clone(),
            from_this_site,
        ))
        .layer(axum::middleware::from_fn_with_state(
            RateLimit {
                limiter: state.limiter.clone(),
                sessions: state.api.sessions.clone(),
            },
            limit_rate,
        ))
        // On the way out, before the trace: an answer leaves once what it
        // tells is on disk.
        .layer(axum::middleware::from_fn_with_state(
            state.barrier.clone(),
            crate::on_disk_first::pass_barrier,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /healthz`: 200 while the server serves, its database answers and,
/// on a cluster node, NATS is connected (a load balancer takes the node
/// out on anything else), 503 in the API's error shape when not.
async fn healthz(State(operations): State<Operations>) -> Response {
    if let Some(nats) = &operations.nats
        && !crate::cluster::nats::connected(nats)
    {
        return ApiError::new(ErrorCode::Unavailable, "NATS is not reachable").into_response();
    }
    match tokio::time::timeout(HEALTH_PATIENCE, operations.store.ping()).await {
        Ok(Ok(())) => "ok".into_response(),
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "health check: the database fails");
            ApiError::new(ErrorCode::Unavailable, "the database does not answer").into_response()
        }
        Err(_) => ApiError::new(
            ErrorCode::Unavailable,
            format!("the database did not answer within {HEALTH_PATIENCE:?}"),
        )
        .into_response(),
    }
}

/// `GET /metrics`: Prometheus text (see [`crate::metrics`]).
async fn metrics(live: LiveSockets, caps: Arc<ConnectionCaps>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(live.count(), caps.open()),
    )
        .into_response()
}
