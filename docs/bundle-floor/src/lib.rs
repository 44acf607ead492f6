use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Board { pub game_id: String, pub cells: Vec<Option<String>>, pub version: u64 }

#[server(prefix = "/api", endpoint = "ping")]
pub async fn ping(n: u64) -> Result<Board, ServerFnError> { Ok(Board { game_id: n.to_string(), cells: vec![], version: n }) }

#[component]
fn Lobby() -> impl IntoView {
    let count = RwSignal::new(0u64);
    let board = RwSignal::new(None::<Board>);
    let ask = Action::new(|n: &u64| { let n = *n; async move { ping(n).await.ok() } });
    Effect::new(move |_| if let Some(Some(b)) = ask.value().get() { board.set(Some(b)) });
    let items = move || (0..count.get()).collect::<Vec<u64>>();
    view! {
        <h1>"Lobby"</h1>
        <button on:click=move |_| { count.update(|c| *c += 1); ask.dispatch(count.get_untracked()); }>"Ask " {count}</button>
        <p>{move || board.get().map(|b| format!("{} {}", b.game_id, b.version))}</p>
        <ul><For each=items key=|n| *n let:n><li>{n}</li></For></ul>
        <A href="/game">"Game"</A>
    }
}

#[component]
fn Game() -> impl IntoView {
    let last = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Ok(socket) = gloo_net::websocket::futures::WebSocket::open("/ws") {
            leptos::task::spawn_local(async move {
                use futures::StreamExt;
                let (_, mut read) = socket.split();
                while let Some(Ok(gloo_net::websocket::Message::Text(text))) = read.next().await {
                    if let Ok(b) = serde_json::from_str::<Board>(&text) { last.set(format!("{:?}", b.cells)); }
                }
            });
        }
    });
    view! { <h1>"Game"</h1><p>{last}</p><Show when=move || !last.get().is_empty()><p>"moved"</p></Show> }
}

#[component]
pub fn App() -> impl IntoView {
    leptos_meta::provide_meta_context();
    view! {
        <leptos_meta::Title text="floor"/>
        <Router><main><Routes fallback=|| "Not found."><Route path=path!("") view=Lobby/><Route path=path!("game") view=Game/></Routes></main></Router>
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
