//! The tic-tac-toe server: wiring of configuration, routes, the event
//! WebSocket and shutdown. `main.rs` only parses flags and calls [`serve`].
#![forbid(unsafe_code)]

pub mod config;
pub mod routes;
pub mod shutdown;
pub mod socket;
pub mod state;

use std::io;

use leptos::config::{Env, LeptosOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use state::AppState;

/// The name cargo-leptos gives the WASM, JS and CSS bundle (`name` in the
/// workspace's `[[workspace.metadata.leptos]]`).
pub const BUNDLE_NAME: &str = "tictactoe";

/// Builds the shared state for `config`, whose server stops when `shutdown`
/// is cancelled.
pub fn state(
    config: &Config,
    listening_on: std::net::SocketAddr,
    shutdown: CancellationToken,
) -> AppState {
    let env = match std::env::var("LEPTOS_ENV").as_deref() {
        Ok("DEV" | "dev" | "development") => Env::DEV,
        _ => Env::PROD,
    };
    let leptos = LeptosOptions::builder()
        .output_name(BUNDLE_NAME)
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_addr(listening_on)
        .env(env)
        .build();
    AppState {
        leptos,
        live: Default::default(),
        shutdown,
        ws_ping_interval: config.ws_ping_interval(),
    }
}

/// Serves on `listener` until `shutdown` is cancelled, then lets open
/// requests finish for up to the configured grace period.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let state = state(&config, addr, shutdown.clone());
    let app = routes::router(state);
    tracing::info!("listening on http://{addr}");

    let graceful =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let grace = config.shutdown_grace();
    tokio::select! {
        served = graceful => served,
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "requests still open after the grace period; stopping anyway");
            Ok(())
        }
    }
}
