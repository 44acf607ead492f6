//! The game's rules through the bus test kit, one behaviour per test, with
//! the fake clock.

use bus::testkit::{Expect, START_MS, TestKit};
use domain::*;
use serde_json::json;
use uuid::Uuid;

const TURN: u64 = 20_000;
const CLEANUP: u64 = 10_000;

fn id<I: From<Uuid>>(n: u128) -> I {
    I::from(Uuid::from_u128(n))
}
const GAME: u128 = 0x6a;
const ALICE: u128 = 0xa1;
const BOB: u128 = 0xb0;
const CAROL: u128 = 0xc0;

fn kit() -> TestKit {
    TestKit::new(|bus| register(bus, Rules::default()))
}

fn alias(name: &str) -> Alias {
    Alias::parse(name).unwrap()
}

/// Alice and Bob exist, Alice created the game; nobody joined yet.
fn created() -> TestKit {
    let mut kit = kit();
    kit.given(CreateUser {
        user_id: id(ALICE),
        alias: alias("alice"),
    })
    .given(CreateUser {
        user_id: id(BOB),
        alias: alias("bob"),
    })
    .given(CreateGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    });
    kit
}

/// Alice (X) and Bob (O) have joined: X to play.
fn started() -> TestKit {
    let mut kit = created();
    kit.given(JoinGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    })
    .given(JoinGame {
        game_id: id(GAME),
        player_id: id(BOB),
    });
    kit
}

fn mark(kit: &mut TestKit, player: u128, x: i64, y: i64) {
    kit.given(PlaceMark {
        game_id: id(GAME),
        player_id: id(player),
        x,
        y,
    });
}

/// Plays alternately from X: each pair is (x, y).
fn play(kit: &mut TestKit, moves: &[(i64, i64)]) {
    for (i, (x, y)) in moves.iter().enumerate() {
        mark(kit, if i % 2 == 0 { ALICE } else { BOB }, *x, *y);
    }
}

fn error(player: u128, reason: GameError) -> Expect {
    Expect::from(GameErrorOccurred {
        game_id: id(GAME),
        player_id: id(player),
        reason,
    })
}

#[test]
fn creating_a_game_makes_it_wait_for_players() {
    kit()
        .when(CreateGame {
            game_id: id(GAME),
            player_id: id(ALICE),
        })
        .then_expect([
            Expect::from(GameCreated {
                game_id: id(GAME),
                creator: id(ALICE),
                version: 1,
            }),
            // Nobody joining lapses it, as an unanswered invitation.
            Expect::partial_named(
                "ScheduleEvent",
                json!({ "afterMs": TURN, "event": { "type": "TurnDeadlinePassed", "payload": { "turnNumber": 0 } } }),
            ),
        ]);
}

#[test]
fn the_first_joiner_is_x_and_the_game_waits() {
    let mut kit = created();
    kit.when(JoinGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    })
    .then_expect([Expect::from(PlayerJoinedAGame {
        game_id: id(GAME),
        player_id: id(ALICE),
        version: 2,
    })]);
    assert_eq!(kit.pending_timers(), 1, "the wait for a second player only");
}

#[test]
fn the_second_join_starts_the_game_and_the_turn_clock() {
    let mut kit = created();
    kit.given(JoinGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    })
    .when(JoinGame {
        game_id: id(GAME),
        player_id: id(BOB),
    })
    .then_expect([
        Expect::from(PlayerJoinedAGame {
            game_id: id(GAME),
            player_id: id(BOB),
            version: 3,
        }),
        Expect::from(GameStarted {
            game_id: id(GAME),
            players: vec![id(ALICE), id(BOB)],
            version: 4,
        }),
        Expect::from(WaitingForPlayerPlay {
            game_id: id(GAME),
            player_id: id(ALICE),
            timeout_ms: TURN,
            deadline: START_MS + TURN,
            version: 5,
        }),
        Expect::from(WaitingGameClosed {
            game_id: id(GAME),
            creator: id(ALICE),
        }),
    ]);
    // The wait's timer is the game's still: no cancel and no schedule.
    assert_eq!(kit.pending_timers(), 1, "the game's one timer");
}

#[test]
fn the_timer_set_for_the_wait_waits_on_for_the_first_turns_deadline() {
    let mut kit = created();
    kit.given(JoinGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    });
    // Bob joins 5 s after the creation: X's first turn ends 5 s after the
    // wait would have.
    kit.advance_ms(5_000);
    kit.given(JoinGame {
        game_id: id(GAME),
        player_id: id(BOB),
    });
    kit.advance_ms(TURN - 5_000).then_expect([
        Expect::from(TurnDeadlinePassed { game_id: id(GAME), turn_number: 0 }),
        Expect::partial_named(
            "ScheduleEvent",
            json!({ "afterMs": 5_000, "key": format!("game:{}", id::<GameId>(GAME)), "event": { "type": "TurnDeadlinePassed", "payload": { "turnNumber": 1 } } }),
        ),
    ]);
    kit.advance_ms(5_000 - 1).then_expect_nothing();
    kit.advance_ms(1).then_expect_including([
        Expect::partial::<TurnTimeout>(json!({ "playerId": id::<UserId>(ALICE) })),
        Expect::partial::<GameEnded>(json!({ "result": "GAME_ABORTED" })),
    ]);
}

#[test]
fn a_third_join_is_refused() {
    let mut kit = started();
    kit.given(CreateUser {
        user_id: id(CAROL),
        alias: alias("carol"),
    })
    .when(JoinGame {
        game_id: id(GAME),
        player_id: id(CAROL),
    })
    .then_expect([error(CAROL, GameError::AllPlayersAlreadyJoined)]);
}

#[test]
fn moving_out_of_turn_is_refused_and_keeps_the_deadline() {
    let mut kit = started();
    kit.advance_ms(5_000);
    kit.when(PlaceMark {
        game_id: id(GAME),
        player_id: id(BOB),
        x: 0,
        y: 0,
    })
    .then_expect([error(BOB, GameError::PlayerCanNotPlay)]);
    // The running deadline stands: X still times out 20 s after the start.
    kit.advance_ms(TURN - 5_000 - 1).then_expect_nothing();
    kit.advance_ms(1)
        .then_expect_including([Expect::partial::<TurnTimeout>(
            json!({ "playerId": id::<UserId>(ALICE) }),
        )]);
}

#[test]
fn a_stranger_cannot_play() {
    started()
        .when(PlaceMark {
            game_id: id(GAME),
            player_id: id(CAROL),
            x: 0,
            y: 0,
        })
        .then_expect([error(CAROL, GameError::PlayerCanNotPlay)]);
}

#[test]
fn a_position_off_the_board_is_refused() {
    let mut kit = started();
    for (x, y) in [(3, 0), (0, 3), (-1, 1), (i64::MAX, 0)] {
        kit.when(PlaceMark {
            game_id: id(GAME),
            player_id: id(ALICE),
            x,
            y,
        })
        .then_expect([error(ALICE, GameError::PositionOffLimits)]);
    }
}

#[test]
fn a_filled_position_is_refused() {
    let mut kit = started();
    play(&mut kit, &[(1, 1)]);
    kit.when(PlaceMark {
        game_id: id(GAME),
        player_id: id(BOB),
        x: 1,
        y: 1,
    })
    .then_expect([error(BOB, GameError::PositionAlreadyFilled)]);
}

#[test]
fn a_move_after_the_end_is_refused() {
    let mut kit = started();
    play(&mut kit, &[(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]);
    kit.when(PlaceMark {
        game_id: id(GAME),
        player_id: id(BOB),
        x: 2,
        y: 2,
    })
    .then_expect([error(BOB, GameError::GameAlreadyEnded)]);
}

#[test]
fn a_move_updates_the_board_and_passes_the_turn_with_a_new_deadline() {
    let mut kit = started();
    kit.advance_ms(3_000);
    let mut board = Board::default();
    board.cells[2][1] = Some(Mark::X);
    kit.when(PlaceMark {
        game_id: id(GAME),
        player_id: id(ALICE),
        x: 1,
        y: 2,
    })
    .then_expect([
        Expect::from(MarkPlaced {
            game_id: id(GAME),
            player_id: id(ALICE),
            x: 1,
            y: 2,
            version: 6,
        }),
        Expect::from(BoardUpdated {
            game_id: id(GAME),
            board,
            version: 7,
        }),
        Expect::from(WaitingForPlayerPlay {
            game_id: id(GAME),
            player_id: id(BOB),
            timeout_ms: TURN,
            deadline: START_MS + 3_000 + TURN,
            version: 8,
        }),
    ]);
}

#[test]
fn a_move_puts_off_the_timeout_to_the_next_turns_deadline() {
    let mut kit = started();
    kit.advance_ms(TURN - 1);
    play(&mut kit, &[(0, 0)]);
    // Alice's deadline passes without a timeout: the game's timer (set
    // for the wait, which ended at the same instant) waits on for Bob's,
    // 20 s after her move.
    kit.advance_ms(1).then_expect([
        Expect::from(TurnDeadlinePassed {
            game_id: id(GAME),
            turn_number: 0,
        }),
        Expect::partial_named(
            "ScheduleEvent",
            json!({ "afterMs": TURN - 1, "key": format!("game:{}", id::<GameId>(GAME)), "event": { "type": "TurnDeadlinePassed", "payload": { "turnNumber": 2 } } }),
        ),
    ]);
    kit.advance_ms(TURN - 2).then_expect_nothing();
    kit.advance_ms(1)
        .then_expect_including([Expect::partial::<TurnTimeout>(
            json!({ "playerId": id::<UserId>(BOB) }),
        )]);
}

#[test]
fn the_timer_waits_through_many_moves_and_ends_the_turn_left_running() {
    let mut kit = started();
    // Four moves, a second apart: the last turn (Alice's, the fifth)
    // began 4 s after the start.
    for (n, cell) in [(0, 0), (1, 0), (0, 1), (1, 1)].into_iter().enumerate() {
        kit.advance_ms(1_000);
        mark(
            &mut kit,
            if n % 2 == 0 { ALICE } else { BOB },
            cell.0,
            cell.1,
        );
    }
    // The first turn's deadline (the wait's: the game started as it was
    // created) only sets the timer again, once.
    kit.advance_ms(TURN - 4_000).then_expect([
        Expect::from(TurnDeadlinePassed {
            game_id: id(GAME),
            turn_number: 0,
        }),
        Expect::partial_named("ScheduleEvent", json!({ "afterMs": 4_000 })),
    ]);
    kit.advance_ms(4_000 - 1).then_expect_nothing();
    kit.advance_ms(1).then_expect_including([
        Expect::partial::<TurnTimeout>(json!({ "playerId": id::<UserId>(ALICE) })),
        Expect::partial::<GameEnded>(json!({ "result": "GAME_ABORTED" })),
    ]);
    // The ending cancelled it.
    kit.advance_ms(2 * TURN)
        .then_expect_no(Expect::any::<TurnDeadlinePassed>());
}

fn ends_with(moves: &[(i64, i64)], result: GameResult, winner: Option<u128>) {
    let mut kit = started();
    let (last, before) = moves.split_last().unwrap();
    play(&mut kit, before);
    let player = if before.len() % 2 == 0 { ALICE } else { BOB };
    // 5 after the start, then three public events per move.
    let version = 5 + 3 * moves.len() as u64;
    kit.when(PlaceMark {
        game_id: id(GAME),
        player_id: id(player),
        x: last.0,
        y: last.1,
    })
    .then_expect_including([
        Expect::partial::<BoardUpdated>(json!({ "version": version - 1 })),
        Expect::from(GameEnded {
            game_id: id(GAME),
            result,
            winner: winner.map(id),
            version,
        }),
    ])
    .then_expect_no(Expect::any::<WaitingForPlayerPlay>());
}

#[test]
fn three_in_a_row_wins() {
    ends_with(
        &[(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)],
        GameResult::PlayerWon,
        Some(ALICE),
    );
}

#[test]
fn three_in_a_column_wins() {
    ends_with(
        &[(0, 0), (1, 0), (0, 1), (1, 1), (2, 2), (1, 2)],
        GameResult::PlayerWon,
        Some(BOB),
    );
}

#[test]
fn both_diagonals_win() {
    ends_with(
        &[(0, 0), (1, 0), (1, 1), (2, 0), (2, 2)],
        GameResult::PlayerWon,
        Some(ALICE),
    );
    ends_with(
        &[(2, 0), (0, 0), (1, 1), (1, 0), (0, 2)],
        GameResult::PlayerWon,
        Some(ALICE),
    );
}

#[test]
fn a_full_board_without_a_line_is_a_draw() {
    // X O X / X O O / O X X
    ends_with(
        &[
            (0, 0),
            (1, 0),
            (2, 0),
            (1, 1),
            (0, 1),
            (2, 1),
            (1, 2),
            (0, 2),
            (2, 2),
        ],
        GameResult::Draw,
        None,
    );
}

#[test]
fn a_turn_timeout_aborts_the_game() {
    let mut kit = started();
    play(&mut kit, &[(0, 0)]);
    kit.advance_ms(TURN).then_expect([
        // The game's timer, set for the wait: the first turn and the
        // second, begun at the same instant, end at the same deadline.
        Expect::from(TurnDeadlinePassed {
            game_id: id(GAME),
            turn_number: 0,
        }),
        Expect::from(TurnTimeout {
            game_id: id(GAME),
            player_id: id(BOB),
            version: 9,
        }),
        Expect::any_named("CancelScheduledEvents"),
        Expect::from(GameEnded {
            game_id: id(GAME),
            result: GameResult::GameAborted,
            winner: None,
            version: 10,
        }),
        Expect::any_named("ScheduleEvent"),
        Expect::partial::<GameArchived>(json!({ "result": "GAME_ABORTED" })),
    ]);
}

#[test]
fn versions_grow_by_one_per_public_event_without_gaps() {
    let mut kit = kit();
    kit.given(CreateUser {
        user_id: id(ALICE),
        alias: alias("alice"),
    })
    .given(CreateUser {
        user_id: id(BOB),
        alias: alias("bob"),
    });
    kit.when(CreateGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    });
    let mut seen = versions(&kit);
    kit.when(JoinGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    });
    seen.extend(versions(&kit));
    kit.when(JoinGame {
        game_id: id(GAME),
        player_id: id(BOB),
    });
    seen.extend(versions(&kit));
    for (i, (x, y)) in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]
        .into_iter()
        .enumerate()
    {
        kit.when(PlaceMark {
            game_id: id(GAME),
            player_id: id(if i % 2 == 0 { ALICE } else { BOB }),
            x,
            y,
        });
        seen.extend(versions(&kit));
    }
    assert_eq!(seen, (1..=seen.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        kit.query(GetGame { game_id: id(GAME) }).map(|g| g.version),
        seen.last().copied()
    );
}

fn versions(kit: &TestKit) -> Vec<u64> {
    kit.caused()
        .iter()
        .filter_map(|effect| effect["payload"]["version"].as_u64())
        .collect()
}

#[test]
fn the_game_is_cleaned_up_after_the_delay_and_stays_in_history() {
    let mut kit = started();
    play(&mut kit, &[(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]);
    assert!(kit.query(GetGame { game_id: id(GAME) }).is_some());
    kit.advance_ms(CLEANUP - 1);
    assert!(kit.query(GetGame { game_id: id(GAME) }).is_some());
    kit.advance_ms(1)
        .then_expect([Expect::from(GameStateReadyToBeCleaned {
            game_id: id(GAME),
        })]);
    assert_eq!(kit.query(GetGame { game_id: id(GAME) }), None);
    for player in [ALICE, BOB] {
        let history = kit
            .query(GetHistory {
                user_id: id(player),
            })
            .games;
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].winner, Some(id(ALICE)));
        assert_eq!(history[0].moves.len(), 5);
    }
}

#[test]
fn get_game_shows_players_board_turn_and_deadline() {
    let mut kit = started();
    play(&mut kit, &[(2, 1)]);
    let view = kit.query(GetGame { game_id: id(GAME) }).unwrap();
    assert_eq!(view.stage, view::Stage::InProgress);
    assert_eq!(
        view.players
            .iter()
            .map(|s| (s.user_id, s.mark))
            .collect::<Vec<_>>(),
        [(id(ALICE), Mark::X), (id(BOB), Mark::O)]
    );
    assert_eq!(view.board.at(2, 1), Some(Mark::X));
    assert_eq!(view.turn, Some(id(BOB)));
    assert_eq!(view.deadline, Some(START_MS + TURN));
}
