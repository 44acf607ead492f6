//! The lobby (`/`): pick an alias, see who is online and the hall of fame,
//! choose an opponent and press Play!.

use domain::{Alias, CreateGame, CreateUser, GameId, InviteUser, JoinGame, UserId};
use leptos::prelude::*;

use crate::calls::{command, new_id, signed_out};
use crate::client::{Client, use_client};
use crate::computer::PlayTheComputer;
use crate::quick_play::PlayAnyone;

/// The lobby page.
#[component]
pub fn LobbyPage() -> impl IntoView {
    let client = use_client();
    // Each card's view type erased: nested, their types outgrew the
    // compiler's default depth.
    view! {
        <div class="lobby">
            {view! { <SignIn client/> }.into_any()}
            {view! { <OnlinePlayers client/> }.into_any()}
            {view! { <PlayAnyone client/> }.into_any()}
            {view! { <PlayTheComputer client/> }.into_any()}
            {view! { <LiveGamesList client/> }.into_any()}
            {view! { <HallOfFame client/> }.into_any()}
        </div>
    }
}

/// Who you are, or a form to pick an alias.
#[component]
fn SignIn(client: Client) -> impl IntoView {
    let alias = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let typed = alias.get_untracked();
        let checked = match Alias::parse(&typed) {
            Ok(checked) => checked,
            Err(refusal) => {
                error.set(Some(format!("That alias won't do: {refusal}.")));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            let user_id: UserId = new_id();
            let create = CreateUser {
                user_id,
                alias: checked.clone(),
            };
            match command(create).await {
                Ok(()) => {
                    client.aliases.update(|aliases| {
                        aliases.insert(user_id, checked.clone());
                    });
                    client.me.set(Some(domain::users::User {
                        user_id,
                        alias: checked,
                        created_at: 0,
                    }));
                    // The socket signs in with the new cookie.
                    client.reconnect();
                }
                Err(refusal) => error.set(Some(refusal.to_string())),
            }
            busy.set(false);
        });
    };

    view! {
        <section class="card you" aria-labelledby="you-heading">
            {move || match client.me.get() {
                Some(me) => view! {
                    <h1 id="you-heading">"Hello, " {me.alias.to_string()} "!"</h1>
                    <p class="hint">"Pick someone online and press Play! to invite them."</p>
                }
                .into_any(),
                None => view! {
                    <h1 id="you-heading">"Tic-tac-toe"</h1>
                    <form class="alias-form" on:submit=submit>
                        <label for="alias">"Pick an alias"</label>
                        <div class="row">
                            <input
                                id="alias"
                                name="alias"
                                autocomplete="nickname"
                                maxlength="300"
                                placeholder="1 to 24 characters"
                                prop:value=move || alias.get()
                                on:input=move |event| alias.set(event_target_value(&event))
                            />
                            <button type="submit" class="primary" disabled=move || busy.get() || !client.me_known.get()>
                                "Enter"
                            </button>
                        </div>
                        <p class="error" role="alert">{move || error.get()}</p>
                    </form>
                }
                .into_any(),
            }}
        </section>
    }
}

/// The players online, to pick an opponent from.
#[component]
fn OnlinePlayers(client: Client) -> impl IntoView {
    let chosen = RwSignal::new(None::<UserId>);
    let others = move || {
        let me = client.me.with(|me| me.as_ref().map(|me| me.user_id));
        client
            .online
            .get()
            .into_iter()
            .filter(|user| Some(user.user_id) != me)
            .collect::<Vec<_>>()
    };
    let play = move |_| {
        let Some(opponent) = chosen.get_untracked() else {
            return;
        };
        client.notice.set(None);
        leptos::task::spawn_local(invite(client, opponent));
    };
    let waiting = move || client.awaiting_text();

    view! {
        <section class="card" aria-labelledby="online-heading">
            <h2 id="online-heading">"Players online"</h2>
            <Show
                when=move || !others().is_empty()
                fallback=|| view! { <p class="hint">"Nobody else is online yet."</p> }
            >
                <ul class="players">
                    <For each=others key=|user| user.user_id let:user>
                        <li>
                            <label>
                                <input
                                    type="radio"
                                    name="opponent"
                                    value=user.user_id.to_string()
                                    prop:checked=move || chosen.get() == Some(user.user_id)
                                    on:change=move |_| chosen.set(Some(user.user_id))
                                />
                                {user.alias.to_string()}
                            </label>
                        </li>
                    </For>
                </ul>
                <Show when=move || { client.online_total.get() > client.online.with(|o| o.len() as u64) }>
                    <p class="hint">
                        {move || {
                            format!(
                                "Showing {} of the {} players online.",
                                client.online.with(Vec::len),
                                client.online_total.get(),
                            )
                        }}
                    </p>
                </Show>
            </Show>
            <button
                class="primary play"
                on:click=play
                disabled=move || {
                    client.me.get().is_none() || client.awaiting.get().is_some()
                        || !chosen.get().is_some_and(|c| others().iter().any(|u| u.user_id == c))
                }
            >
                "Play!"
            </button>
            <p class="status" role="status" aria-live="polite">{waiting} {move || client.notice.get()}</p>
        </section>
    }
}

/// Creates a game, sits down as X and invites `opponent`; the page moves to
/// the game when they join.
pub async fn invite(client: Client, opponent: UserId) {
    client.leave_queue().await;
    let game_id: GameId = new_id();
    client.awaiting.set(Some((game_id, opponent)));
    let started = async {
        let me = client.my_id().ok_or_else(signed_out)?;
        client
            .command(CreateGame {
                game_id,
                player_id: me,
            })
            .await?;
        client
            .command(JoinGame {
                game_id,
                player_id: me,
            })
            .await?;
        client
            .command(InviteUser {
                inviter_id: me,
                invited_id: opponent,
                game_id,
            })
            .await
    };
    if let Err(refusal) = started.await {
        client.awaiting.set(None);
        client
            .notice
            .set(Some(format!("Could not start a game: {refusal}")));
    }
}

/// The games being played, newest first, each to watch.
#[component]
fn LiveGamesList(client: Client) -> impl IntoView {
    let shown = move || client.live_games.with(|live| live.games.len() as u64);
    view! {
        <section class="card" aria-labelledby="live-heading">
            <h2 id="live-heading">"Live games"</h2>
            <Show
                when=move || { shown() > 0 }
                fallback=|| view! { <p class="hint">"No games being played right now."</p> }
            >
                <ul class="live-games">
                    <For
                        each=move || client.live_games.get().games
                        key=|game| (game.game_id, game.moves)
                        let:game
                    >
                        <li>
                            <span class="name">
                                {match game.players[..] {
                                    [x, o] => format!("{} vs {}", client.alias_of(x), client.alias_of(o)),
                                    _ => "A game".to_owned(),
                                }}
                            </span>
                            <span class="moves">{format!("move {}", game.moves + 1)}</span>
                            <a href=format!("/game/{}", game.game_id)>"Watch"</a>
                        </li>
                    </For>
                </ul>
                <Show when=move || { client.live_games.with(|live| live.total) > shown() }>
                    <p class="hint">
                        {move || format!(
                            "Showing {} of the {} games being played.",
                            shown(),
                            client.live_games.with(|live| live.total),
                        )}
                    </p>
                </Show>
            </Show>
        </section>
    }
}

/// The top three, with trophy, medal and chocolate.
#[component]
fn HallOfFame(client: Client) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="fame-heading">
            <h2 id="fame-heading">"Hall of fame"</h2>
            <Show
                when=move || !client.fame.with(Vec::is_empty)
                fallback=|| view! { <p class="hint">"No winners yet! Be the first!"</p> }
            >
                <ol class="fame">
                    {move || {
                        client
                            .fame
                            .get()
                            .into_iter()
                            .zip([Prize::Trophy, Prize::Medal, Prize::Chocolate])
                            .map(|(entry, prize)| {
                                view! {
                                    <li>
                                        <PrizeIcon prize/>
                                        <span class="name">{entry.alias.to_string()}</span>
                                        <span class="score">{entry.score} " points"</span>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ol>
            </Show>
        </section>
    }
}

/// What the first three get.
#[derive(Debug, Clone, Copy)]
enum Prize {
    Trophy,
    Medal,
    Chocolate,
}

/// A prize drawn inline (an emoji shows as an empty box on a machine
/// without an emoji font, such as Debian's Chromium).
#[component]
fn PrizeIcon(prize: Prize) -> impl IntoView {
    let (label, shape) = match prize {
        Prize::Trophy => (
            "trophy",
            view! {
                <path d="M7 3h10v5a5 5 0 0 1-10 0z" fill="#e0a800" stroke="#8a6500"/>
                <path d="M7 5H4a3 3 0 0 0 3 4M17 5h3a3 3 0 0 1-3 4" fill="none" stroke="#8a6500"/>
                <path d="M11 13h2v4h-2z" fill="#c99700"/>
                <path d="M8 17h8v3H8z" fill="#8a6500"/>
            }
            .into_any(),
        ),
        Prize::Medal => (
            "medal",
            view! {
                <path d="M8 2h3l2 7h-3zM16 2h-3l-2 7h3z" fill="#3454d1"/>
                <circle cx="12" cy="15" r="6" fill="#c0c6d0" stroke="#6b7280"/>
                <text x="12" y="18" text-anchor="middle" font-size="8" fill="#374151">"2"</text>
            }
            .into_any(),
        ),
        Prize::Chocolate => (
            "chocolate",
            view! {
                <rect x="5" y="3" width="14" height="18" rx="1.5" fill="#6b3e26" stroke="#3f2417"/>
                <path d="M5 9h14M5 15h14M12 3v18" stroke="#3f2417"/>
            }
            .into_any(),
        ),
    };
    view! {
        <svg class="prize" role="img" aria-label=label viewBox="0 0 24 24" width="24" height="24">
            {shape}
        </svg>
    }
}
