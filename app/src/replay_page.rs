//! `/games/:id/replay`: a finished game, move by move (buttons, or the
//! arrow keys, Home and End), at an address to share.

use domain::board::Board;
use domain::{GameArchived, GameId, GameResult, GetGameRecord, Mark};
use leptos::prelude::*;

use crate::calls::query;
use crate::client::{Client, use_client};
use crate::history_page::when;
use crate::router::use_here;

/// The replay page.
#[component]
pub fn ReplayPage() -> impl IntoView {
    let client = use_client();
    let here = use_here();
    let game_id = move || here.id::<GameId>();
    let record = RwSignal::new(None::<Result<Option<GameArchived>, String>>);
    Effect::new(move |_| {
        let Some(game_id) = game_id() else {
            record.set(Some(Ok(None)));
            return;
        };
        leptos::task::spawn_local(async move {
            let loaded = query(GetGameRecord { game_id }).await;
            if let Ok(Some(game)) = &loaded {
                client.learn_users(game.players.clone()).await;
            }
            record.set(Some(loaded.map_err(|error| error.to_string())));
        });
    });
    view! {
        <section class="card replay" aria-labelledby="replay-heading">
            {move || match record.get() {
                None => view! { <h1 id="replay-heading">"Loading the game…"</h1> }.into_any(),
                Some(Err(error)) => view! {
                    <h1 id="replay-heading">"Replay"</h1>
                    <p class="error" role="alert">{error}</p>
                }
                .into_any(),
                Some(Ok(None)) => view! {
                    <h1 id="replay-heading">"No such finished game"</h1>
                    <p class="hint">"A game shows here once it is over."</p>
                }
                .into_any(),
                Some(Ok(Some(game))) => view! { <Replay client game/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Replay(client: Client, game: GameArchived) -> impl IntoView {
    let total = game.moves.len();
    let step = RwSignal::new(0usize);
    let x_player = game.players.first().copied();
    let title = match game.players[..] {
        [x, o] => format!("{} (X) vs {} (O)", client.alias_of(x), client.alias_of(o)),
        _ => "A game that never started".to_owned(),
    };
    let outcome = match (game.result, game.winner) {
        (GameResult::PlayerWon, Some(winner)) => format!("{} won.", client.alias_of(winner)),
        (GameResult::Draw, _) => "A draw.".to_owned(),
        _ => "Aborted: a player did not move in time.".to_owned(),
    };
    let moves = game.moves.clone();
    let board_at = move |shown: usize| {
        let mut board = Board::default();
        for played in moves.iter().take(shown) {
            let mark = if Some(played.player_id) == x_player {
                Mark::X
            } else {
                Mark::O
            };
            board.cells[usize::from(played.y)][usize::from(played.x)] = Some(mark);
        }
        board
    };
    let go = move |to: usize| step.set(to.min(total));
    #[cfg(feature = "csr")]
    {
        let keys = window_event_listener(leptos::ev::keydown, move |event| {
            let now = step.get_untracked();
            match event.key().as_str() {
                "ArrowLeft" => go(now.saturating_sub(1)),
                "ArrowRight" => go(now + 1),
                "Home" => go(0),
                "End" => go(total),
                _ => return,
            }
            event.prevent_default();
        });
        on_cleanup(move || keys.remove());
    }
    let cells = move || {
        let board = board_at(step.get());
        let winning: Vec<(usize, usize)> = board
            .winning_line()
            .map(|(_, line)| line.to_vec())
            .unwrap_or_default();
        (0..3usize)
            .flat_map(|y| (0..3usize).map(move |x| (x, y)))
            .map(|(x, y)| {
                let mark = board.at(x, y);
                let text = match mark {
                    Some(Mark::X) => "X",
                    Some(Mark::O) => "O",
                    None => "",
                };
                let wins = winning.contains(&(x, y));
                let label = format!(
                    "row {}, column {}, {}{}",
                    y + 1,
                    x + 1,
                    if text.is_empty() { "empty" } else { text },
                    if wins { ", winning line" } else { "" }
                );
                let class = format!(
                    "cell {}{}",
                    text.to_ascii_lowercase(),
                    if wins { " win" } else { "" }
                );
                view! { <div class=class role="img" aria-label=label>{text}</div> }
            })
            .collect_view()
    };
    view! {
        <h1 id="replay-heading">{title}</h1>
        <p class="hint">{format!("Ended {}. {outcome}", when(game.ended_at))}</p>
        <p class="turn" role="status" aria-live="polite">
            {move || format!("Move {} of {total}", step.get())}
        </p>
        <div class="board" role="group" aria-label="Board">{cells}</div>
        <div class="actions replay-controls">
            <button class="secondary" on:click=move |_| go(0) disabled=move || step.get() == 0>"First"</button>
            <button class="secondary" on:click=move |_| go(step.get_untracked().saturating_sub(1)) disabled=move || step.get() == 0>"Previous"</button>
            <button class="primary" on:click=move |_| go(step.get_untracked() + 1) disabled=move || step.get() == total>"Next"</button>
            <button class="secondary" on:click=move |_| go(total) disabled=move || step.get() == total>"Last"</button>
        </div>
        <p class="hint">"Arrow keys step through the moves; Home and End jump to either end."</p>
        <p><a href="/history">"Your games"</a></p>
    }
}
