//! "Play the computer": a game against the computer starts at once, at the
//! level the player picks.

use domain::GameId;
use domain::PlayComputer;
use domain::bot::Level;
use leptos::prelude::*;

use crate::api::ApiError;
use crate::calls::{new_id, signed_out};
use crate::client::Client;
use crate::router::use_here;

/// Starts a game against the computer at `level`; its id.
pub async fn play_computer(client: Client, level: Level) -> Result<GameId, ApiError> {
    client.leave_queue().await;
    let game_id: GameId = new_id();
    let player_id = client.my_id().ok_or_else(signed_out)?;
    client
        .command(PlayComputer {
            game_id,
            player_id,
            level,
        })
        .await?;
    Ok(game_id)
}

/// Two buttons: a game against the easy or the perfect computer.
#[component]
pub fn PlayTheComputer(client: Client) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let here = use_here();
    let start = move |level: Level| {
        move |_| {
            busy.set(true);
            error.set(None);
            leptos::task::spawn_local(async move {
                let started = play_computer(client, level).await;
                busy.set(false);
                match started {
                    Ok(game_id) => here.go(&format!("/game/{game_id}")),
                    Err(refusal) => {
                        error.set(Some(format!("Could not start a game: {refusal}")));
                    }
                }
            });
        }
    };
    let unavailable = move || busy.get() || client.me.get().is_none();
    view! {
        <section class="card" aria-labelledby="computer-heading">
            <h2 id="computer-heading">"Play the computer"</h2>
            <p class="hint">"Nobody around? The computer always is. Its games score no points."</p>
            <div class="actions">
                <button class="secondary" on:click=start(Level::Easy) disabled=unavailable>
                    "Easy"
                </button>
                <button class="secondary" on:click=start(Level::Perfect) disabled=unavailable>
                    "Perfect"
                </button>
            </div>
            <p class="error" role="alert">{move || error.get()}</p>
        </section>
    }
}
