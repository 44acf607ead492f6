//! The browser entry point: takes over the server-rendered page.
#![forbid(unsafe_code)]
// The lobby's view type is deep enough to pass the default limit (128) when
// the compiler lays out its hydration future.
#![recursion_limit = "256"]

/// Called by the generated JavaScript once the WASM module is loaded.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
