//! One game between two players, played as two browsers would: invite,
//! accept, then each moves only once told it is its turn.

use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;

use crate::Failure;
use crate::player::{Kind, Player};

/// How a game goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// X wins along the top row in five moves.
    Win,
    /// Nine moves, nobody wins.
    Draw,
    /// Win and draw, one game each in turn.
    Mixed,
}

/// (x, y) cells in the order they are played, X first.
const WIN: &[(u8, u8)] = &[(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)];
const DRAW: &[(u8, u8)] = &[
    (0, 0),
    (1, 0),
    (2, 0),
    (1, 1),
    (0, 1),
    (2, 1),
    (1, 2),
    (0, 2),
    (2, 2),
];

impl Pattern {
    /// The moves of game number `n` of a player pair.
    pub fn moves(self, n: u64) -> &'static [(u8, u8)] {
        match self {
            Self::Win => WIN,
            Self::Draw => DRAW,
            Self::Mixed if n.is_multiple_of(2) => WIN,
            Self::Mixed => DRAW,
        }
    }
}

/// Paces one player pair's moves to a steady rate, as people thinking
/// between moves do; without it a pair moves as soon as it may.
#[derive(Debug)]
pub struct Pacer {
    every: Duration,
    next: tokio::time::Instant,
}

impl Pacer {
    /// One move per `every`, the first after `offset` (spread the pairs so
    /// they do not all move at once).
    pub fn new(every: Duration, offset: Duration) -> Self {
        Self {
            every,
            next: tokio::time::Instant::now() + offset,
        }
    }

    /// Waits for the next move's time. A pair that fell behind moves at
    /// once, without a burst to catch up.
    pub async fn wait(&mut self) {
        tokio::time::sleep_until(self.next).await;
        self.next = (self.next + self.every).max(tokio::time::Instant::now());
    }
}

/// What one finished game measured.
#[derive(Debug, Default)]
pub struct Played {
    /// From sending each move to the opponent receiving its `BoardUpdated`.
    pub latencies: Vec<Duration>,
    /// When each move was sent.
    pub sent: Vec<Instant>,
}

/// Sets a game up: `host` creates it and invites `guest`, who accepts by
/// joining; done when the host (X) is told to play. Gives the game and the
/// version of that turn.
pub async fn start(
    host: &mut Player,
    guest: &mut Player,
    patience: Duration,
) -> Result<(Uuid, u64), Failure> {
    let game = Uuid::new_v4();
    host.command("CreateGame", json!({ "gameId": game }))
        .await?;
    host.command("JoinGame", json!({ "gameId": game })).await?;
    host.command(
        "InviteUser",
        json!({ "gameId": game, "invitedId": guest.id }),
    )
    .await?;
    guest.wait(Kind::UserInvited, game, patience).await?;
    guest.command("JoinGame", json!({ "gameId": game })).await?;
    // The host joined first: it is X and is told first.
    let turn = host.wait_turn(game, patience).await?;
    Ok((game, turn.version.unwrap_or_default()))
}

/// Sets a game up and plays `moves` to the end.
pub async fn play(
    host: &mut Player,
    guest: &mut Player,
    moves: &[(u8, u8)],
    patience: Duration,
    mut pacer: Option<&mut Pacer>,
) -> Result<Played, Failure> {
    let (game, mut turn) = start(host, guest, patience).await?;
    let (mut mover, mut other) = (host, guest);
    let mut played = Played::default();
    for (n, (x, y)) in moves.iter().enumerate() {
        if let Some(pacer) = pacer.as_mut() {
            pacer.wait().await;
        }
        let sent = Instant::now();
        mover
            .command("PlaceMark", json!({ "gameId": game, "x": x, "y": y }))
            .await?;
        // Newer than the turn it answers: the socket also holds the boards
        // of this player's own moves.
        let board = other.wait_board(game, turn, patience).await?;
        played
            .latencies
            .push(board.at.saturating_duration_since(sent));
        played.sent.push(sent);
        if n + 1 == moves.len() {
            break;
        }
        turn = other
            .wait_turn(game, patience)
            .await?
            .version
            .unwrap_or_default();
        std::mem::swap(&mut mover, &mut other);
    }
    for player in [mover, other] {
        player.wait(Kind::GameEnded, game, patience).await?;
    }
    Ok(played)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Board, Mark, Verdict};

    /// The patterns end as they say, and only on their last move (checked
    /// with the game's own rules).
    #[test]
    fn patterns_win_and_draw_on_their_last_move() {
        for (moves, end) in [(WIN, Verdict::Won(Mark::X)), (DRAW, Verdict::Draw)] {
            let mut board = Board::default();
            for (n, (x, y)) in moves.iter().enumerate() {
                let mark = if n % 2 == 0 { Mark::X } else { Mark::O };
                board = board
                    .place(i64::from(*x), i64::from(*y), mark)
                    .expect("a free cell");
                let expected = if n + 1 == moves.len() {
                    end
                } else {
                    Verdict::Playing
                };
                assert_eq!(board.verdict(), expected, "move {n}");
            }
        }
    }
}
