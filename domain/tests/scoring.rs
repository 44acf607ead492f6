//! Scores, the hall of fame and the players' histories.

mod common;

use bus::testkit::Expect;
use common::*;
use domain::*;
use serde_json::json;

fn entry(user: u128, name: &str, score: u64) -> ScoreEntry {
    ScoreEntry {
        user_id: id(user),
        alias: alias(name),
        score,
    }
}

#[test]
fn a_win_adds_a_hundred_to_the_winner_only() {
    let mut kit = users();
    start(&mut kit, GAME, ALICE, BOB);
    play(&mut kit, GAME, ALICE, BOB, &X_WINS[..4]);
    kit.when(PlaceMark {
        game_id: id(GAME),
        player_id: id(ALICE),
        x: 2,
        y: 0,
    })
    .then_expect_including([
        Expect::from(PlayerScoreChanged {
            user_id: id(ALICE),
            alias: alias("alice"),
            score: 100,
        }),
        Expect::from(TopThreeListUpdated {
            previous: vec![],
            current: vec![entry(ALICE, "alice", 100)],
        }),
    ]);
    kit.then_expect_no(Expect::partial::<PlayerScoreChanged>(
        json!({ "userId": id::<UserId>(BOB) }),
    ));
}

#[test]
fn draws_and_aborted_games_score_nothing() {
    let mut kit = users();
    start(&mut kit, GAME, ALICE, BOB);
    kit.when(PlaceMark {
        game_id: id(GAME),
        player_id: id(ALICE),
        x: 1,
        y: 1,
    });
    kit.advance_ms(TURN)
        .then_expect_no(Expect::any::<PlayerScoreChanged>());
    assert_eq!(kit.query(GetTopThreePlayers {}), vec![]);
}

#[test]
fn the_top_three_is_ordered_by_score_then_by_who_got_there_first() {
    let mut kit = users();
    kit.given(CreateUser {
        user_id: id(0xd0),
        alias: alias("dave"),
    });
    // Bob wins first, then Alice: tied at 100, Bob ranks first.
    start(&mut kit, 1, BOB, CAROL);
    play(&mut kit, 1, BOB, CAROL, &X_WINS);
    kit.advance_ms(1_000);
    start(&mut kit, 2, ALICE, CAROL);
    play(&mut kit, 2, ALICE, CAROL, &X_WINS);
    assert_eq!(
        kit.query(GetTopThreePlayers {}),
        vec![entry(BOB, "bob", 100), entry(ALICE, "alice", 100)]
    );
    // Alice wins again and climbs; Dave enters third; Carol never scored.
    start(&mut kit, 3, ALICE, BOB);
    play(&mut kit, 3, ALICE, BOB, &X_WINS);
    start(&mut kit, 4, 0xd0, CAROL);
    kit.when(JoinGame {
        game_id: id(4),
        player_id: id(0xd0),
    });
    play(&mut kit, 4, 0xd0, CAROL, &X_WINS[..4]);
    kit.when(PlaceMark {
        game_id: id(4),
        player_id: id(0xd0),
        x: 2,
        y: 0,
    })
    .then_expect_including([Expect::from(TopThreeListUpdated {
        previous: vec![entry(ALICE, "alice", 200), entry(BOB, "bob", 100)],
        current: vec![
            entry(ALICE, "alice", 200),
            entry(BOB, "bob", 100),
            entry(0xd0, "dave", 100),
        ],
    })]);
}

#[test]
fn a_change_below_the_top_three_is_not_announced() {
    let mut kit = users();
    for (user, name) in [(0xd0, "dave"), (0xe0, "erin")] {
        kit.given(CreateUser {
            user_id: id(user),
            alias: alias(name),
        });
    }
    for (game, winner) in [(1, ALICE), (2, BOB), (3, CAROL)] {
        start(&mut kit, game, winner, 0xe0);
        play(&mut kit, game, winner, 0xe0, &X_WINS);
    }
    kit.advance_ms(1);
    start(&mut kit, 4, 0xd0, 0xe0);
    play(&mut kit, 4, 0xd0, 0xe0, &X_WINS[..4]);
    kit.when(PlaceMark {
        game_id: id(4),
        player_id: id(0xd0),
        x: 2,
        y: 0,
    })
    .then_expect_including([Expect::partial::<PlayerScoreChanged>(
        json!({ "score": 100 }),
    )])
    .then_expect_no(Expect::any::<TopThreeListUpdated>());
}

#[test]
fn a_score_below_the_top_three_leaves_the_hall_unwritten() {
    let changed = |user: u128, score| PlayerScoreChanged {
        user_id: id(user),
        alias: alias("someone"),
        score,
    };
    let mut hall = None;
    for (user, score) in [(1, 300), (2, 200), (3, 100)] {
        hall = bus::testkit::run(scoring::rank, hall, &changed(user, score), 5)
            .state()
            .cloned();
    }
    let below = bus::testkit::run(scoring::rank, hall.clone(), &changed(4, 100), 6);
    assert!(matches!(below.change(), bus::Change::Keep));
    let climbing = bus::testkit::run(scoring::rank, hall, &changed(3, 400), 7);
    let top = climbing.state().expect("written").entries();
    assert_eq!(top[0].user_id, id(3));
}

#[test]
fn history_keeps_each_players_games_newest_first() {
    let mut kit = users();
    start(&mut kit, 1, ALICE, BOB);
    play(&mut kit, 1, ALICE, BOB, &X_WINS);
    kit.advance_ms(TURN);
    start(&mut kit, 2, BOB, ALICE);
    play(&mut kit, 2, BOB, ALICE, &X_WINS);
    let alice = kit.query(GetHistory { user_id: id(ALICE) }).games;
    assert_eq!(
        alice.iter().map(|g| g.game_id).collect::<Vec<_>>(),
        [id(2), id(1)]
    );
    assert_eq!(alice[0].winner, Some(id(BOB)));
    assert_eq!(alice[1].players, [id(ALICE), id(BOB)]);
    assert!(alice[0].ended_at > alice[1].ended_at);
    assert_eq!(
        kit.query(GetHistory { user_id: id(CAROL) }),
        history::Recent::default()
    );
}

#[test]
fn a_long_history_is_kept_in_pages_written_once() {
    let mut kit = users();
    let games = 2 * history::PAGE_SIZE as u128 + 3;
    for game in 1..=games {
        start(&mut kit, game, ALICE, BOB);
        play(&mut kit, game, ALICE, BOB, &X_WINS);
        kit.advance_ms(TURN);
    }
    let ids = |list: &[GameArchived]| list.iter().map(|g| g.game_id).collect::<Vec<_>>();
    let newest_first = |from: u128, to: u128| (from..=to).rev().map(id).collect::<Vec<_>>();
    let page = history::PAGE_SIZE as u128;
    for player in [ALICE, BOB] {
        let recent = kit.query(GetHistory {
            user_id: id(player),
        });
        assert_eq!(recent.older_pages, 2);
        assert_eq!(ids(&recent.games), newest_first(2 * page + 1, games));
        for (n, (from, to)) in [(1, page), (page + 1, 2 * page)].into_iter().enumerate() {
            let older = kit.query(GetHistoryPage {
                user_id: id(player),
                page: n as u32,
            });
            assert_eq!(ids(&older), newest_first(from, to), "page {n} of {player}");
        }
    }
    assert!(
        kit.query(GetHistoryPage {
            user_id: id(ALICE),
            page: 2
        })
        .is_empty()
    );
}
