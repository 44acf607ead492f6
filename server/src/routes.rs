//! The HTTP routes: health, the event WebSocket, server functions (the API),
//! pages and static files.

use app::server_status::ssr::{OpenSockets, ServerClock};
use app::socket_frames::SOCKET_PATH;
use app::{App, shell};
use axum::Router;
use axum::routing::get;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::TraceLayer;

use crate::body_limit::limit_body;
use crate::rate_limit::{RateLimit, limit_rate};
use crate::same_site::from_this_site;
use crate::socket;
use crate::state::AppState;

/// Every route of the site.
pub fn router(state: AppState) -> Router {
    let pages = generate_route_list(App);
    let live = state.live.clone();
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
        .route("/healthz", get(healthz))
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
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /healthz`: 200 while the server serves.
async fn healthz() -> &'static str {
    "ok"
}
