//! The HTTP routes: health, the event WebSocket, server functions (the API),
//! pages and static files.

use app::wire::SOCKET_PATH;
use app::{App, shell};
use axum::Router;
use axum::routing::get;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use crate::{guard, socket};

/// Every route of the site.
pub fn router(state: AppState) -> Router {
    let pages = generate_route_list(App);
    let (live, api) = (state.live.clone(), state.api.clone());
    let context = move || {
        provide_context(live.clone());
        provide_context(api.clone());
    };
    let options = state.leptos.clone();
    let render = move || shell(options.clone());

    Router::new()
        .route("/healthz", get(healthz))
        .route(SOCKET_PATH, get(socket::upgrade))
        .leptos_routes_with_context(&state, pages, context, render)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /healthz`: 200 while the server serves.
async fn healthz() -> &'static str {
    "ok"
}
