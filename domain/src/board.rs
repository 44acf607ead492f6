//! The board and its rules, as plain functions the browser can call too.

use serde::{Deserialize, Serialize};

use crate::ids::UserId;

crate::json_unit_enum! {
    /// A player's mark. X moves first.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub enum Mark {
        /// The first player's mark.
        X,
        /// The second player's mark.
        O,
    }
}

impl Mark {
    /// The other player's mark.
    pub const fn other(self) -> Self {
        match self {
            Self::X => Self::O,
            Self::O => Self::X,
        }
    }
}

/// The side of the board.
pub const SIZE: usize = 3;

/// The board, `cells[y][x]`: `y` is the row, `x` the column, 0..=2 each.
/// On the wire, each cell is `null`, `"X"` or `"O"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Board {
    /// Rows of cells.
    pub cells: [[Option<Mark>; SIZE]; SIZE],
}

/// Why a mark cannot go where it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementError {
    /// `x` or `y` is outside 0..=2.
    OffLimits,
    /// The cell already holds a mark.
    AlreadyFilled,
}

/// Where a game stands after a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nobody has won and a cell is empty.
    Playing,
    /// This mark has three in a row.
    Won(Mark),
    /// Every cell is filled and nobody has won.
    Draw,
}

/// Every line that wins: three rows, three columns, two diagonals, as (x, y).
const LINES: [[(usize, usize); 3]; 8] = [
    [(0, 0), (1, 0), (2, 0)],
    [(0, 1), (1, 1), (2, 1)],
    [(0, 2), (1, 2), (2, 2)],
    [(0, 0), (0, 1), (0, 2)],
    [(1, 0), (1, 1), (1, 2)],
    [(2, 0), (2, 1), (2, 2)],
    [(0, 0), (1, 1), (2, 2)],
    [(2, 0), (1, 1), (0, 2)],
];

impl Board {
    /// The mark at column `x`, row `y` (`None` when empty or off the board).
    pub fn at(&self, x: usize, y: usize) -> Option<Mark> {
        self.cells
            .get(y)
            .and_then(|row| row.get(x))
            .copied()
            .flatten()
    }

    /// The board with `mark` placed at column `x`, row `y`.
    pub fn place(&self, x: i64, y: i64, mark: Mark) -> Result<Self, PlacementError> {
        let (Ok(x), Ok(y)) = (usize::try_from(x), usize::try_from(y)) else {
            return Err(PlacementError::OffLimits);
        };
        if x >= SIZE || y >= SIZE {
            return Err(PlacementError::OffLimits);
        }
        if self.cells[y][x].is_some() {
            return Err(PlacementError::AlreadyFilled);
        }
        let mut next = *self;
        next.cells[y][x] = Some(mark);
        Ok(next)
    }

    /// How many marks are on the board.
    pub fn marks(&self) -> usize {
        self.cells
            .iter()
            .flatten()
            .filter(|cell| cell.is_some())
            .count()
    }

    /// The mark with three in a row, if any.
    pub fn winner(&self) -> Option<Mark> {
        self.winning_line().map(|(mark, _)| mark)
    }

    /// The mark with three in a row and its cells as (x, y), if any.
    pub fn winning_line(&self) -> Option<(Mark, [(usize, usize); 3])> {
        LINES.iter().find_map(|line| {
            let [a, b, c] = line.map(|(x, y)| self.cells[y][x]);
            a.filter(|mark| b == Some(*mark) && c == Some(*mark))
                .map(|mark| (mark, *line))
        })
    }

    /// The empty cells, as (x, y), row by row.
    pub fn empty_cells(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..SIZE)
            .flat_map(|y| (0..SIZE).map(move |x| (x, y)))
            .filter(|&(x, y)| self.cells[y][x].is_none())
    }

    /// How many of `mark` are on the board.
    pub fn count(&self, mark: Mark) -> usize {
        self.cells
            .iter()
            .flatten()
            .filter(|cell| **cell == Some(mark))
            .count()
    }

    /// Whose turn it is on this board: X moves first, then they alternate.
    pub fn next_mark(&self) -> Mark {
        if self.count(Mark::X) > self.count(Mark::O) {
            Mark::O
        } else {
            Mark::X
        }
    }

    /// Won, drawn, or still playing.
    pub fn verdict(&self) -> Verdict {
        match self.winner() {
            Some(mark) => Verdict::Won(mark),
            None if self.marks() == SIZE * SIZE => Verdict::Draw,
            None => Verdict::Playing,
        }
    }
}

/// One move of a game, for the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Move {
    /// Who moved.
    pub player_id: UserId,
    /// The column.
    pub x: u8,
    /// The row.
    pub y: u8,
    /// When, on the server clock.
    pub at: u64,
}

crate::json_struct!(Move {
    player_id,
    x,
    y,
    at
});

#[cfg(test)]
impl Board {
    /// A board drawn as three rows of `X`, `O` and anything else for empty.
    pub(crate) fn from_rows(rows: [&str; 3]) -> Self {
        let mut board = Self::default();
        for (y, row) in rows.iter().enumerate() {
            for (x, cell) in row.chars().take(SIZE).enumerate() {
                board.cells[y][x] = match cell {
                    'X' => Some(Mark::X),
                    'O' => Some(Mark::O),
                    _ => None,
                };
            }
        }
        board
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn board(rows: [&str; 3]) -> Board {
        Board::from_rows(rows)
    }

    #[test]
    fn every_row_column_and_diagonal_wins() {
        for line in LINES {
            let mut won = Board::default();
            for (x, y) in line {
                won.cells[y][x] = Some(Mark::O);
            }
            assert_eq!(won.verdict(), Verdict::Won(Mark::O), "{line:?}");
        }
    }

    #[test]
    fn a_full_board_without_a_line_is_a_draw() {
        assert_eq!(board(["XOX", "XOO", "OXX"]).verdict(), Verdict::Draw);
    }

    #[test]
    fn a_full_board_with_a_line_is_a_win_not_a_draw() {
        assert_eq!(
            board(["XXX", "OOX", "XOO"]).verdict(),
            Verdict::Won(Mark::X)
        );
    }

    #[test]
    fn placing_checks_limits_and_filled_cells() {
        let board = board(["X..", "...", "..."]);
        assert_eq!(
            board.place(0, 0, Mark::O),
            Err(PlacementError::AlreadyFilled)
        );
        assert_eq!(board.place(3, 0, Mark::O), Err(PlacementError::OffLimits));
        assert_eq!(board.place(0, -1, Mark::O), Err(PlacementError::OffLimits));
        assert_eq!(
            board.place(1, 2, Mark::O).map(|b| b.at(1, 2)),
            Ok(Some(Mark::O))
        );
    }

    #[test]
    fn serialises_as_rows_of_null_x_o() {
        let json = serde_json::to_value(board(["X..", ".O.", "..."])).unwrap();
        assert_eq!(
            json,
            serde_json::json!([["X", null, null], [null, "O", null], [null, null, null]])
        );
    }

    proptest! {
        /// Two players alternating on random cells: the board stays legal,
        /// at most one side ever wins, and play ends exactly at the first
        /// line or at the ninth mark.
        #[test]
        fn random_games_follow_the_rules(moves in proptest::collection::vec((0i64..3, 0i64..3), 0..40)) {
            let mut board = Board::default();
            let mut mark = Mark::X;
            let mut ended = false;
            for (x, y) in moves {
                prop_assert!(!ended || board.verdict() != Verdict::Playing);
                if ended {
                    break;
                }
                match board.place(x, y, mark) {
                    Ok(next) => {
                        prop_assert_eq!(next.marks(), board.marks() + 1);
                        board = next;
                        mark = mark.other();
                    }
                    Err(error) => {
                        prop_assert_eq!(error, PlacementError::AlreadyFilled);
                        continue;
                    }
                }
                let (xs, os) = (board.count(Mark::X), board.count(Mark::O));
                prop_assert!(xs == os || xs == os + 1, "X moves first and they alternate");
                let x_wins = LINES.iter().any(|l| l.iter().all(|&(x, y)| board.cells[y][x] == Some(Mark::X)));
                let o_wins = LINES.iter().any(|l| l.iter().all(|&(x, y)| board.cells[y][x] == Some(Mark::O)));
                prop_assert!(!(x_wins && o_wins), "at most one winner");
                ended = board.verdict() != Verdict::Playing;
                prop_assert_eq!(ended, x_wins || o_wins || board.marks() == 9);
            }
        }
    }
}
