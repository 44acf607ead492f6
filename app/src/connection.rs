//! The browser's live link to the server: one WebSocket at
//! [`SOCKET_PATH`](crate::wire::SOCKET_PATH), reopened with backoff whenever it
//! drops, and its state as a signal every component can read.

use leptos::prelude::*;

/// The state of the event WebSocket, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// First attempt, not answered yet (also what the server renders).
    Connecting,
    /// The server's `Connected` frame arrived on the open socket.
    Connected,
    /// The socket dropped; waiting before attempt number `attempt`.
    Reconnecting {
        /// How many attempts failed since the last success.
        attempt: u32,
    },
}

impl Link {
    /// A short machine-readable name, used as `data-state` (and by the tests).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting { .. } => "reconnecting",
        }
    }

    /// What the player reads.
    pub fn describe(self) -> String {
        match self {
            Self::Connecting => "Connecting…".to_owned(),
            Self::Connected => "Connected".to_owned(),
            Self::Reconnecting { attempt } => {
                format!("Connection lost, reconnecting (attempt {attempt})…")
            }
        }
    }
}

/// Puts the link signal in context and, in the browser, starts the socket.
pub fn provide_connection() {
    let link = RwSignal::new(Link::Connecting);
    provide_context(link);
    // Effects run only in the browser, after hydration: the server renders
    // "Connecting…" and never opens a socket to itself.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| leptos::task::spawn_local(client::run(link)));
}

/// The link state, from context.
pub fn use_link() -> RwSignal<Link> {
    expect_context::<RwSignal<Link>>()
}

/// A small status line that says whether the live connection is up.
#[component]
pub fn ConnectionBanner() -> impl IntoView {
    let link = use_link();
    view! {
        <p class="link" role="status" aria-live="polite" data-state=move || link.get().name()>
            {move || link.get().describe()}
        </p>
    }
}

#[cfg(feature = "hydrate")]
mod client {
    use futures::StreamExt;
    use gloo_net::websocket::{Message, futures::WebSocket};
    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;

    use super::Link;
    use crate::backoff::Backoff;
    use crate::wire::{SOCKET_PATH, ServerFrame};

    /// First retry after about half a second, then doubling up to ten.
    const FIRST_RETRY_MS: u32 = 500;
    const LONGEST_RETRY_MS: u32 = 10_000;

    /// Keeps one socket open for the life of the page.
    pub(super) async fn run(link: RwSignal<Link>) {
        let mut backoff = Backoff::new(FIRST_RETRY_MS, LONGEST_RETRY_MS);
        loop {
            if let Some(url) = socket_url()
                && let Ok(mut socket) = WebSocket::open(&url)
            {
                while let Some(Ok(message)) = socket.next().await {
                    if let Message::Text(text) = message
                        && let Ok(ServerFrame::Connected { .. }) = serde_json::from_str(&text)
                    {
                        link.set(Link::Connected);
                        backoff.reset();
                    }
                }
            }
            let delay = backoff.next_delay_ms(js_sys::Math::random());
            link.set(Link::Reconnecting {
                attempt: backoff.attempt(),
            });
            TimeoutFuture::new(delay).await;
        }
    }

    /// `ws://host/api/ws`, or `wss://` when the page came over https.
    fn socket_url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}{SOCKET_PATH}", location.host().ok()?))
    }
}
