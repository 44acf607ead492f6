//! Each player's finished games, newest first.

use bus::{Ctx, Outcome};
use serde::{Deserialize, Serialize};

use crate::events::{GameArchived, GetHistory};
use crate::ids::UserId;

/// How many finished games a player's history keeps.
pub const HISTORY_LENGTH: usize = 100;

/// One player's finished games, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    games: Vec<GameArchived>,
}

bus::states!(History);

/// A finished game goes to the front of a player's history.
pub fn record(history: Option<History>, game: &GameArchived, _: &Ctx) -> Outcome<History> {
    let mut history = history.unwrap_or_default();
    if history
        .games
        .iter()
        .any(|known| known.game_id == game.game_id)
    {
        return Outcome::keep();
    }
    history.games.insert(0, game.clone());
    history.games.truncate(HISTORY_LENGTH);
    Outcome::set(history)
}

/// The player whose history the `index`-th player of a game is.
pub fn player(index: usize) -> impl Fn(&GameArchived) -> Option<String> {
    move |game| game.players.get(index).map(UserId::to_string)
}

/// `GetHistory`.
pub fn get(history: Option<&History>, _: &GetHistory) -> Vec<GameArchived> {
    history
        .map(|history| history.games.clone())
        .unwrap_or_default()
}
