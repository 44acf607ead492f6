//! The games a user has created that still wait for players: at most
//! [`MAX_WAITING_GAMES`] at once, so that nobody can fill the server with
//! games nobody joins (each also lapses after the turn timeout: see
//! [`crate::game::create`]).
//!
//! The game's own lane makes a game (so a client's `CreateGame` then
//! `JoinGame` stay in order); its `GameCreated` is counted here, in the
//! creator's lane, and a game past the bound is called off at once with
//! [`WaitingGameRefused`], so the bound holds however fast one user
//! creates. Each way a game stops waiting sends [`WaitingGameClosed`].

use bus::{Ctx, Outcome};
use serde::{Deserialize, Serialize};

use crate::events::{GameCreated, WaitingGameClosed, WaitingGameRefused};
use crate::ids::GameId;

/// Games one user may have waiting for players at once.
pub const MAX_WAITING_GAMES: usize = 10;

/// One user's games waiting for players.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hosting {
    /// The games, oldest first.
    pub waiting: Vec<GameId>,
}

bus::states!(Hosting);

/// A game was created: it counts, or is refused past the bound.
pub fn created(hosting: Option<Hosting>, created: &GameCreated, _: &Ctx) -> Outcome<Hosting> {
    let mut hosting = hosting.unwrap_or_default();
    if hosting.waiting.contains(&created.game_id) {
        return Outcome::keep();
    }
    if hosting.waiting.len() >= MAX_WAITING_GAMES {
        return Outcome::keep().emit(WaitingGameRefused {
            game_id: created.game_id,
            creator: created.creator,
        });
    }
    hosting.waiting.push(created.game_id);
    Outcome::set(hosting)
}

/// A game stopped waiting: it no longer counts.
pub fn closed(hosting: Option<Hosting>, closed: &WaitingGameClosed, _: &Ctx) -> Outcome<Hosting> {
    let Some(mut hosting) = hosting else {
        return Outcome::keep();
    };
    let before = hosting.waiting.len();
    hosting.waiting.retain(|game| *game != closed.game_id);
    match hosting.waiting.len() {
        0 => Outcome::delete(),
        after if after < before => Outcome::set(hosting),
        _ => Outcome::keep(),
    }
}
