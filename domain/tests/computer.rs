//! Games against the computer, through the bus test kit.

mod common;

use bus::testkit::{Expect, TestKit};
use common::*;
use domain::bot::{Level, THINKING_MS};
use domain::view::Stage;
use domain::*;
use serde_json::json;

/// Alice starts a game against the computer at `level`; who plays X.
fn against(kit: &mut TestKit, level: Level) -> [UserId; 2] {
    kit.when(PlayComputer {
        game_id: id(GAME),
        player_id: id(ALICE),
        level,
    });
    let view = kit.query(GetGame { game_id: id(GAME) }).expect("the game");
    assert_eq!(view.stage, Stage::InProgress);
    let players: Vec<UserId> = view.players.iter().map(|seat| seat.user_id).collect();
    [players[0], players[1]]
}

/// Plays for Alice, on her turns, the first empty cell, and lets the
/// computer answer, until game `game` ends; the number of moves.
fn play_out(kit: &mut TestKit, game: u128) -> usize {
    for moves in 0..=9 {
        let view = kit.query(GetGame { game_id: id(game) }).expect("the game");
        if view.stage == Stage::Ended {
            return moves;
        }
        if view.turn == Some(id(ALICE)) {
            let (x, y) = view.board.empty_cells().next().expect("a cell");
            kit.when(PlaceMark {
                game_id: id(game),
                player_id: id(ALICE),
                x: x as i64,
                y: y as i64,
            });
        } else {
            // The computer thinks a moment, then moves.
            kit.advance_ms(THINKING_MS - 1);
            let before = kit.query(GetGame { game_id: id(game) }).expect("the game");
            assert_eq!(before.board, view.board, "not before its time");
            kit.advance_ms(1)
                .then_expect_including([Expect::partial::<MarkPlaced>(
                    json!({ "playerId": view.turn }),
                )]);
        }
    }
    unreachable!("a game ends within nine moves")
}

#[test]
fn a_game_against_the_computer_starts_at_once_with_the_player_and_the_computer() {
    let mut kit = users();
    for seed_game in 0..8u128 {
        let game = GAME + seed_game * 0x100;
        kit.when(PlayComputer {
            game_id: id(game),
            player_id: id(ALICE),
            level: Level::Easy,
        })
        .then_expect_including([Expect::partial::<GameStarted>(
            json!({ "gameId": id::<GameId>(game) }),
        )]);
    }
    // Who moves first is drawn: over a few games, both.
    let firsts: std::collections::HashSet<UserId> = (0..8u128)
        .map(|n| {
            kit.query(GetGame {
                game_id: id(GAME + n * 0x100),
            })
            .unwrap()
            .players[0]
                .user_id
        })
        .collect();
    assert_eq!(
        firsts.len(),
        2,
        "sometimes the player, sometimes the computer"
    );
}

#[test]
fn the_easy_computer_plays_legal_moves_on_time_to_the_end() {
    let mut kit = users();
    against(&mut kit, Level::Easy);
    let moves = play_out(&mut kit, GAME);
    assert!((5..=9).contains(&moves), "{moves}");
    assert_eq!(kit.pending_timers(), 1, "only the cleanup is left");
}

#[test]
fn the_perfect_computer_does_not_lose_and_nobody_scores_against_it() {
    let mut kit = users();
    let players = against(&mut kit, Level::Perfect);
    play_out(&mut kit, GAME);
    let view = kit.query(GetGame { game_id: id(GAME) }).unwrap();
    assert_ne!(view.winner, Some(id(ALICE)), "{players:?}");
    // The hall of fame stays between people.
    assert_eq!(kit.query(GetTopThreePlayers {}), vec![]);
    // Alice's history has the game; the computer keeps none.
    let history = kit.query(GetHistory { user_id: id(ALICE) });
    assert_eq!(history.games.len(), 1);
    let computer = Level::Perfect.user();
    assert!(kit.query(GetHistory { user_id: computer }).games.is_empty());
}

#[test]
fn a_player_who_beats_the_computer_scores_nothing() {
    let mut kit = users();
    // The easy computer, seeded by the fake clock: play until Alice wins
    // one (she always takes the first empty cell).
    for game in 0..40u128 {
        let game_id = GAME + game * 0x100;
        kit.when(PlayComputer {
            game_id: id(game_id),
            player_id: id(ALICE),
            level: Level::Easy,
        });
        play_out(&mut kit, game_id);
        let view = kit
            .query(GetGame {
                game_id: id(game_id),
            })
            .unwrap();
        if view.winner == Some(id(ALICE)) {
            assert_eq!(kit.query(GetTopThreePlayers {}), vec![]);
            return;
        }
    }
    panic!("Alice never beat the easy computer in 40 games");
}

#[test]
fn a_player_who_does_not_move_against_the_computer_loses_by_timeout() {
    let mut kit = users();
    let [x, _] = against(&mut kit, Level::Perfect);
    if x != id(ALICE) {
        kit.advance_ms(THINKING_MS)
            .then_expect_including([Expect::any::<MarkPlaced>()]);
    }
    // Alice's turn; she never moves.
    kit.advance_ms(TURN)
        .then_expect_including([Expect::partial::<GameEnded>(
            json!({ "result": "GAME_ABORTED" }),
        )]);
    assert_eq!(kit.pending_timers(), 1, "only the cleanup is left");
}

#[test]
fn nobody_can_sign_up_as_the_computer() {
    let mut kit = kit();
    kit.when(CreateUser {
        user_id: Level::Easy.user(),
        alias: alias("mallory"),
    })
    .then_expect([Expect::from(UserErrorOccurred {
        user_id: Level::Easy.user(),
        reason: UserError::UserAlreadyExists,
    })]);
    assert_eq!(
        kit.query(GetUser {
            user_id: Level::Perfect.user()
        })
        .map(|user| user.alias),
        Some(alias("Computer (perfect)"))
    );
}
