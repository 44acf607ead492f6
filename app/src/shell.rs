//! The HTML document and the router.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::{
    ParamSegment, StaticSegment,
    components::{FlatRoutes, Route, Router},
};

use crate::about::AboutPage;
use crate::client::use_client;
use crate::connection::{ConnectionBanner, provide_client};
use crate::game_page::GamePage;
use crate::history_page::{MyHistoryPage, PlayerPage};
use crate::invitation::InvitationDialog;
use crate::lobby::LobbyPage;
use crate::replay_page::ReplayPage;

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

    view! {
        <Router>
            <header class="top-bar">
                <SiteLinks/>
                <ConnectionBanner/>
            </header>
            <main>
                <FlatRoutes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=LobbyPage/>
                    <Route path=(StaticSegment("game"), ParamSegment("id")) view=GamePage/>
                    <Route path=StaticSegment("about") view=AboutPage/>
                    <Route path=StaticSegment("history") view=MyHistoryPage/>
                    <Route path=(StaticSegment("players"), ParamSegment("id")) view=PlayerPage/>
                    <Route
                        path=(StaticSegment("games"), ParamSegment("id"), StaticSegment("replay"))
                        view=ReplayPage
                    />
                </FlatRoutes>
            </main>
            <InvitationDialog/>
            <FollowStartedGames/>
        </Router>
    }
}

/// The site's links, the one to the page on screen marked as the current
/// page. Plain links: the router takes every click on a link of the site,
/// and its `A` component, which would mark them, cost 8 KB gzip of the
/// bundle (docs/performance.md, "The browser bundle").
#[component]
fn SiteLinks() -> impl IntoView {
    let location = use_location();
    let current =
        move |path: &'static str| move || location.pathname.with(|on| on == path).then_some("page");
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
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(game_id) = client.started.get() {
            client.started.set(None);
            navigate(&format!("/game/{game_id}"), Default::default());
        }
    });
}
