//! The HTML document and the page for the path.

use leptos::prelude::*;

use crate::about::AboutPage;
use crate::client::use_client;
use crate::connection::{ConnectionBanner, provide_client};
use crate::game_page::GamePage;
use crate::history_page::{MyHistoryPage, PlayerPage};
use crate::invitation::InvitationDialog;
use crate::lobby::LobbyPage;
use crate::replay_page::ReplayPage;
use crate::router::{Route, provide_here, use_here};

/// The whole HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <title>"Tic-tac-toe"</title>
                <link rel="stylesheet" id="leptos" href="/pkg/tictactoe.css"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application root: metadata, the live connection and the routes.
#[component]
pub fn App() -> impl IntoView {
    provide_client();

    let here = provide_here();
    // Built again only when the page changes, not when the same page's id
    // does (a game to the next one): the page follows its id.
    let route = Memo::new(move |_| here.route());
    let page = move || match route.get() {
        Some(Route::Lobby) => view! { <LobbyPage/> }.into_any(),
        Some(Route::Game) => view! { <GamePage/> }.into_any(),
        Some(Route::About) => view! { <AboutPage/> }.into_any(),
        Some(Route::History) => view! { <MyHistoryPage/> }.into_any(),
        Some(Route::Player) => view! { <PlayerPage/> }.into_any(),
        Some(Route::Replay) => view! { <ReplayPage/> }.into_any(),
        None => view! { <p class="not-found">"Page not found."</p> }.into_any(),
    };

    view! {
        <header class="top-bar">
            <SiteLinks/>
            <ConnectionBanner/>
        </header>
        <main>{page}</main>
        <InvitationDialog/>
        <FollowStartedGames/>
    }
}

/// The site's links, the one to the page on screen marked as the current
/// page. Plain links: `router.rs` takes every click on a link of the site.
#[component]
fn SiteLinks() -> impl IntoView {
    let here = use_here();
    let current = move |path: &'static str| move || here.is(path).then_some("page");
    view! {
        <a href="/" class="brand" aria-current=current("/")>"Tic-tac-toe"</a>
        <nav class="site-nav" aria-label="Site">
            <a href="/history" aria-current=current("/history")>"Your games"</a>
        </nav>
    }
}

/// When a game we invited someone to starts, go to it.
#[component]
fn FollowStartedGames() -> impl IntoView {
    let client = use_client();
    let here = use_here();
    Effect::new(move |_| {
        if let Some(game_id) = client.started.get() {
            client.started.set(None);
            here.go(&format!("/game/{game_id}"));
        }
    });
}
