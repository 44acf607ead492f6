//! The browser entry point: takes over the server-rendered page.
//!
//! The server renders every page whole, so a player sees it before this
//! module has loaded. The module then renders the app in the browser and puts
//! it in the server's nodes' place, in one task (no frame shows an empty
//! page), instead of hydrating those nodes: client-side rendering (Leptos's
//! `csr`) without hydration's code, which was every view's hydration
//! functions (blocking and asynchronous) and 12% of the bundle: 291,731 ->
//! 256,136 bytes gzip (docs/performance.md, "The browser bundle"). Both sides
//! render the same page from the same initial state, so what a player sees
//! does not change when the browser takes over; what they typed in a field
//! and where the focus was are carried over.
#![forbid(unsafe_code)]

use wasm_bindgen::JsCast;
use web_sys::{Document, HtmlElement, HtmlInputElement};

/// Called by the script Leptos's `HydrationScripts` writes in the page's
/// head, under this name, once the WASM module is loaded.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let document = leptos::prelude::document();
    let typed = typed_fields(&document);
    let focused = document
        .active_element()
        .map(|element| element.id())
        .filter(|id| !id.is_empty());
    if let Some(body) = document.body() {
        body.set_inner_html("");
    }
    leptos::mount::mount_to_body(app::App);
    for (id, value) in typed {
        if let Some(field) = by_id::<HtmlInputElement>(&document, &id) {
            field.set_value(&value);
            // The app's field reads what is typed from this event.
            if let Ok(input) = web_sys::Event::new("input") {
                let _ = field.dispatch_event(&input);
            }
        }
    }
    if let Some(element) = focused.and_then(|id| by_id::<HtmlElement>(&document, &id)) {
        let _ = element.focus();
    }
}

/// The text fields of the server's page that hold something, by id.
fn typed_fields(document: &Document) -> Vec<(String, String)> {
    let Ok(fields) = document.query_selector_all("input[id]") else {
        return Vec::new();
    };
    (0..fields.length())
        .filter_map(|index| fields.item(index)?.dyn_into::<HtmlInputElement>().ok())
        .filter_map(|field| {
            let value = field.value();
            (!value.is_empty()).then(|| (field.id(), value))
        })
        .collect()
}

fn by_id<T: JsCast>(document: &Document, id: &str) -> Option<T> {
    document.get_element_by_id(id)?.dyn_into::<T>().ok()
}
