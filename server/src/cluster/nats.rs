//! The node's connection to NATS in cluster mode (`--nats-url`): made in
//! the background and remade by itself after an outage (async-nats
//! retries with a backoff of up to 4 s, forever), so a node starts and
//! keeps its sockets while NATS is away, and `/healthz` says whether it is
//! connected now.
//!
//! Only core publish/subscribe is used: Debian's nats-server 2.9 serves it
//! (async-nats's 2.10+ features are off, see `server/Cargo.toml`).

use async_nats::connection::State;
use async_nats::{Client, ConnectOptions, Event};

/// Connects to `url` as node `node`, in the background: the client is
/// returned at once, connected or not. `reconnected` is notified each time
/// the connection is made again after it was lost (what the other nodes
/// sent meanwhile did not arrive).
pub async fn connect(
    url: &str,
    node: &str,
    reconnected: std::sync::Arc<tokio::sync::Notify>,
) -> Result<Client, async_nats::ConnectError> {
    let node_name = node.to_owned();
    let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    ConnectOptions::new()
        .name(format!("tictactoe {node}"))
        .retry_on_initial_connect()
        // A node's hub routes its own events: it never needs them back.
        .no_echo()
        .max_reconnects(None)
        .event_callback(move |event| {
            let node = node_name.clone();
            let (lost, reconnected) = (lost.clone(), reconnected.clone());
            async move {
                use std::sync::atomic::Ordering;
                match event {
                    Event::Connected => {
                        tracing::info!(node, "NATS connected");
                        if lost.swap(false, Ordering::SeqCst) {
                            reconnected.notify_one();
                        }
                    }
                    Event::Disconnected => {
                        lost.store(true, Ordering::SeqCst);
                        tracing::warn!(node, "NATS disconnected; reconnecting");
                    }
                    other => tracing::info!(node, event = %other, "NATS"),
                }
            }
        })
        .connect(url)
        .await
}

/// Whether `client` is connected now.
pub fn connected(client: &Client) -> bool {
    matches!(client.connection_state(), State::Connected)
}
