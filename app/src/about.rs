//! The about page (`/about`): the server's version, clock and load.

use leptos::prelude::*;

use crate::server_status::{ServerStatus, clock_time, fetch_server_status};

/// Proves the round trip to the server.
#[component]
pub fn AboutPage() -> impl IntoView {
    let ask = Action::new(|_: &()| fetch_server_status());
    let answer = move || {
        ask.value().get().map(|result| match result {
            Ok(status) => describe(&status),
            Err(error) => format!("The server did not answer: {error}"),
        })
    };

    view! {
        <section class="card">
            <h1>"About this server"</h1>
            <p>"Live games against other players, right in the browser."</p>
            <button
                class="primary"
                on:click=move |_| {
                    ask.dispatch(());
                }
                disabled=move || ask.pending().get()
            >
                "Ask the server"
            </button>
            <p class="answer" data-testid="server-answer" aria-live="polite">
                {answer}
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
