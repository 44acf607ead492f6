//! Finished games, newest first, a page at a time: yours at `/history`,
//! anyone's at `/players/:id`. Each opens its replay.

use domain::{GameArchived, GameResult, GetHistory, GetHistoryPage, UserId};
use leptos::prelude::*;

use crate::calls::query;
use crate::client::{Client, use_client};
use crate::router::use_here;

/// `/history`: the signed-in player's games.
#[component]
pub fn MyHistoryPage() -> impl IntoView {
    let client = use_client();
    view! {
        <section class="card history" aria-labelledby="history-heading">
            <h1 id="history-heading">"Your games"</h1>
            {move || match client.me.get() {
                Some(me) => view! { <Games client user_id=me.user_id/> }.into_any(),
                None if client.me_known.get() => view! {
                    <p class="hint">"Pick an alias in the " <a href="/">"lobby"</a> " first."</p>
                }
                .into_any(),
                None => view! { <p class="hint">"Loading…"</p> }.into_any(),
            }}
        </section>
    }
}

/// `/players/:id`: anyone's games.
#[component]
pub fn PlayerPage() -> impl IntoView {
    let client = use_client();
    let here = use_here();
    let user = move || here.id::<UserId>();
    Effect::new(move |_| {
        if let Some(user) = user() {
            leptos::task::spawn_local(async move { client.learn_users([user]).await });
        }
    });
    view! {
        <section class="card history" aria-labelledby="history-heading">
            {move || match user() {
                Some(user_id) => view! {
                    <h1 id="history-heading">{move || format!("{}'s games", client.alias_of(user_id))}</h1>
                    <Games client user_id/>
                }
                .into_any(),
                None => view! { <h1 id="history-heading">"No such player"</h1> }.into_any(),
            }}
        </section>
    }
}

/// Which page of a history: the latest games, or an older full page
/// (numbered from 0, the oldest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Latest,
    Older(u32),
}

/// A player's finished games, a page at a time.
#[component]
fn Games(client: Client, user_id: UserId) -> impl IntoView {
    let page = RwSignal::new(Page::Latest);
    let older_pages = RwSignal::new(0u32);
    let games = RwSignal::new(None::<Result<Vec<GameArchived>, String>>);
    Effect::new(move |_| {
        let wanted = page.get();
        games.set(None);
        leptos::task::spawn_local(async move {
            let loaded = match wanted {
                Page::Latest => query(GetHistory { user_id }).await.map(|recent| {
                    older_pages.set(recent.older_pages);
                    recent.games
                }),
                Page::Older(page) => query(GetHistoryPage { user_id, page }).await,
            };
            if let Ok(games) = &loaded {
                client
                    .learn_users(games.iter().flat_map(|game| game.players.clone()))
                    .await;
            }
            if page.get_untracked() == wanted {
                games.set(Some(loaded.map_err(|error| error.to_string())));
            }
        });
    });
    let newer = move |_| {
        page.update(|page| {
            *page = match *page {
                Page::Older(n) if n + 1 < older_pages.get_untracked() => Page::Older(n + 1),
                _ => Page::Latest,
            }
        })
    };
    let older = move |_| {
        page.update(|page| {
            *page = match *page {
                Page::Latest => Page::Older(older_pages.get_untracked().saturating_sub(1)),
                Page::Older(n) => Page::Older(n.saturating_sub(1)),
            }
        })
    };
    let has_older = move || match page.get() {
        Page::Latest => older_pages.get() > 0,
        Page::Older(n) => n > 0,
    };
    view! {
        {move || match games.get() {
            None => view! { <p class="hint">"Loading…"</p> }.into_any(),
            Some(Err(error)) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
            Some(Ok(list)) if list.is_empty() => {
                view! { <p class="hint">"No finished games yet."</p> }.into_any()
            }
            Some(Ok(list)) => view! {
                <table class="games">
                    <thead>
                        <tr><th scope="col">"Date"</th><th scope="col">"Opponent"</th><th scope="col">"Result"</th><th scope="col"><span class="sr-only">"Replay"</span></th></tr>
                    </thead>
                    <tbody>
                        {list
                            .into_iter()
                            .map(|game| view! { <GameRow client user_id game/> })
                            .collect_view()}
                    </tbody>
                </table>
            }
            .into_any(),
        }}
        <nav class="actions pager" aria-label="Pages">
            <button class="secondary" on:click=newer disabled=move || page.get() == Page::Latest>
                "Newer"
            </button>
            <button class="secondary" on:click=older disabled=move || !has_older()>
                "Older"
            </button>
        </nav>
    }
}

/// One finished game, as `user_id` saw it.
#[component]
fn GameRow(client: Client, user_id: UserId, game: GameArchived) -> impl IntoView {
    let opponent = game
        .players
        .iter()
        .copied()
        .find(|player| *player != user_id);
    let result = match (game.result, game.winner) {
        (GameResult::PlayerWon, Some(winner)) if winner == user_id => "Won",
        (GameResult::PlayerWon, _) => "Lost",
        (GameResult::Draw, _) => "Draw",
        (GameResult::GameAborted, _) => "Aborted",
    };
    let replay = format!("/games/{}/replay", game.game_id);
    view! {
        <tr>
            <td>{when(game.ended_at)}</td>
            <td>
                {match opponent {
                    Some(opponent) => view! {
                        <a href=format!("/players/{opponent}")>{move || client.alias_of(opponent)}</a>
                    }
                    .into_any(),
                    None => view! { "nobody" }.into_any(),
                }}
            </td>
            <td class=format!("result {}", result.to_ascii_lowercase())>{result}</td>
            <td><a href=replay>"Replay"</a></td>
        </tr>
    }
}

/// A server time (ms since the epoch), in the browser's words and zone.
pub fn when(ms: u64) -> String {
    #[cfg(feature = "csr")]
    {
        let date = js_sys::Date::new(&js_sys::wasm_bindgen::JsValue::from_f64(ms as f64));
        String::from(date.to_locale_string("default", &js_sys::wasm_bindgen::JsValue::UNDEFINED))
    }
    #[cfg(not(feature = "csr"))]
    {
        // Pages load their games in the browser; the server never renders one.
        let _ = ms;
        String::new()
    }
}
