//! The Leptos application: the HTML shell, routes, pages and the server
//! functions they call. Built twice: with `ssr` into the server, with
//! `hydrate` into the browser bundle.
#![forbid(unsafe_code)]

pub mod api;
pub mod backoff;
pub mod connection;
pub mod home;
pub mod server_status;
pub mod shell;
pub mod wire;

pub use shell::{App, shell};
