//! The browser's live link to the server: one WebSocket at
//! [`SOCKET_PATH`](crate::wire::SOCKET_PATH), reopened with backoff whenever
//! it drops, feeding every frame to the [`Client`](crate::client::Client).

use leptos::prelude::*;

use crate::client::Client;
use crate::wire::ClientFrame;

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

/// What components ask of the socket.
#[derive(Debug, Clone)]
pub enum Out {
    /// Send this frame.
    Frame(ClientFrame),
    /// Close and open again at once (the session changed).
    Reconnect,
}

/// The way to the socket task (nothing on the server, which has no socket).
#[derive(Debug, Clone)]
pub struct Outgoing {
    #[cfg(feature = "hydrate")]
    sender: futures::channel::mpsc::UnboundedSender<Out>,
}

impl Outgoing {
    /// Queues a frame for the socket.
    pub fn send(&self, frame: ClientFrame) {
        self.push(Out::Frame(frame));
    }

    /// Asks for a fresh socket.
    pub fn reconnect(&self) {
        self.push(Out::Reconnect);
    }

    #[cfg(feature = "hydrate")]
    fn push(&self, out: Out) {
        let _ = self.sender.unbounded_send(out);
    }

    #[cfg(not(feature = "hydrate"))]
    fn push(&self, _: Out) {}
}

/// The link state, from context.
pub fn use_link() -> RwSignal<Link> {
    expect_context::<RwSignal<Link>>()
}

/// In the browser, after hydration, opens the socket for `client`. Effects
/// never run on the server, which renders "Connecting…".
pub fn start(client: Client) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let (sender, receiver) = futures::channel::mpsc::unbounded();
        client.attach(Outgoing { sender });
        leptos::task::spawn_local(socket::run(client, receiver));
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = client;
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
mod socket {
    use futures::channel::mpsc::UnboundedReceiver;
    use futures::{SinkExt, StreamExt, future, stream};
    use gloo_net::websocket::{Message, futures::WebSocket};
    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;

    use super::{Link, Out};
    use crate::backoff::Backoff;
    use crate::client::Client;
    use crate::wire::SOCKET_PATH;

    /// First retry after about half a second, then doubling up to ten.
    const FIRST_RETRY_MS: u32 = 500;
    const LONGEST_RETRY_MS: u32 = 10_000;

    enum Input {
        Text(String),
        Other,
        Closed,
        Out(Out),
    }

    /// Keeps one socket open for the life of the page.
    pub(super) async fn run(client: Client, mut outgoing: UnboundedReceiver<Out>) {
        let mut backoff = Backoff::new(FIRST_RETRY_MS, LONGEST_RETRY_MS);
        loop {
            let mut again_now = false;
            if let Some(url) = socket_url()
                && let Ok(socket) = WebSocket::open(&url)
            {
                let (mut sink, frames) = socket.split();
                let frames = frames
                    .map(|frame| match frame {
                        Ok(Message::Text(text)) => Input::Text(text),
                        Ok(Message::Bytes(_)) => Input::Other,
                        Err(_) => Input::Closed,
                    })
                    .chain(stream::once(future::ready(Input::Closed)));
                let mut inputs = stream::select(frames, (&mut outgoing).map(Input::Out));
                while let Some(input) = inputs.next().await {
                    match input {
                        Input::Text(text) => {
                            client.receive(&text, js_sys::Date::now());
                            if client.link.get_untracked() == Link::Connected {
                                backoff.reset();
                            }
                        }
                        Input::Other => {}
                        Input::Closed => break,
                        Input::Out(Out::Frame(frame)) => {
                            if let Ok(text) = serde_json::to_string(&frame) {
                                let _ = sink.send(Message::Text(text)).await;
                            }
                        }
                        Input::Out(Out::Reconnect) => {
                            again_now = true;
                            break;
                        }
                    }
                }
                // Dropping both halves closes the socket.
            }
            if again_now {
                client.link.set(Link::Connecting);
                continue;
            }
            let delay = backoff.next_delay_ms(js_sys::Math::random());
            client.link.set(Link::Reconnecting {
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
