//! The game page (`/game/:id`): who plays, whose turn with a live countdown
//! to the server's deadline, the board, errors in words, and end screens.

use domain::bot::Level;
use domain::view::{GameView, Stage};
use domain::{GameId, GameResult, Mark, PlaceMark, UserId};
use leptos::prelude::*;

use crate::calls::signed_out;
use crate::client::{Client, describe_error, use_client};
use crate::computer::play_computer;
use crate::lobby::invite;
use crate::router::use_here;

/// The game page.
#[component]
pub fn GamePage() -> impl IntoView {
    let client = use_client();
    let here = use_here();
    let game_id = move || here.id::<GameId>();

    // In the browser: load the game and follow it, again when the id changes.
    Effect::new(move |_| {
        if let Some(game_id) = game_id() {
            client.open_game(game_id);
        }
    });
    // Someone who does not play a game being played watches it: the server
    // counts them among its spectators until they leave the page.
    Effect::new(move |_| {
        let Some(id) = game_id() else {
            return;
        };
        if !client.me_known.get() {
            return;
        }
        let me = client.me.with(|me| me.as_ref().map(|me| me.user_id));
        let spectator = client.game.with(|game| {
            game.as_ref().is_some_and(|view| {
                view.game_id == id
                    && view.stage == Stage::InProgress
                    && !view.players.iter().any(|seat| Some(seat.user_id) == me)
            })
        });
        if spectator && client.watching.get_untracked() != Some(id) {
            client.unwatch();
            client.watch(id);
        }
    });
    on_cleanup(move || client.unwatch());

    view! {
        <section class="card game" aria-labelledby="game-heading">
            {move || {
                // Redrawn when the game moves, or when we learn who we are.
                client.me.track();
                match (game_id(), client.game.get()) {
                (None, _) => view! { <h1 id="game-heading">"No such game"</h1> }.into_any(),
                (Some(id), Some(view)) if view.game_id == id && view.version > 0 => {
                    view! { <Game client view/> }.into_any()
                }
                _ => view! { <h1 id="game-heading">"Loading the game…"</h1> }.into_any(),
            }
            }}
        </section>
    }
}

#[component]
fn Game(client: Client, view: GameView) -> impl IntoView {
    let me = client.me.get_untracked().map(|me| me.user_id);
    let my_mark = view
        .players
        .iter()
        .find(|seat| Some(seat.user_id) == me)
        .map(|seat| seat.mark);
    let my_turn = view.stage == Stage::InProgress && view.turn.is_some() && view.turn == me;
    let players = view
        .players
        .iter()
        .map(|seat| {
            let name = if Some(seat.user_id) == me {
                "You".to_owned()
            } else {
                client.alias_of(seat.user_id)
            };
            view! { <li class=mark_class(seat.mark)>{mark_text(seat.mark)} ": " {name}</li> }
        })
        .collect_view();
    let game_id = view.game_id;
    let board = view.board;
    let winning: Vec<(usize, usize)> = match view.stage {
        Stage::Ended => board
            .winning_line()
            .map(|(_, line)| line.to_vec())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    // Against the computer, on your turn: the perfect computer's move, on request.
    let against_computer = view
        .players
        .iter()
        .any(|seat| Level::of(seat.user_id).is_some());
    let hint = RwSignal::new(None::<(usize, usize)>);
    let show_hint = move |_| hint.set(domain::bot::best_move(&board));
    let cells = (0..3u8)
        .flat_map(|y| (0..3u8).map(move |x| (x, y)))
        .map(|(x, y)| {
            let mark = board.at(usize::from(x), usize::from(y));
            let playable = my_turn && mark.is_none();
            let cell = (usize::from(x), usize::from(y));
            let wins = winning.contains(&cell);
            let label = move || {
                let mut label = format!(
                    "row {}, column {}, {}",
                    y + 1,
                    x + 1,
                    mark.map_or("empty", mark_text)
                );
                if wins {
                    label.push_str(", winning line");
                }
                if hint.get() == Some(cell) {
                    label.push_str(", suggested move");
                }
                label
            };
            let class = move || {
                let mut class = format!("cell {}", mark.map_or("", mark_class));
                if wins {
                    class.push_str(" win");
                }
                if hint.get() == Some(cell) {
                    class.push_str(" hint");
                }
                class
            };
            let play = move |_| {
                client.game_error.set(None);
                leptos::task::spawn_local(async move {
                    let placed = match client.my_id() {
                        Some(player_id) => {
                            client
                                .command(PlaceMark {
                                    game_id,
                                    player_id,
                                    x: i64::from(x),
                                    y: i64::from(y),
                                })
                                .await
                        }
                        None => Err(signed_out()),
                    };
                    if let Err(refusal) = placed {
                        client.notice.set(Some(refusal.to_string()));
                    }
                });
            };
            view! {
                <button
                    class=class
                    aria-label=label
                    disabled=!playable
                    on:click=play
                >
                    {mark.map_or("", mark_text)}
                </button>
            }
        })
        .collect_view();

    let watching_line = match (my_mark, &view.players[..]) {
        (None, [x, o]) => Some(format!(
            "You are watching {} vs {}",
            client.alias_of(x.user_id),
            client.alias_of(o.user_id)
        )),
        _ => None,
    };
    let heading = watching_line.clone().unwrap_or_else(|| "Game".to_owned());
    let audience = (view.watching > 0).then(|| match view.watching {
        1 => "1 watching".to_owned(),
        n => format!("{n} watching"),
    });
    view! {
        <h1 id="game-heading" class=if watching_line.is_some() { "watching" } else { "sr-only" }>{heading}</h1>
        <ul class="seats">{players}</ul>
        {audience.map(|audience| view! { <p class="audience" data-testid="watching">{audience}</p> })}
        <Status client view=view.clone() my_turn/>
        <div class="board" role="group" aria-label="Board" data-my-turn=my_turn.to_string()>
            {cells}
        </div>
        {(against_computer && my_turn).then(|| view! {
            <button class="secondary hint-button" on:click=show_hint>"Hint"</button>
        })}
        <p class="error" role="alert">
            {move || client.game_error.get().map(describe_error)}
        </p>
        {(view.stage == Stage::Ended).then(|| view! { <EndScreen client view=view.clone() my_mark/> })}
    }
}

/// Whose turn, with the seconds left; or what we wait for.
#[component]
fn Status(client: Client, view: GameView, my_turn: bool) -> impl IntoView {
    let text = match view.stage {
        Stage::Waiting => "Waiting for the other player…".to_owned(),
        Stage::Ended => String::new(),
        Stage::InProgress => match view.turn {
            Some(_) if my_turn => "It's your turn".to_owned(),
            Some(player) => format!("It's {}'s turn", client.alias_of(player)),
            None => "…".to_owned(),
        },
    };
    let deadline = view.deadline;
    view! {
        <p class="turn" role="status" aria-live="polite">
            {text}
            {deadline.map(|deadline| view! { " — " <Countdown client deadline/> })}
        </p>
    }
}

/// Seconds left until `deadline` on the server's clock.
#[component]
fn Countdown(client: Client, deadline: u64) -> impl IntoView {
    let now = RwSignal::new(None::<f64>);
    #[cfg(feature = "csr")]
    {
        now.set(Some(js_sys::Date::now()));
        if let Ok(ticker) = set_interval_with_handle(
            move || now.set(Some(js_sys::Date::now())),
            std::time::Duration::from_millis(250),
        ) {
            on_cleanup(move || ticker.clear());
        }
    }
    let seconds = move || {
        now.get().map(|local| {
            let server_now = local as i64 + client.clock_offset_ms.get();
            let left = (deadline as i64 - server_now).max(0);
            (left + 999) / 1000
        })
    };
    view! {
        <span class="countdown" data-testid="countdown">
            {move || seconds().map(|s| format!("{s} s left"))}
        </span>
    }
}

/// The end of the game: who won, and what next.
#[component]
fn EndScreen(client: Client, view: GameView, my_mark: Option<Mark>) -> impl IntoView {
    let me = client.me.get_untracked().map(|me| me.user_id);
    let (title, words) = match (view.result, view.winner) {
        (Some(GameResult::PlayerWon), Some(winner)) if Some(winner) == me => (
            "Congratulations, you won!".to_owned(),
            "Three in a row. Well played!".to_owned(),
        ),
        (Some(GameResult::PlayerWon), Some(winner)) if my_mark.is_some() => (
            format!("{} won this time", client.alias_of(winner)),
            "Hard luck. You'll get them next game!".to_owned(),
        ),
        (Some(GameResult::PlayerWon), Some(winner)) => {
            (format!("{} won", client.alias_of(winner)), String::new())
        }
        (Some(GameResult::Draw), _) => (
            "It's a draw!".to_owned(),
            "Nobody got three in a row.".to_owned(),
        ),
        _ => (
            "Game aborted".to_owned(),
            "A player did not move in time, so the game was called off.".to_owned(),
        ),
    };
    let opponent: Option<UserId> = view
        .players
        .iter()
        .map(|seat| seat.user_id)
        .find(|player| Some(*player) != me && my_mark.is_some());
    let here = use_here();
    let back = move |_| here.go("/");
    let again = move |_| {
        let Some(opponent) = opponent else {
            return;
        };
        client.notice.set(None);
        match Level::of(opponent) {
            // The computer is always there: the next game starts at once.
            Some(level) => {
                leptos::task::spawn_local(async move {
                    match play_computer(client, level).await {
                        Ok(game_id) => here.go(&format!("/game/{game_id}")),
                        Err(refusal) => client
                            .notice
                            .set(Some(format!("Could not start a game: {refusal}"))),
                    }
                });
            }
            None => leptos::task::spawn_local(invite(client, opponent)),
        }
    };
    let waiting = move || client.awaiting_text();
    view! {
        <div class="end" role="region" aria-labelledby="end-heading">
            <h2 id="end-heading">{title}</h2>
            <p>{words}</p>
            <div class="actions">
                <button class="secondary" on:click=back>"Back to lobby"</button>
                {opponent.map(|_| view! {
                    <button class="primary" on:click=again disabled=move || client.awaiting.get().is_some()>
                        "Play again"
                    </button>
                })}
            </div>
            <p class="status" role="status">{waiting} {move || client.notice.get()}</p>
        </div>
    }
}

fn mark_text(mark: Mark) -> &'static str {
    match mark {
        Mark::X => "X",
        Mark::O => "O",
    }
}

fn mark_class(mark: Mark) -> &'static str {
    match mark {
        Mark::X => "x",
        Mark::O => "o",
    }
}
