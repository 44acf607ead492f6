//! Each player's finished games, newest first, kept for good.
//!
//! A player's latest games (up to a page) are one small state, rewritten
//! when a game ends; a full page moves to a state of its own, written once.
//! So ending a game costs the same after ten games or ten thousand.

use bus::{Ctx, Outcome};
use serde::{Deserialize, Serialize};

use crate::events::{GameArchived, GetGameRecord, GetHistory, GetHistoryPage, HistoryPageFilled};
use crate::ids::UserId;
use crate::kept_game::upcast_whole;

/// Games per page of history.
pub const PAGE_SIZE: usize = 10;

/// One player's latest finished games, and how many full pages came before.
/// Stored with each game in [`kept_game`](crate::kept_game)'s short shape
/// (schema 2; schema 1 kept them whole).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    #[serde(with = "crate::kept_game::games")]
    latest: Vec<GameArchived>,
    pages: u32,
}

impl bus::State for History {
    const TYPE: &'static str = "History";
    const SCHEMA_VERSION: u32 = 2;

    fn upcast(from_version: u32, state: serde_json::Value) -> Result<serde_json::Value, String> {
        /// Schema 1: the games whole.
        #[derive(Deserialize)]
        struct Whole {
            latest: Vec<GameArchived>,
            pages: u32,
        }
        upcast_whole(
            Self::TYPE,
            from_version,
            state,
            |Whole { latest, pages }| History { latest, pages },
        )
    }
}

/// A full page of one player's older games, newest first (in the stored
/// shape since schema 2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    #[serde(with = "crate::kept_game::games")]
    games: Vec<GameArchived>,
}

impl bus::State for HistoryPage {
    const TYPE: &'static str = "HistoryPage";
    const SCHEMA_VERSION: u32 = 2;

    fn upcast(from_version: u32, state: serde_json::Value) -> Result<serde_json::Value, String> {
        /// Schema 1: the games whole.
        #[derive(Deserialize)]
        struct Whole {
            games: Vec<GameArchived>,
        }
        upcast_whole(Self::TYPE, from_version, state, |Whole { games }| {
            HistoryPage { games }
        })
    }
}

/// A finished game, kept by its id for replays (written once; in the
/// stored shape since schema 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GameRecord(#[serde(with = "crate::kept_game::one")] GameArchived);

impl bus::State for GameRecord {
    const TYPE: &'static str = "GameRecord";
    const SCHEMA_VERSION: u32 = 2;

    fn upcast(from_version: u32, state: serde_json::Value) -> Result<serde_json::Value, String> {
        upcast_whole(Self::TYPE, from_version, state, GameRecord)
    }
}

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

crate::json_struct!(Recent { games, older_pages });

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::Move;
    use crate::events::GameResult;
    use crate::ids::GameId;
    use bus::{State, StateBody};

    fn history() -> History {
        let (x, o) = (UserId::from_u128(1), UserId::from_u128(2));
        let game = |n: u128| GameArchived {
            game_id: GameId::from_u128(n),
            players: vec![x, o],
            started_at: 1_000 * n as u64,
            ended_at: 1_000 * n as u64 + 900,
            result: GameResult::PlayerWon,
            winner: Some(o),
            moves: vec![
                Move {
                    player_id: x,
                    x: 0,
                    y: 0,
                    at: 1_000 * n as u64 + 100,
                },
                Move {
                    player_id: o,
                    x: 1,
                    y: 1,
                    at: 1_000 * n as u64 + 200,
                },
            ],
        };
        History {
            latest: (1..=PAGE_SIZE as u128).rev().map(game).collect(),
            pages: 3,
        }
    }

    #[test]
    fn a_history_stored_whole_by_an_older_release_reads_as_the_same_history() {
        let expected = history();
        let whole = serde_json::json!({ "latest": expected.latest, "pages": expected.pages });
        let stored = StateBody::json(whole.to_string(), 1);
        assert_eq!(stored.decode::<History>().expect("upcast"), expected);
        assert!(
            StateBody::json(whole.to_string(), 3)
                .decode::<History>()
                .is_err(),
            "a newer release's history is refused"
        );
    }

    #[test]
    fn pages_and_records_stored_whole_read_as_the_same() {
        let latest = history().latest;
        let page = HistoryPage {
            games: latest.clone(),
        };
        let whole = serde_json::json!({ "games": latest });
        assert_eq!(
            StateBody::json(whole.to_string(), 1)
                .decode::<HistoryPage>()
                .expect("upcast"),
            page
        );
        let record = GameRecord(latest[0].clone());
        let whole = serde_json::to_string(&latest[0]).expect("serialises");
        assert_eq!(
            StateBody::json(whole, 1)
                .decode::<GameRecord>()
                .expect("upcast"),
            record
        );
        for (text, version) in [
            (
                StateBody::live(page.clone()).to_json_text(),
                HistoryPage::SCHEMA_VERSION,
            ),
            (
                StateBody::live(record.clone()).to_json_text(),
                GameRecord::SCHEMA_VERSION,
            ),
        ] {
            assert!(!text.contains("playerId"), "stored short: {text}");
            assert_eq!(version, 2);
        }
        let stored = StateBody::live(record.clone()).to_json_text();
        assert_eq!(
            StateBody::json(stored, 2)
                .decode::<GameRecord>()
                .expect("reads"),
            record
        );
    }

    #[test]
    fn a_history_reads_back_what_it_stored_and_answers_the_games_whole() {
        let kept = history();
        let text = StateBody::live(kept.clone()).to_json_text();
        let stored = StateBody::json(text.clone(), History::SCHEMA_VERSION);
        assert_eq!(stored.decode::<History>().expect("reads"), kept);
        let whole = serde_json::to_string(&kept.latest).expect("serialises");
        assert!(
            text.len() * 2 < whole.len(),
            "{} against {}",
            text.len(),
            whole.len()
        );
        let recent = get(
            Some(&kept),
            &GetHistory {
                user_id: UserId::from_u128(1),
            },
        );
        assert_eq!(recent.games, kept.latest);
        assert_eq!(recent.older_pages, 3);
    }
}
