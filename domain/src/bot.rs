//! The computer as a player: two levels, each a user of its own, and the
//! search behind the perfect one (also the browser's "Hint").
//!
//! The computer is a player on the bus like anyone: when its turn begins,
//! the game schedules [`ComputerTurnDue`](crate::ComputerTurnDue) a moment
//! later, and the game's handler then places the computer's mark under the
//! same rules and turn clock as a person's move.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::alias::Alias;
use crate::board::{Board, Mark, Verdict};
use crate::ids::{GameId, UserId};

crate::json_unit_enum! {
    /// How well the computer plays.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum Level {
        /// Any legal move, at random.
        Easy,
        /// Never loses: it searches every line of play.
        Perfect,
    }
}

impl Level {
    /// The user the computer plays as at this level.
    pub const fn user(self) -> UserId {
        match self {
            Self::Easy => UserId::from_u128(EASY),
            Self::Perfect => UserId::from_u128(PERFECT),
        }
    }

    /// The computer's name at this level.
    pub fn alias(self) -> Alias {
        let name = match self {
            Self::Easy => "Computer (easy)",
            Self::Perfect => "Computer (perfect)",
        };
        Alias::parse(name).unwrap_or_else(|_| unreachable!("a valid alias"))
    }

    /// The level `user` plays at, if `user` is the computer.
    pub fn of(user: UserId) -> Option<Self> {
        match user.uuid().as_u128() {
            EASY => Some(Self::Easy),
            PERFECT => Some(Self::Perfect),
            _ => None,
        }
    }
}

// Fixed ids nobody else can have: a version 4 UUID is random in all but
// its version and variant bits, which these do not have.
const EASY: u128 = 0x0000_0000_0000_0000_0000_0000_0000_0b01;
const PERFECT: u128 = 0x0000_0000_0000_0000_0000_0000_0000_0b02;

/// How long the computer "thinks" before it moves, so that a person sees
/// their own mark land first.
pub const THINKING_MS: u64 = 600;

/// The computer's move at `level` on `board`, as (x, y): for the easy level
/// a random legal one drawn from `seed`. `None` when the board is full or
/// won.
pub fn choose(level: Level, board: &Board, seed: u64) -> Option<(usize, usize)> {
    if board.verdict() != Verdict::Playing {
        return None;
    }
    match level {
        Level::Perfect => best_move(board),
        Level::Easy => {
            let empty: Vec<(usize, usize)> = board.empty_cells().collect();
            let pick = SmallRng::seed_from_u64(seed).random_range(0..empty.len());
            empty.get(pick).copied()
        }
    }
}

/// A seed for the computer's choice in `game` at `now_ms` on turn
/// `turn_number`: the same inputs, the same move (replays and tests).
pub fn seed(game_id: GameId, turn_number: u32, now_ms: u64) -> u64 {
    let (high, low) = game_id.uuid().as_u64_pair();
    high ^ low.rotate_left(17) ^ now_ms.rotate_left(31) ^ u64::from(turn_number)
}

/// Whether the player (rather than the computer) plays X in `game_id`
/// started at `now_ms`: a fair coin drawn from both.
pub fn player_first(game_id: GameId, now_ms: u64) -> bool {
    SmallRng::seed_from_u64(seed(game_id, 0, now_ms)).random_bool(0.5)
}

/// The best move for whoever's turn it is on `board` (X when the counts are
/// equal): a win if there is one, the quickest; else a draw; a loss only
/// when nothing else is left, the slowest. Ties go to the first cell, row
/// by row. `None` when the board is full or won.
pub fn best_move(board: &Board) -> Option<(usize, usize)> {
    if board.verdict() != Verdict::Playing {
        return None;
    }
    let me = board.next_mark();
    let mut best: Option<((usize, usize), i32)> = None;
    for (x, y) in board.empty_cells() {
        let mut next = *board;
        next.cells[y][x] = Some(me);
        let score = -negamax(&next, me.other(), -WIN, WIN);
        if best.is_none_or(|(_, best_score)| score > best_score) {
            best = Some(((x, y), score));
        }
    }
    best.map(|(cell, _)| cell)
}

/// A win's score; quicker wins score more (minus the marks on the board).
const WIN: i32 = 100;

/// The score of `board` for `to_move` (who moves next), with alpha-beta
/// pruning: positive when `to_move` wins with best play, zero for a draw.
fn negamax(board: &Board, to_move: Mark, mut alpha: i32, beta: i32) -> i32 {
    match board.verdict() {
        // The last mover made the line: bad news for `to_move`.
        Verdict::Won(_) => return -(WIN - board.marks() as i32),
        Verdict::Draw => return 0,
        Verdict::Playing => {}
    }
    let mut best = -WIN;
    for (x, y) in board.empty_cells() {
        let mut next = *board;
        next.cells[y][x] = Some(to_move);
        let score = -negamax(&next, to_move.other(), -beta, -alpha);
        best = best.max(score);
        alpha = alpha.max(score);
        if alpha >= beta {
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(rows: [&str; 3]) -> Board {
        Board::from_rows(rows)
    }

    /// Every game the opponent can play against the perfect computer
    /// playing `computer`: the computer never loses. Returns how many lines
    /// of play were checked.
    fn never_loses(board: Board, computer: Mark) -> usize {
        match board.verdict() {
            Verdict::Won(winner) => {
                assert_eq!(winner, computer, "the computer lost:\n{board:?}");
                return 1;
            }
            Verdict::Draw => return 1,
            Verdict::Playing => {}
        }
        if board.next_mark() == computer {
            let (x, y) = best_move(&board).expect("a move on a board in play");
            assert!(board.at(x, y).is_none(), "a legal move");
            let mut next = board;
            next.cells[y][x] = Some(computer);
            never_loses(next, computer)
        } else {
            board
                .empty_cells()
                .map(|(x, y)| {
                    let mut next = board;
                    next.cells[y][x] = Some(computer.other());
                    never_loses(next, computer)
                })
                .sum()
        }
    }

    #[test]
    fn the_perfect_computer_never_loses_as_x_or_as_o_whatever_the_opponent_plays() {
        // Every line of play of the opponent: as X the opponent has at
        // most 8 * 6 * 4 * 2 choices, as O 9 * 7 * 5 * 3 (fewer where a
        // game ends early).
        let as_x = never_loses(Board::default(), Mark::X);
        let as_o = never_loses(Board::default(), Mark::O);
        assert!(as_x > 0 && as_x <= 8 * 6 * 4 * 2, "{as_x}");
        assert!(as_o > 0 && as_o <= 9 * 7 * 5 * 3, "{as_o}");
    }

    #[test]
    fn the_perfect_computer_wins_at_once_when_it_can_and_blocks_otherwise() {
        // X to move: X wins on the top row rather than block O.
        assert_eq!(best_move(&board(["XX.", "OO.", "..."])), Some((2, 0)));
        // O to move, no win: O blocks X's top row.
        assert_eq!(best_move(&board(["XX.", "O..", "..."])), Some((2, 0)));
        assert_eq!(best_move(&board(["XXX", "OO.", "..."])), None);
    }

    #[test]
    fn the_easy_computer_plays_a_legal_move_drawn_from_its_seed() {
        let board = board(["XO.", ".X.", "O.."]);
        let mut seen = std::collections::HashSet::new();
        for seed in 0..200 {
            let (x, y) = choose(Level::Easy, &board, seed).expect("a move");
            assert!(x < 3 && y < 3 && board.at(x, y).is_none());
            seen.insert((x, y));
        }
        assert_eq!(seen.len(), 5, "every empty cell comes up");
        assert_eq!(
            choose(Level::Easy, &board, 7),
            choose(Level::Easy, &board, 7)
        );
    }

    #[test]
    fn the_computer_is_a_user_of_its_own_at_each_level() {
        for level in [Level::Easy, Level::Perfect] {
            assert_eq!(Level::of(level.user()), Some(level));
            assert_eq!(level.user().uuid().get_version_num(), 0);
        }
        assert_eq!(Level::of(UserId::from_uuid(uuid::Uuid::new_v4())), None);
    }
}
