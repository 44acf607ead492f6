//! The Leptos application: the HTML shell, routes, pages and the server
//! functions they call. Built twice: with `ssr` into the server, with
//! `csr` into the browser bundle.
#![forbid(unsafe_code)]

pub mod about;
pub mod api;
pub mod backoff;
pub mod calls;
pub mod client;
pub mod computer;
pub mod connection;
pub mod game_page;
pub mod history_page;
pub mod invitation;
pub mod link;
pub mod lobby;
pub mod quick_play;
pub mod replay_page;
pub mod router;
pub mod server_status;
pub mod shell;
pub mod socket_commands;
pub mod socket_frames;
pub mod wire;

pub use shell::{App, shell};
