//! Games waiting for players: each lapses if nobody joins in time, and a
//! user has at most `hosting::MAX_WAITING_GAMES` of them at once.

mod common;

use bus::testkit::{Expect, TestKit};
use common::*;
use domain::hosting::MAX_WAITING_GAMES;
use domain::*;
use serde_json::json;

fn create(kit: &mut TestKit, game: u128, creator: u128) -> &mut TestKit {
    kit.when(CreateGame {
        game_id: id(game),
        player_id: id(creator),
    })
}

/// Alice's games `1..=MAX_WAITING_GAMES`, all waiting.
fn hosting_all_she_may() -> TestKit {
    let mut kit = users();
    for game in 1..=MAX_WAITING_GAMES as u128 {
        kit.given(CreateGame {
            game_id: id(game),
            player_id: id(ALICE),
        });
    }
    kit
}

/// What creating game `game` past the bound brings: it is made, then
/// called off, and Alice is told why.
fn too_many(game: u128) -> [Expect; 3] {
    [
        Expect::from(GameCreated {
            game_id: id(game),
            creator: id(ALICE),
            version: 1,
        }),
        Expect::from(GameErrorOccurred {
            game_id: id(game),
            player_id: id(ALICE),
            reason: GameError::TooManyWaitingGames,
        }),
        Expect::from(GameEnded {
            game_id: id(game),
            result: GameResult::GameAborted,
            winner: None,
            version: 2,
        }),
    ]
}

fn made(game: u128) -> [Expect; 1] {
    [Expect::from(GameCreated {
        game_id: id(game),
        creator: id(ALICE),
        version: 1,
    })]
}

#[test]
fn a_game_nobody_joins_lapses_with_the_turn_timeout() {
    let mut kit = users();
    kit.given(CreateGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    })
    .given(JoinGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    });
    kit.advance_ms(TURN - 1).then_expect_nothing();
    kit.advance_ms(1).then_expect_including([
        Expect::from(WaitingGameClosed {
            game_id: id(GAME),
            creator: id(ALICE),
        }),
        Expect::from(GameEnded {
            game_id: id(GAME),
            result: GameResult::GameAborted,
            winner: None,
            version: 3,
        }),
    ]);
    kit.when(JoinGame {
        game_id: id(GAME),
        player_id: id(BOB),
    })
    .then_expect([Expect::partial::<GameErrorOccurred>(
        json!({ "reason": "GAME_ALREADY_ENDED" }),
    )]);
}

#[test]
fn an_invitation_gives_the_wait_a_new_deadline() {
    let mut kit = users();
    kit.given(CreateGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    });
    kit.advance_ms(TURN - 1_000);
    kit.given(InviteUser {
        inviter_id: id(ALICE),
        invited_id: id(BOB),
        game_id: id(GAME),
    });
    // The creation's deadline sets the timer again for the invitation's.
    kit.advance_ms(1_000).then_expect([
        Expect::from(TurnDeadlinePassed {
            game_id: id(GAME),
            turn_number: 0,
        }),
        Expect::partial_named("ScheduleEvent", json!({ "afterMs": TURN - 1_000 })),
    ]);
    kit.advance_ms(TURN - 1_000 - 1).then_expect_nothing();
    kit.advance_ms(1)
        .then_expect_including([Expect::partial::<GameEnded>(
            json!({ "result": "GAME_ABORTED" }),
        )]);
}

#[test]
fn a_user_has_a_bounded_number_of_waiting_games() {
    let mut kit = hosting_all_she_may();
    let next = MAX_WAITING_GAMES as u128 + 1;
    create(&mut kit, next, ALICE).then_expect_including(too_many(next));
    kit.when(JoinGame {
        game_id: id(next),
        player_id: id(BOB),
    })
    .then_expect([Expect::partial::<GameErrorOccurred>(
        json!({ "reason": "GAME_ALREADY_ENDED" }),
    )]);
    // Someone else's bound is their own.
    create(&mut kit, next + 1, BOB).then_expect_including([Expect::partial::<GameCreated>(
        json!({ "creator": id::<UserId>(BOB) }),
    )]);
    kit.advance_ms(1).then_expect_nothing();
}

#[test]
fn a_game_that_starts_or_lapses_frees_its_place() {
    let mut kit = hosting_all_she_may();
    start_as_bob(&mut kit, 1);
    let next = MAX_WAITING_GAMES as u128 + 1;
    create(&mut kit, next, ALICE).then_expect_including(made(next));
    create(&mut kit, next + 1, ALICE).then_expect_including(too_many(next + 1));
    // Nobody joins the others: they lapse, and free their places.
    kit.advance_ms(TURN);
    create(&mut kit, next + 2, ALICE).then_expect_including(made(next + 2));
}

fn start_as_bob(kit: &mut TestKit, game: u128) {
    kit.given(JoinGame {
        game_id: id(game),
        player_id: id(ALICE),
    })
    .given(JoinGame {
        game_id: id(game),
        player_id: id(BOB),
    });
}

#[test]
fn creating_a_game_that_exists_costs_no_place() {
    let mut kit = users();
    kit.given(CreateGame {
        game_id: id(GAME),
        player_id: id(BOB),
    });
    for player in [BOB, ALICE] {
        create(&mut kit, GAME, player).then_expect([Expect::from(GameErrorOccurred {
            game_id: id(GAME),
            player_id: id(player),
            reason: GameError::GameAlreadyExists,
        })]);
    }
    for game in 1..=MAX_WAITING_GAMES as u128 {
        create(&mut kit, game, ALICE).then_expect_including(made(game));
    }
    create(&mut kit, 0xff, ALICE).then_expect_including(too_many(0xff));
}
