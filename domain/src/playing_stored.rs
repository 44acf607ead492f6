//! A game being played as the store keeps it: its moves `[x, y, ms after
//! the start]`, whose player is the game's players in turn (X first).
//!
//! The game's state is written whole on every move (journaled, then
//! folded into its table), and its moves were most of it: each move's
//! player id, field names and time took about 95 of the body's 800 bytes
//! at the sixth move, escaped inside the journal's line. Short, a body is
//! about half (docs/performance.md, "Games being played stored short").
//! Moves that do not take turns that way (none should) are kept whole, and
//! both shapes read back, so bodies written before (schema 1) read as they
//! are.

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::board::{Board, Mark, Move};
use crate::game::Playing;
use crate::ids::{GameId, UserId};

/// The game as written, borrowed from it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Written<'a> {
    game_id: &'a GameId,
    players: &'a [UserId; 2],
    board: &'a Board,
    turn: &'a Mark,
    turn_number: u32,
    deadline: u64,
    started_at: u64,
    moves: Moves<'a>,
    version: u64,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    watchers: &'a [uuid::Uuid],
}

/// The moves, short when they take turns from seat 0 after the start.
struct Moves<'a>(&'a Playing);

impl Serialize for Moves<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let game = self.0;
        let in_turn = game.moves.iter().enumerate().all(|(turn, played)| {
            game.players[turn % 2] == played.player_id && played.at >= game.started_at
        });
        let mut moves = serializer.serialize_seq(Some(game.moves.len()))?;
        for played in &game.moves {
            if in_turn {
                moves.serialize_element(&(played.x, played.y, played.at - game.started_at))?;
            } else {
                moves.serialize_element(played)?;
            }
        }
        moves.end()
    }
}

/// The game as read: moves of either shape.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Read {
    game_id: GameId,
    players: [UserId; 2],
    board: Board,
    turn: Mark,
    turn_number: u32,
    deadline: u64,
    started_at: u64,
    moves: Vec<StoredMove>,
    version: u64,
    #[serde(default)]
    watchers: Vec<uuid::Uuid>,
}

/// One move, short or whole.
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredMove {
    Short(u8, u8, u64),
    Whole(Move),
}

impl Serialize for Playing {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Written {
            game_id: &self.game_id,
            players: &self.players,
            board: &self.board,
            turn: &self.turn,
            turn_number: self.turn_number,
            deadline: self.deadline,
            started_at: self.started_at,
            moves: Moves(self),
            version: self.version,
            watchers: &self.watchers,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Playing {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let read = Read::deserialize(deserializer)?;
        let moves = read
            .moves
            .into_iter()
            .enumerate()
            .map(|(turn, stored)| match stored {
                StoredMove::Short(x, y, after) => Move {
                    player_id: read.players[turn % 2],
                    x,
                    y,
                    at: read.started_at.saturating_add(after),
                },
                StoredMove::Whole(played) => played,
            })
            .collect();
        Ok(Playing {
            game_id: read.game_id,
            players: read.players,
            board: read.board,
            turn: read.turn,
            turn_number: read.turn_number,
            deadline: read.deadline,
            started_at: read.started_at,
            moves,
            version: read.version,
            watchers: read.watchers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::Game;
    use proptest::prelude::*;

    fn user(n: u128) -> UserId {
        UserId::from_u128(n)
    }

    fn playing(moves: Vec<Move>) -> Game {
        Game::Playing(Playing {
            game_id: GameId::from_u128(7),
            players: [user(1), user(2)],
            board: Board::default(),
            turn: Mark::X,
            turn_number: moves.len() as u32 + 1,
            deadline: 1_765_000_020_000,
            started_at: 1_765_000_000_000,
            moves,
            version: 9,
            watchers: Vec::new(),
        })
    }

    fn played(player: u128, x: u8, y: u8, at: u64) -> Move {
        Move {
            player_id: user(player),
            x,
            y,
            at,
        }
    }

    #[test]
    fn moves_in_turn_are_written_short_and_read_back_whole() {
        let game = playing(vec![
            played(1, 0, 0, 1_765_000_000_050),
            played(2, 1, 1, 1_765_000_000_120),
        ]);
        let text = serde_json::to_string(&game).unwrap();
        assert!(text.contains(r#""stage":"playing""#), "{text}");
        assert!(text.contains(r#""moves":[[0,0,50],[1,1,120]]"#), "{text}");
        assert_eq!(serde_json::from_str::<Game>(&text).unwrap(), game);
    }

    #[test]
    fn moves_out_of_turn_are_kept_whole() {
        let game = playing(vec![
            played(2, 0, 0, 1_765_000_000_050),
            played(1, 1, 1, 1_765_000_000_120),
        ]);
        let text = serde_json::to_string(&game).unwrap();
        assert!(text.contains(r#""playerId""#), "{text}");
        assert_eq!(serde_json::from_str::<Game>(&text).unwrap(), game);
    }

    #[test]
    fn a_body_written_whole_before_reads_as_the_same_game() {
        let game = playing(vec![played(1, 2, 0, 1_765_000_000_050)]);
        let Game::Playing(inner) = &game else {
            unreachable!()
        };
        let mut whole = serde_json::json!({
            "stage": "playing",
            "gameId": inner.game_id,
            "players": inner.players,
            "board": inner.board,
            "turn": inner.turn,
            "turnNumber": inner.turn_number,
            "deadline": inner.deadline,
            "startedAt": inner.started_at,
            "moves": inner.moves,
            "version": inner.version,
        });
        assert_eq!(serde_json::from_value::<Game>(whole.clone()).unwrap(), game);
        whole["moves"] = serde_json::json!([[2, 0, 50]]);
        assert_eq!(serde_json::from_value::<Game>(whole).unwrap(), game);
    }

    proptest! {
        #[test]
        fn any_game_being_played_reads_back_as_written(
            seats in proptest::collection::vec((1u128..=3, 0u8..3, 0u8..3, 0u64..100_000), 0..9),
        ) {
            let moves = seats
                .into_iter()
                .map(|(player, x, y, after)| played(player, x, y, 1_764_999_990_000 + after))
                .collect();
            let game = playing(moves);
            let text = serde_json::to_string(&game).unwrap();
            prop_assert_eq!(serde_json::from_str::<Game>(&text).unwrap(), game);
        }
    }
}
