//! A finished game as a player's [`History`](crate::history::History)
//! stores it: the facts of [`GameArchived`] in a third of the bytes.
//!
//! Each game's end rewrites both players' latest ten games, and every
//! tenth fills a page and each game leaves a record: those bytes are
//! serialised, journaled or written in place, folded into the tables and
//! copied back by checkpoints. Whole, a game was about 740 bytes, most of
//! it ids and the moves' field names. Stored, a game's moves are `[x, y,
//! ms after the start]`, whose player is the game's players in turn (X
//! first), the end is ms after the start and the winner a seat: the
//! server writes a fifth fewer bytes per move at 1,000 games
//! (docs/performance.md, "Games stored short"). A game whose moves or
//! winner do not fit that shape keeps them whole. `GetHistory`,
//! `GetHistoryPage` and `GetGameRecord` answer the same `GameArchived`.

use serde::de::Deserializer;
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::board::Move;
use crate::events::{GameArchived, GameResult};
use crate::ids::{GameId, UserId};

/// One stored game. The short names are the point: they are most of what
/// a game's facts would be written with.
#[derive(Serialize, Deserialize)]
struct Kept<'a> {
    #[serde(rename = "g")]
    game_id: GameId,
    #[serde(rename = "p")]
    players: std::borrow::Cow<'a, [UserId]>,
    #[serde(rename = "s")]
    started_at: u64,
    /// `ended_at - started_at`.
    #[serde(rename = "e")]
    lasted: u64,
    #[serde(rename = "r")]
    result: GameResult,
    /// The winner's seat in `players`.
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    winner_seat: Option<u8>,
    /// `[x, y, ms after the start]`, the players taking turns from seat 0.
    #[serde(rename = "m", default)]
    moves: Vec<(u8, u8, u64)>,
    /// The moves, whole, when they do not take turns that way.
    #[serde(rename = "mf", default, skip_serializing_if = "Option::is_none")]
    moves_whole: Option<Vec<Move>>,
    /// The winner, when not one of `players`.
    #[serde(rename = "wf", default, skip_serializing_if = "Option::is_none")]
    winner_whole: Option<UserId>,
}

impl<'a> Kept<'a> {
    fn of(game: &'a GameArchived) -> Self {
        let in_turn = game.moves.iter().enumerate().all(|(turn, played)| {
            game.players.get(turn % 2) == Some(&played.player_id) && played.at >= game.started_at
        });
        let winner_seat = game.winner.and_then(|winner| {
            game.players
                .iter()
                .position(|player| *player == winner)
                .and_then(|seat| u8::try_from(seat).ok())
        });
        Self {
            game_id: game.game_id,
            players: std::borrow::Cow::Borrowed(&game.players),
            started_at: game.started_at,
            lasted: game.ended_at.wrapping_sub(game.started_at),
            result: game.result,
            winner_seat,
            moves: if in_turn {
                game.moves
                    .iter()
                    .map(|played| (played.x, played.y, played.at - game.started_at))
                    .collect()
            } else {
                Vec::new()
            },
            moves_whole: (!in_turn).then(|| game.moves.clone()),
            winner_whole: game.winner.filter(|_| winner_seat.is_none()),
        }
    }

    fn into_game(self) -> GameArchived {
        let players = self.players.into_owned();
        let moves = match self.moves_whole {
            Some(moves) => moves,
            None => self
                .moves
                .iter()
                .enumerate()
                .filter_map(|(turn, &(x, y, after))| {
                    Some(Move {
                        player_id: *players.get(turn % 2)?,
                        x,
                        y,
                        at: self.started_at.wrapping_add(after),
                    })
                })
                .collect(),
        };
        let winner = self.winner_whole.or_else(|| {
            self.winner_seat
                .and_then(|seat| players.get(usize::from(seat)).copied())
        });
        GameArchived {
            game_id: self.game_id,
            players,
            started_at: self.started_at,
            ended_at: self.started_at.wrapping_add(self.lasted),
            result: self.result,
            winner,
            moves,
        }
    }
}

/// `#[serde(with = "kept_game::games")]`: a list of games in the stored
/// shape.
pub(crate) mod games {
    use super::*;

    /// Writes `games` in the stored shape.
    pub(crate) fn serialize<S: Serializer>(
        games: &[GameArchived],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(games.len()))?;
        for game in games {
            seq.serialize_element(&Kept::of(game))?;
        }
        seq.end()
    }

    /// Reads games written in the stored shape.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<GameArchived>, D::Error> {
        let kept = Vec::<Kept<'_>>::deserialize(deserializer)?;
        Ok(kept.into_iter().map(Kept::into_game).collect())
    }
}

/// `#[serde(with = "kept_game::one")]`: one game in the stored shape.
pub(crate) mod one {
    use super::*;

    /// Writes `game` in the stored shape.
    pub(crate) fn serialize<S: Serializer>(
        game: &GameArchived,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        Kept::of(game).serialize(serializer)
    }

    /// Reads a game written in the stored shape.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<GameArchived, D::Error> {
        Kept::deserialize(deserializer).map(Kept::into_game)
    }
}

/// A state's [`upcast`](bus::State::upcast) from schema 1, which kept its
/// games whole (`Whole`), to the stored shape: read as schema 1, made into
/// today's type by `into`, written again.
pub(crate) fn upcast_whole<Whole, Today>(
    type_name: &str,
    from_version: u32,
    state: serde_json::Value,
    into: impl FnOnce(Whole) -> Today,
) -> Result<serde_json::Value, String>
where
    Whole: serde::de::DeserializeOwned,
    Today: Serialize,
{
    if from_version != 1 {
        return Err(format!(
            "no reading of {type_name} version {from_version} is known"
        ));
    }
    let whole: Whole = serde_json::from_value(state).map_err(|error| error.to_string())?;
    serde_json::to_value(into(whole)).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Games(#[serde(with = "games")] Vec<GameArchived>);

    fn user(n: u128) -> UserId {
        UserId::from_u128(n)
    }

    fn game(moves: Vec<Move>, winner: Option<UserId>) -> GameArchived {
        GameArchived {
            game_id: GameId::from_u128(7),
            players: vec![user(1), user(2)],
            started_at: 1_765_000_000_000,
            ended_at: 1_765_000_012_345,
            result: if winner.is_some() {
                GameResult::PlayerWon
            } else {
                GameResult::Draw
            },
            winner,
            moves,
        }
    }

    fn played(player: u128, x: u8, y: u8, at: u64) -> Move {
        Move {
            player_id: user(player),
            x,
            y,
            at,
        }
    }

    fn round_trip(games: Vec<GameArchived>) -> Vec<GameArchived> {
        let text = serde_json::to_string(&Games(games)).expect("serialises");
        serde_json::from_str::<Games>(&text).expect("reads back").0
    }

    #[test]
    fn a_game_in_turns_is_written_short_and_reads_back_the_same() {
        let won = game(
            vec![
                played(1, 0, 0, 1_765_000_001_000),
                played(2, 1, 1, 1_765_000_002_500),
                played(1, 0, 1, 1_765_000_004_000),
                played(2, 2, 2, 1_765_000_005_000),
                played(1, 0, 2, 1_765_000_006_000),
            ],
            Some(user(1)),
        );
        let short = serde_json::to_string(&Games(vec![won.clone()])).expect("serialises");
        let whole = serde_json::to_string(&vec![won.clone()]).expect("serialises");
        assert!(
            short.len() * 5 < whole.len() * 2,
            "{} bytes stored against {} whole: {short}",
            short.len(),
            whole.len()
        );
        assert!(!short.contains("mf") && !short.contains("wf"), "{short}");
        assert_eq!(round_trip(vec![won.clone()]), vec![won]);
    }

    #[test]
    fn moves_out_of_turn_and_a_winner_not_seated_are_kept_whole() {
        let odd = game(
            vec![
                played(2, 0, 0, 1_765_000_001_000),
                played(2, 1, 1, 1_765_000_002_000),
            ],
            Some(user(9)),
        );
        let text = serde_json::to_string(&Games(vec![odd.clone()])).expect("serialises");
        assert!(text.contains("\"mf\"") && text.contains("\"wf\""), "{text}");
        assert_eq!(round_trip(vec![odd.clone()]), vec![odd]);
        // A move stamped before the start cannot be stored as ms after it.
        let early = game(vec![played(1, 0, 0, 5)], None);
        assert_eq!(round_trip(vec![early.clone()]), vec![early]);
    }

    proptest! {
        #[test]
        fn any_finished_game_reads_back_the_same(
            players in proptest::collection::vec(1u128..4, 0..3),
            moves in proptest::collection::vec((1u128..4, 0u8..3, 0u8..3, 0u64..4_000_000_000_000), 0..10),
            started_at in 0u64..4_000_000_000_000,
            ended_at in 0u64..4_000_000_000_000,
            winner in proptest::option::of(1u128..5),
            result in prop_oneof![Just(GameResult::PlayerWon), Just(GameResult::Draw), Just(GameResult::GameAborted)],
        ) {
            let game = GameArchived {
                game_id: GameId::from_u128(42),
                players: players.into_iter().map(user).collect(),
                started_at,
                ended_at,
                result,
                winner: winner.map(user),
                moves: moves.into_iter().map(|(p, x, y, at)| played(p, x, y, at)).collect(),
            };
            prop_assert_eq!(round_trip(vec![game.clone()]), vec![game]);
        }
    }
}
