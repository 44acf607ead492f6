//! Each player's finished games, newest first, kept for good.
//!
//! A player's latest games (up to a page) are one small state, rewritten
//! when a game ends; a full page moves to a state of its own, written once.
//! So ending a game costs the same after ten games or ten thousand.

use bus::{Ctx, Outcome};
use serde::{Deserialize, Serialize};

use crate::events::{GameArchived, GetGameRecord, GetHistory, GetHistoryPage, HistoryPageFilled};
use crate::ids::UserId;

/// Games per page of history.
pub const PAGE_SIZE: usize = 10;

/// One player's latest finished games, and how many full pages came before.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    latest: Vec<GameArchived>,
    pages: u32,
}

/// A full page of one player's older games, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    games: Vec<GameArchived>,
}

/// A finished game, kept by its id for replays (written once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GameRecord(GameArchived);

bus::states!(History, HistoryPage, GameRecord);

/// States written once and seldom read, ever more of them: a store that
/// keeps states in memory may leave these on disk.
pub const ARCHIVED_STATES: &[&str] = &[
    <HistoryPage as bus::State>::TYPE,
    <GameRecord as bus::State>::TYPE,
];

/// What `GetHistory` answers: the latest games and how many older pages
/// `GetHistoryPage` can fetch (numbered from 0, the oldest).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recent {
    /// Newest first, at most [`PAGE_SIZE`].
    pub games: Vec<GameArchived>,
    /// Full pages before these.
    pub older_pages: u32,
}

/// Adds a finished game to the history of its player number `index` (a
/// handler per player, keyed by [`player`]). A page that fills up goes out
/// as [`HistoryPageFilled`].
pub fn record(
    history: Option<History>,
    game: &GameArchived,
    _: &Ctx,
    index: usize,
) -> Outcome<History> {
    let mut history = history.unwrap_or_default();
    if history
        .latest
        .iter()
        .any(|known| known.game_id == game.game_id)
    {
        return Outcome::keep();
    }
    if history.latest.len() < PAGE_SIZE {
        history.latest.insert(0, game.clone());
        return Outcome::set(history);
    }
    let Some(user_id) = game.players.get(index).copied() else {
        return Outcome::keep();
    };
    let filled = HistoryPageFilled {
        user_id,
        page: history.pages,
        games: std::mem::replace(&mut history.latest, vec![game.clone()]),
    };
    history.pages += 1;
    Outcome::set(history).emit(filled)
}

/// Keeps a full page (once: a page is never rewritten).
pub fn file(
    page: Option<HistoryPage>,
    filled: &HistoryPageFilled,
    _: &Ctx,
) -> Outcome<HistoryPage> {
    match page {
        Some(_) => Outcome::keep(),
        None => Outcome::set(HistoryPage {
            games: filled.games.clone(),
        }),
    }
}

/// Keeps a finished game by its id (once).
pub fn keep_record(
    record: Option<GameRecord>,
    game: &GameArchived,
    _: &Ctx,
) -> Outcome<GameRecord> {
    match record {
        Some(_) => Outcome::keep(),
        None => Outcome::set(GameRecord(game.clone())),
    }
}

/// `GetGameRecord`.
pub fn get_record(record: Option<&GameRecord>, _: &GetGameRecord) -> Option<GameArchived> {
    record.map(|record| record.0.clone())
}

/// The key of a page's state.
pub fn page_key(user_id: UserId, page: u32) -> String {
    format!("{user_id}/{page}")
}

/// The key of player `index`'s history for a game.
pub fn player(index: usize) -> impl Fn(&GameArchived) -> Option<String> {
    move |game| {
        game.players
            .get(index)
            // The computer keeps no history: it would be one state every
            // game against it writes.
            .filter(|player| crate::bot::Level::of(**player).is_none())
            .map(UserId::to_string)
    }
}

/// `GetHistory`.
pub fn get(history: Option<&History>, _: &GetHistory) -> Recent {
    history
        .map(|history| Recent {
            games: history.latest.clone(),
            older_pages: history.pages,
        })
        .unwrap_or_default()
}

/// `GetHistoryPage`.
pub fn get_page(page: Option<&HistoryPage>, _: &GetHistoryPage) -> Vec<GameArchived> {
    page.map(|page| page.games.clone()).unwrap_or_default()
}
