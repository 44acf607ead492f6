//! The HTML document and the router.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    StaticSegment,
    components::{Route, Router, Routes},
};

use crate::connection::{ConnectionBanner, provide_connection};
use crate::home::HomePage;

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
    provide_connection();

    view! {
        <Stylesheet id="leptos" href="/pkg/tictactoe.css"/>
        <Title text="Tic-tac-toe"/>
        <header class="top-bar">
            <a class="brand" href="/">"Tic-tac-toe"</a>
            <ConnectionBanner/>
        </header>
        <Router>
            <main>
                <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=HomePage/>
                </Routes>
            </main>
        </Router>
    }
}
