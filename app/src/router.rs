//! The site's pages by path, and moving between them in the browser without
//! loading the next page.
//!
//! Written here rather than taken from `leptos_router`: the site has six
//! flat routes with one parameter and plain links, and that router's
//! machinery (asynchronous route transitions, route matching, parameter
//! maps, its handling of links) was 40 KB of the browser bundle's 256 KB
//! gzip, 15%, against a target of 250 (docs/performance.md, "The browser
//! bundle"). What it did for this site is here: the page for the path, the
//! path's id, links of the site followed without a reload, the back and
//! forward buttons, the new page shown from its top.

use leptos::prelude::*;

/// A page of the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/`: the lobby.
    Lobby,
    /// `/game/{id}`: a game.
    Game,
    /// `/about`: the server's status.
    About,
    /// `/history`: the signed-in player's games.
    History,
    /// `/players/{id}`: anyone's games.
    Player,
    /// `/games/{id}/replay`: a finished game, move by move.
    Replay,
}

/// Every page and its path, `{id}` standing for any one segment (the
/// server serves these paths as pages, in axum's syntax).
pub const ROUTES: [(Route, &str); 6] = [
    (Route::Lobby, "/"),
    (Route::Game, "/game/{id}"),
    (Route::About, "/about"),
    (Route::History, "/history"),
    (Route::Player, "/players/{id}"),
    (Route::Replay, "/games/{id}/replay"),
];

impl Route {
    /// The page at `path` (a URL's path, without its query), and the
    /// segment that stands for `{id}` in it.
    pub fn of(path: &str) -> Option<(Self, Option<&str>)> {
        ROUTES.iter().find_map(|&(route, pattern)| {
            let mut id = None;
            let mut segments = path.split('/');
            for expected in pattern.split('/') {
                let segment = segments.next()?;
                if expected == "{id}" && !segment.is_empty() {
                    id = Some(segment);
                } else if segment != expected {
                    return None;
                }
            }
            segments.next().is_none().then_some((route, id))
        })
    }
}

/// Where the page is: the path of the page on screen.
#[derive(Debug, Clone, Copy)]
pub struct Here {
    path: RwSignal<String>,
}

impl Here {
    /// The page on screen (tracked).
    pub fn route(&self) -> Option<Route> {
        self.path
            .with(|path| Route::of(path).map(|(route, _)| route))
    }

    /// Whether `path` is the page on screen (tracked).
    pub fn is(&self, path: &str) -> bool {
        self.path.with(|here| here == path)
    }

    /// The page's `{id}`, read as a `T` (tracked).
    pub fn id<T: std::str::FromStr>(&self) -> Option<T> {
        self.path.with(|path| Route::of(path)?.1?.parse().ok())
    }

    /// Shows the page at `path`, as a new entry of the browser's history.
    pub fn go(&self, path: &str) {
        if self.path.with_untracked(|here| here == path) {
            return;
        }
        #[cfg(feature = "csr")]
        if let Some(window) = web_sys::window() {
            if let Ok(history) = window.history() {
                let _ = history.push_state_with_url(
                    &js_sys::wasm_bindgen::JsValue::NULL,
                    "",
                    Some(path),
                );
            }
            window.scroll_to_with_x_and_y(0.0, 0.0);
        }
        self.path.set(path.to_owned());
    }
}

/// Where the page is, from context.
pub fn use_here() -> Here {
    expect_context::<Here>()
}

/// Provides [`Here`], from the request's path on the server and from the
/// address bar in the browser, which from then on follows the site's links
/// and the back and forward buttons without loading a page.
pub fn provide_here() -> Here {
    let here = Here {
        path: RwSignal::new(first_path()),
    };
    provide_context(here);
    #[cfg(feature = "csr")]
    follow_links_and_history(here);
    here
}

#[cfg(feature = "ssr")]
fn first_path() -> String {
    use_context::<axum::http::request::Parts>()
        .map(|parts| parts.uri.path().to_owned())
        .unwrap_or_else(|| "/".to_owned())
}

#[cfg(feature = "csr")]
fn first_path() -> String {
    web_sys::window()
        .and_then(|window| window.location().pathname().ok())
        .unwrap_or_else(|| "/".to_owned())
}

#[cfg(not(any(feature = "ssr", feature = "csr")))]
fn first_path() -> String {
    "/".to_owned()
}

/// A click on a link to a page of the site shows that page here, without
/// a reload; any other link (another site, a file, a new tab, a modified
/// click, a query or a fragment) is the browser's.
#[cfg(feature = "csr")]
fn follow_links_and_history(here: Here) {
    use js_sys::wasm_bindgen::JsCast;

    // The app lives as long as the page: the listeners stay.
    let _ = window_event_listener(leptos::ev::popstate, move |_| {
        if let Some(path) = web_sys::window().and_then(|window| window.location().pathname().ok()) {
            here.path.set(path);
        }
    });
    let _ = window_event_listener(leptos::ev::click, move |event| {
        if event.default_prevented()
            || event.button() != 0
            || event.meta_key()
            || event.ctrl_key()
            || event.shift_key()
            || event.alt_key()
        {
            return;
        }
        let Some(link) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|element| element.closest("a[href]").ok().flatten())
            .and_then(|link| link.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        else {
            return;
        };
        let same_site = web_sys::window()
            .and_then(|window| window.location().origin().ok())
            .is_some_and(|origin| origin == link.origin());
        let path = link.pathname();
        if same_site
            && link.target().is_empty()
            && !link.has_attribute("download")
            && link.search().is_empty()
            && link.hash().is_empty()
            && Route::of(&path).is_some()
        {
            event.prevent_default();
            here.go(&path);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_found_with_its_id() {
        let id = "0b7e4f3c-9a5d-4d55-8f4e-2b1c6a0d9e11";
        assert_eq!(Route::of("/"), Some((Route::Lobby, None)));
        assert_eq!(
            Route::of(&format!("/game/{id}")),
            Some((Route::Game, Some(id)))
        );
        assert_eq!(Route::of("/about"), Some((Route::About, None)));
        assert_eq!(Route::of("/history"), Some((Route::History, None)));
        assert_eq!(Route::of("/players/p1"), Some((Route::Player, Some("p1"))));
        assert_eq!(
            Route::of("/games/g1/replay"),
            Some((Route::Replay, Some("g1")))
        );
    }

    #[test]
    fn other_paths_are_no_page() {
        for path in [
            "",
            "//",
            "/game",
            "/game/",
            "/game/a/b",
            "/history/",
            "/abouts",
            "/games/g1",
            "/games//replay",
            "/games/g1/replay/x",
            "/pkg/tictactoe.wasm",
            "/api/ws",
        ] {
            assert_eq!(Route::of(path), None, "{path}");
        }
    }
}
