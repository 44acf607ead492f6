//! Quick play through the bus test kit: the queue pairs in order, cancel,
//! leaving with the socket, no self-pairing.

mod common;

use bus::testkit::{Expect, TestKit};
use common::*;
use domain::view::Stage;
use domain::*;
use serde_json::json;

const DAVE: u128 = 0xd0;

fn press(kit: &mut TestKit, player: u128, offer: u128) -> &mut TestKit {
    kit.when(QuickPlay {
        player_id: id(player),
        game_id: id(offer),
    })
}

/// The game a pairing started, from the events it caused.
fn started(kit: &TestKit) -> (GameId, Vec<UserId>) {
    let started = kit
        .caused()
        .into_iter()
        .find(|effect| effect["type"] == "GameStarted")
        .expect("a game started");
    let payload = &started["payload"];
    (
        serde_json::from_value(payload["gameId"].clone()).unwrap(),
        serde_json::from_value(payload["players"].clone()).unwrap(),
    )
}

#[test]
fn the_first_two_players_are_paired_and_their_game_starts_at_once() {
    let mut kit = users();
    press(&mut kit, ALICE, 1).then_expect([Expect::from(QuickPlayQueued {
        player_id: id(ALICE),
    })]);
    press(&mut kit, BOB, 2).then_expect_including([
        Expect::any::<QuickPlayPaired>(),
        Expect::any::<GameStarted>(),
        Expect::partial::<WaitingForPlayerPlay>(json!({ "playerId": id::<UserId>(ALICE) })),
    ]);
    let (game, players) = started(&kit);
    // Who waited plays X in the first pair; neither offer is the game's id.
    assert_eq!(players, vec![id::<UserId>(ALICE), id(BOB)]);
    assert_ne!(game, id(1));
    assert_ne!(game, id(2));
    let view = kit.query(GetGame { game_id: game }).expect("the game");
    assert_eq!(view.stage, Stage::InProgress);
    // The queue is empty again: the next player waits.
    press(&mut kit, CAROL, 3).then_expect([Expect::from(QuickPlayQueued {
        player_id: id(CAROL),
    })]);
    // Who plays X alternates: in the second pair, the newcomer.
    press(&mut kit, DAVE, 4);
    let (_, players) = started(&kit);
    assert_eq!(players, vec![id::<UserId>(DAVE), id(CAROL)]);
}

#[test]
fn players_are_paired_in_the_order_they_came() {
    let mut kit = users();
    press(&mut kit, ALICE, 1);
    press(&mut kit, ALICE, 5).then_expect([Expect::from(QuickPlayQueued {
        player_id: id(ALICE),
    })]);
    press(&mut kit, BOB, 2);
    let (_, first_pair) = started(&kit);
    assert!(first_pair.contains(&id(ALICE)) && first_pair.contains(&id(BOB)));
    press(&mut kit, CAROL, 3);
    press(&mut kit, DAVE, 4);
    let (_, second_pair) = started(&kit);
    assert!(second_pair.contains(&id(CAROL)) && second_pair.contains(&id(DAVE)));
}

#[test]
fn nobody_is_paired_with_themselves() {
    let mut kit = users();
    press(&mut kit, ALICE, 1);
    // A second tab of Alice's: she still waits, alone.
    press(&mut kit, ALICE, 2).then_expect([Expect::from(QuickPlayQueued {
        player_id: id(ALICE),
    })]);
    assert!(kit.query(GetGame { game_id: id(2) }).is_none());
}

#[test]
fn a_player_who_cancels_leaves_the_queue() {
    let mut kit = users();
    press(&mut kit, ALICE, 1);
    kit.when(CancelQuickPlay {
        player_id: id(ALICE),
    })
    .then_expect([Expect::from(QuickPlayLeft {
        player_id: id(ALICE),
    })]);
    press(&mut kit, BOB, 2).then_expect([Expect::from(QuickPlayQueued { player_id: id(BOB) })]);
}

#[test]
fn a_player_whose_last_socket_closes_leaves_the_queue() {
    let mut kit = users();
    let socket = |connection: u128| UserConnected {
        user_id: id(ALICE),
        alias: alias("alice"),
        connection_id: id(connection),
    };
    kit.given(socket(11)).given(socket(12));
    press(&mut kit, ALICE, 1);
    let close = |connection: u128| UserDisconnected {
        user_id: id(ALICE),
        connection_id: id(connection),
    };
    // One tab of two closed: she is still online, and waits.
    kit.when(close(11))
        .then_expect_no(Expect::any::<QuickPlayLeft>());
    kit.when(close(12)).then_expect_including([
        Expect::from(UserWentOffline { user_id: id(ALICE) }),
        Expect::from(QuickPlayLeft {
            player_id: id(ALICE),
        }),
    ]);
    press(&mut kit, BOB, 2).then_expect([Expect::from(QuickPlayQueued { player_id: id(BOB) })]);
}
