//! `GetGame`: a game as a player sees it.

use serde::{Deserialize, Serialize};

use crate::board::{Board, Mark};
use crate::events::{GameResult, GetGame};
use crate::game::Game;
use crate::ids::{GameId, UserId};

crate::json_unit_enum! {
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

crate::json_struct!(Seat { user_id, mark });

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
    /// How many watch the game (spectators' sockets).
    #[serde(default)]
    pub watching: u32,
}

crate::json_struct!(GameView {
    game_id, stage, players, board, turn, deadline, result, winner, invited, version;
    default watching
});

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

/// Games per page of `GetLiveGames` (and in `LiveGamesUpdated`).
pub const LIVE_GAMES_PAGE: usize = 20;

/// `GetLiveGames`: the games being played, newest first, a page of them.
pub fn live_games(games: &[Game], query: &crate::events::GetLiveGames) -> crate::events::LiveGames {
    let mut playing: Vec<&crate::game::Playing> = games
        .iter()
        .filter_map(|game| match game {
            Game::Playing(playing) => Some(playing),
            _ => None,
        })
        .collect();
    playing.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then(b.game_id.cmp(&a.game_id))
    });
    let skip = (query.page as usize).saturating_mul(LIVE_GAMES_PAGE);
    crate::events::LiveGames {
        total: playing.len() as u64,
        games: playing
            .into_iter()
            .skip(skip)
            .take(LIVE_GAMES_PAGE)
            .map(|playing| crate::events::LiveGameSummary {
                game_id: playing.game_id,
                players: playing.players.to_vec(),
                moves: playing.board.marks() as u32,
                started_at: playing.started_at,
            })
            .collect(),
    }
}

/// `GetGameRoutes`: every game's players and version.
pub fn game_routes(
    games: &[Game],
    _: &crate::events::GetGameRoutes,
) -> Vec<crate::events::LiveGame> {
    games
        .iter()
        .map(|game| {
            let (game_id, players) = match game {
                Game::Waiting(game) => (game.game_id, game.players.clone()),
                Game::Playing(game) => (game.game_id, game.players.to_vec()),
                Game::Ended(game) => (game.game_id, game.players.clone()),
            };
            crate::events::LiveGame {
                game_id,
                players,
                version: game.version(),
            }
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
            watching: 0,
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
            watching: game.watchers.len() as u32,
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
            watching: 0,
        },
    };
    Some(view)
}

/// What applying an event to a [`GameView`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The view moved to the event's version.
    Applied,
    /// The view had the event already (a replay overlapping live events).
    Stale,
    /// Events are missing before this one: reload the game.
    Gap,
    /// Not an event of this game.
    OtherGame,
}

impl GameView {
    /// The empty view of a game known only by id, at version 0.
    pub fn empty(game_id: GameId) -> Self {
        Self {
            game_id,
            stage: Stage::Waiting,
            players: Vec::new(),
            board: Board::default(),
            turn: None,
            deadline: None,
            result: None,
            winner: None,
            invited: None,
            version: 0,
            watching: 0,
        }
    }

    /// Moves the view forward by one public event of its game, as the
    /// browser does with what the socket brings.
    pub fn apply(&mut self, event: &crate::audience::Delivered) -> Applied {
        use crate::audience::Delivered;
        let Some((game_id, version)) = event.game_version() else {
            return Applied::OtherGame;
        };
        if game_id != self.game_id {
            return Applied::OtherGame;
        }
        if version <= self.version {
            return Applied::Stale;
        }
        if version > self.version + 1 {
            return Applied::Gap;
        }
        self.version = version;
        match event {
            Delivered::PlayerJoinedAGame(e)
                if !self.players.iter().any(|seat| seat.user_id == e.player_id) =>
            {
                let mark = if self.players.is_empty() {
                    Mark::X
                } else {
                    Mark::O
                };
                self.players.push(Seat {
                    user_id: e.player_id,
                    mark,
                });
            }
            Delivered::GameStarted(e) => {
                self.stage = Stage::InProgress;
                self.players = seats(&e.players);
                self.invited = None;
            }
            Delivered::WaitingForPlayerPlay(e) => {
                self.turn = Some(e.player_id);
                self.deadline = Some(e.deadline);
            }
            Delivered::MarkPlaced(e) => {
                let mark = self
                    .players
                    .iter()
                    .find(|seat| seat.user_id == e.player_id)
                    .map(|seat| seat.mark);
                if let Some(row) = self.board.cells.get_mut(usize::from(e.y))
                    && let Some(cell) = row.get_mut(usize::from(e.x))
                {
                    *cell = mark;
                }
                self.turn = None;
            }
            Delivered::BoardUpdated(e) => self.board = e.board,
            Delivered::WatchersChanged(e) => self.watching = e.watching,
            Delivered::GameEnded(e) => {
                self.stage = Stage::Ended;
                self.result = Some(e.result);
                self.winner = e.winner;
                self.turn = None;
                self.deadline = None;
            }
            _ => {}
        }
        Applied::Applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audience::Delivered;
    use crate::{
        BoardUpdated, GameEnded, GameStarted, MarkPlaced, PlayerJoinedAGame, WaitingForPlayerPlay,
    };

    fn id<I: From<uuid::Uuid>>(n: u128) -> I {
        I::from(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_view_follows_the_events_of_its_game_in_order() {
        let game_id = id(9);
        let mut view = GameView::empty(game_id);
        view.version = 1;
        let events = [
            Delivered::PlayerJoinedAGame(PlayerJoinedAGame {
                game_id,
                player_id: id(1),
                version: 2,
            }),
            Delivered::PlayerJoinedAGame(PlayerJoinedAGame {
                game_id,
                player_id: id(2),
                version: 3,
            }),
            Delivered::GameStarted(GameStarted {
                game_id,
                players: vec![id(1), id(2)],
                version: 4,
            }),
            Delivered::WaitingForPlayerPlay(WaitingForPlayerPlay {
                game_id,
                player_id: id(1),
                timeout_ms: 20_000,
                deadline: 99,
                version: 5,
            }),
            Delivered::MarkPlaced(MarkPlaced {
                game_id,
                player_id: id(1),
                x: 2,
                y: 0,
                version: 6,
            }),
        ];
        for event in &events {
            assert_eq!(view.apply(event), Applied::Applied);
        }
        assert_eq!(view.stage, Stage::InProgress);
        assert_eq!(view.board.at(2, 0), Some(Mark::X));
        assert_eq!(view.apply(&events[4]), Applied::Stale);
        let ended = Delivered::GameEnded(GameEnded {
            game_id,
            result: crate::GameResult::Draw,
            winner: None,
            version: 8,
        });
        assert_eq!(view.apply(&ended), Applied::Gap);
        let board = Delivered::BoardUpdated(BoardUpdated {
            game_id,
            board: view.board,
            version: 7,
        });
        assert_eq!(view.apply(&board), Applied::Applied);
        assert_eq!(view.apply(&ended), Applied::Applied);
        assert_eq!(view.stage, Stage::Ended);
        let elsewhere = Delivered::BoardUpdated(BoardUpdated {
            game_id: id(5),
            board: Board::default(),
            version: 9,
        });
        assert_eq!(view.apply(&elsewhere), Applied::OtherGame);
    }
}
