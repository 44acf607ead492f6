//! The browser's live link to the server: one WebSocket at
//! [`SOCKET_PATH`](crate::socket_frames::SOCKET_PATH), reopened with backoff
//! whenever it drops, feeding every frame to the
//! [`Client`](crate::client::Client).

use leptos::prelude::*;

use crate::client::Client;
#[cfg(feature = "csr")]
use crate::link::Outgoing;
use crate::link::use_link;

/// Puts a [`Client`] in context and, in the browser, opens the socket.
pub fn provide_client() -> Client {
    let client = Client::new();
    provide_context(client);
    provide_context(client.link);
    start(client);
    client
}

/// In the browser, once the app is mounted, opens the socket for `client`. Effects
/// never run on the server, which renders "Connecting…".
fn start(client: Client) {
    #[cfg(feature = "csr")]
    Effect::new(move |_| {
        let (sender, receiver) = futures::channel::mpsc::unbounded();
        client.attach(Outgoing::new(sender));
        leptos::task::spawn_local(socket::run(client, receiver));
    });
    #[cfg(not(feature = "csr"))]
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

#[cfg(feature = "csr")]
mod socket {
    use futures::channel::mpsc::UnboundedReceiver;
    use futures::{SinkExt, StreamExt, future, stream};
    use gloo_net::websocket::{Message, futures::WebSocket};
    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;

    use crate::backoff::Backoff;
    use crate::client::Client;
    use crate::link::{Link, Out};
    use crate::socket_frames::SOCKET_PATH;

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
                            if let Ok(text) = crate::wire::to_text(&frame) {
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
            client.socket_closed();
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
