//! The game's domain: its effects and pure handlers, shared by the server and
//! the browser (this crate builds for `wasm32-unknown-unknown`).
#![forbid(unsafe_code)]

pub mod alias;
pub mod board;

pub use alias::{Alias, AliasError};
pub use board::{Board, Mark, PlacementError, Verdict};
