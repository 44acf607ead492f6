//! `GetGame`: a game as a player sees it.

use serde::{Deserialize, Serialize};

use crate::board::{Board, Mark};
use crate::events::{GameResult, GetGame};
use crate::game::Game;
use crate::ids::{GameId, UserId};

/// The stage of a game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Stage {
    /// Waiting for players.
    Waiting,
    /// Being played.
    InProgress,
    /// Over.
    Ended,
}

/// A player and their mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seat {
    /// The player.
    pub user_id: UserId,
    /// Their mark.
    pub mark: Mark,
}

/// The answer to `GetGame`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GameView {
    /// The game.
    pub game_id: GameId,
    /// Its stage.
    pub stage: Stage,
    /// Who plays which mark (X first).
    pub players: Vec<Seat>,
    /// The board, `board[y][x]`.
    pub board: Board,
    /// Whose turn it is, while in progress.
    pub turn: Option<UserId>,
    /// When that turn times out (server time, ms since the epoch).
    pub deadline: Option<u64>,
    /// How it ended, once ended.
    pub result: Option<GameResult>,
    /// The winner, for a win.
    pub winner: Option<UserId>,
    /// Who is invited, while waiting.
    pub invited: Option<UserId>,
    /// The version of the game's last public event.
    pub version: u64,
}

fn seats(players: &[UserId]) -> Vec<Seat> {
    players
        .iter()
        .zip([Mark::X, Mark::O])
        .map(|(user_id, mark)| Seat {
            user_id: *user_id,
            mark,
        })
        .collect()
}

/// `GetGame`: `None` once the game is cleaned up (or never was).
pub fn view(game: Option<&Game>, _: &GetGame) -> Option<GameView> {
    let view = match game? {
        Game::Waiting(game) => GameView {
            game_id: game.game_id,
            stage: Stage::Waiting,
            players: seats(&game.players),
            board: Board::default(),
            turn: None,
            deadline: None,
            result: None,
            winner: None,
            invited: game.invited,
            version: game.version,
        },
        Game::Playing(game) => GameView {
            game_id: game.game_id,
            stage: Stage::InProgress,
            players: seats(&game.players),
            board: game.board,
            turn: Some(game.current_player()),
            deadline: Some(game.deadline),
            result: None,
            winner: None,
            invited: None,
            version: game.version,
        },
        Game::Ended(game) => GameView {
            game_id: game.game_id,
            stage: Stage::Ended,
            players: seats(&game.players),
            board: game.board,
            turn: None,
            deadline: None,
            result: Some(game.result),
            winner: game.winner,
            invited: None,
            version: game.version,
        },
    };
    Some(view)
}
