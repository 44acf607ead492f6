//! The about page (`/about`): the server's version, clock and load.

use leptos::prelude::*;

use crate::calls::server_status;
use crate::server_status::{ServerStatus, clock_time};

/// Proves the round trip to the server.
#[component]
pub fn AboutPage() -> impl IntoView {
    // A task and two signals, as the other pages call the server: Leptos's
    // `Action` brought its own machinery into the bundle for this one
    // button, 6.5 KB gzip (docs/performance.md, "The browser bundle").
    let answer = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let ask = move |_| {
        pending.set(true);
        leptos::task::spawn_local(async move {
            answer.set(Some(match server_status().await {
                Ok(status) => describe(&status),
                Err(error) => format!("The server did not answer: {error}"),
            }));
            pending.set(false);
        });
    };

    view! {
        <section class="card">
            <h1>"About this server"</h1>
            <p>"Live games against other players, right in the browser."</p>
            <button
                class="primary"
                on:click=ask
                disabled=move || pending.get()
            >
                "Ask the server"
            </button>
            <p class="answer" data-testid="server-answer" aria-live="polite">
                {move || answer.get()}
            </p>
        </section>
    }
}

fn describe(status: &ServerStatus) -> String {
    let sockets = match status.live_connections {
        1 => "1 live connection".to_owned(),
        n => format!("{n} live connections"),
    };
    format!(
        "Server {} answered at {}, with {sockets}.",
        status.version,
        clock_time(status.server_time_ms)
    )
}
