//! The HTML document and the router.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::hooks::use_navigate;
use leptos_router::{
    ParamSegment, StaticSegment,
    components::{A, Route, Router, Routes},
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
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
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
    provide_meta_context();
    provide_client();

    view! {
        <Stylesheet id="leptos" href="/pkg/tictactoe.css"/>
        <Title text="Tic-tac-toe"/>
        <Router>
            <header class="top-bar">
                <A href="/" attr:class="brand">"Tic-tac-toe"</A>
                <nav class="site-nav" aria-label="Site">
                    <A href="/history">"Your games"</A>
                </nav>
                <ConnectionBanner/>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=LobbyPage/>
                    <Route path=(StaticSegment("game"), ParamSegment("id")) view=GamePage/>
                    <Route path=StaticSegment("about") view=AboutPage/>
                    <Route path=StaticSegment("history") view=MyHistoryPage/>
                    <Route path=(StaticSegment("players"), ParamSegment("id")) view=PlayerPage/>
                    <Route
                        path=(StaticSegment("games"), ParamSegment("id"), StaticSegment("replay"))
                        view=ReplayPage
                    />
                </Routes>
            </main>
            <InvitationDialog/>
            <FollowStartedGames/>
        </Router>
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
