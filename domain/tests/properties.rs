//! Property tests of the game handler: whatever two players (and a
//! stranger) send, in any order, the game stays legal.

use bus::Change;
use bus::testkit::run;
use domain::game::{self, Game, Playing, Waiting};
use domain::{
    Board, GameEnded, GameErrorOccurred, GameResult, MarkPlaced, PlaceMark, Rules, Verdict,
};
use domain::{GameId, UserId};
use proptest::prelude::*;

const X: UserId = UserId::from_u128(1);
const O: UserId = UserId::from_u128(2);
const STRANGER: UserId = UserId::from_u128(3);
const GAME: GameId = GameId::from_u128(9);

fn playing() -> Game {
    Game::Playing(Playing {
        game_id: GAME,
        players: [X, O],
        board: Board::default(),
        turn: domain::Mark::X,
        turn_number: 1,
        deadline: 20_000,
        started_at: 0,
        moves: Vec::new(),
        version: 5,
        watchers: Vec::new(),
    })
}

fn board(game: &Game) -> Board {
    match game {
        Game::Playing(game) => game.board,
        Game::Ended(game) => game.board,
        Game::Waiting(Waiting { .. }) => Board::default(),
    }
}

proptest! {
    #[test]
    fn any_sequence_of_moves_keeps_the_game_legal(
        moves in proptest::collection::vec((0u8..3, -1i64..4, -1i64..4), 0..60)
    ) {
        let rules = Rules::default();
        let mut game = playing();
        let mut ended_at = None;
        for (step, (who, x, y)) in moves.into_iter().enumerate() {
            let player = [X, O, STRANGER][usize::from(who)];
            let before = game.clone();
            let outcome = run(
                |g, c: &PlaceMark, ctx| game::place_mark(g, c, ctx, &rules),
                Some(game.clone()),
                &PlaceMark { game_id: GAME, player_id: player, x, y },
                1_000 * step as u64,
            );
            let refused = outcome.emitted().iter().any(|e| e.is::<GameErrorOccurred>());
            let placed = outcome.emitted().iter().any(|e| e.is::<MarkPlaced>());
            prop_assert!(refused != placed, "a move is either refused or placed");
            match outcome.change() {
                Change::Keep => {
                    prop_assert!(refused);
                    // A refused move changes nothing, timers included.
                    prop_assert_eq!(outcome.emitted().len(), 1);
                }
                Change::Set(next) => {
                    prop_assert!(placed);
                    prop_assert!(ended_at.is_none(), "no move after the end");
                    prop_assert_eq!(board(next).marks(), board(&before).marks() + 1);
                    prop_assert!(next.version() > before.version());
                    game = next.clone();
                }
                Change::Delete => prop_assert!(false, "a move never deletes the game"),
            }
            let current = board(&game);
            let xs = current.cells.iter().flatten().filter(|c| **c == Some(domain::Mark::X)).count();
            let os = current.cells.iter().flatten().filter(|c| **c == Some(domain::Mark::O)).count();
            prop_assert!(xs == os || xs == os + 1, "X first, then turns alternate");
            let ended = outcome.emitted().iter().find_map(|e| e.downcast_ref::<GameEnded>().cloned());
            if let Some(ended) = ended {
                ended_at = Some(step);
                match current.verdict() {
                    Verdict::Won(mark) => {
                        prop_assert_eq!(ended.result, GameResult::PlayerWon);
                        prop_assert_eq!(ended.winner, Some(if mark == domain::Mark::X { X } else { O }));
                    }
                    Verdict::Draw => prop_assert_eq!(ended.result, GameResult::Draw),
                    Verdict::Playing => prop_assert!(false, "ended while still playable"),
                }
            } else if placed {
                prop_assert_eq!(current.verdict(), Verdict::Playing, "the game ends exactly when the board says");
            }
        }
    }
}
