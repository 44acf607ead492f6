//! "Play anyone": wait in the quick play queue until someone else presses
//! it too; the game then starts at once for both.

use domain::{CancelQuickPlay, GameId, QuickPlay};
use leptos::prelude::*;

use crate::calls::{new_id, signed_out};
use crate::client::Client;

/// The quick play button, or the wait with a way out.
#[component]
pub fn PlayAnyone(client: Client) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let join = move |_| {
        error.set(None);
        busy.set(true);
        // Waiting from now: when someone waited already, the game starts
        // at once, and its `GameStarted` may come before this answer.
        client.queued.set(true);
        leptos::task::spawn_local(async move {
            let offer: GameId = new_id();
            let queued = match client.my_id() {
                Some(player_id) => {
                    client
                        .command(QuickPlay {
                            player_id,
                            game_id: offer,
                        })
                        .await
                }
                None => Err(signed_out()),
            };
            busy.set(false);
            if let Err(refusal) = queued {
                client.queued.set(false);
                error.set(Some(format!("Could not join the queue: {refusal}")));
            }
        });
    };
    let cancel = move |_| {
        error.set(None);
        leptos::task::spawn_local(async move {
            let left = match client.my_id() {
                Some(player_id) => client.command(CancelQuickPlay { player_id }).await,
                None => Err(signed_out()),
            };
            if let Err(refusal) = left {
                error.set(Some(format!("Could not leave the queue: {refusal}")));
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="anyone-heading">
            <h2 id="anyone-heading">"Play anyone"</h2>
            <Show
                when=move || client.queued.get()
                fallback=move || view! {
                    <p class="hint">"Get a game with the next player who presses it too."</p>
                    <button
                        class="primary"
                        on:click=join
                        disabled=move || busy.get() || client.me.get().is_none()
                    >
                        "Play anyone"
                    </button>
                }
            >
                <p class="status" role="status" aria-live="polite">
                    "Looking for an opponent… the game starts as soon as someone else presses Play anyone."
                </p>
                <button class="secondary" on:click=cancel>"Cancel"</button>
            </Show>
            <p class="error" role="alert">{move || error.get()}</p>
        </section>
    }
}
