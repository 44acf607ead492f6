//! The browser entry point: takes over the server-rendered page.
//!
//! The server renders every page whole, so a player sees it before this
//! module has loaded. The module then renders the app in the browser and puts
//! it in the server's nodes' place, in one task (no frame shows an empty
//! page), instead of hydrating those nodes: client-side rendering (Leptos's
//! `csr`) without hydration's code, which was every view's hydration
//! functions (blocking and asynchronous) and 12% of the bundle: 291,731 ->
//! 256,222 bytes gzip (docs/performance.md, "The browser bundle"). Both sides
//! render the same page from the same initial state, so what a player sees
//! does not change when the browser takes over.
#![forbid(unsafe_code)]

/// Called by the script Leptos's `HydrationScripts` writes in the page's
/// head, under this name, once the WASM module is loaded.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    if let Some(body) = leptos::prelude::document().body() {
        body.set_inner_html("");
    }
    leptos::mount::mount_to_body(app::App);
}
