//! Users, presence and invitations through the bus test kit.

mod common;

use bus::testkit::{Expect, START_MS};
use common::*;
use domain::*;
use serde_json::json;

#[test]
fn creating_a_user_records_the_alias_and_the_time() {
    kit()
        .when(CreateUser {
            user_id: id(ALICE),
            alias: alias("  alice "),
        })
        .then_expect([Expect::from(UserCreated {
            user_id: id(ALICE),
            alias: alias("alice"),
            created_at: START_MS,
        })]);
}

#[test]
fn an_existing_user_id_is_refused() {
    let mut kit = kit();
    kit.given(CreateUser {
        user_id: id(ALICE),
        alias: alias("alice"),
    })
    .when(CreateUser {
        user_id: id(ALICE),
        alias: alias("mallory"),
    })
    .then_expect([Expect::from(UserErrorOccurred {
        user_id: id(ALICE),
        reason: UserError::UserAlreadyExists,
    })]);
    assert_eq!(
        kit.query(GetUser { user_id: id(ALICE) }).map(|u| u.alias),
        Some(alias("alice"))
    );
}

#[test]
fn an_invalid_alias_never_becomes_a_command() {
    for bad in ["", "   ", "a\u{0}b", &"x".repeat(25)] {
        let payload = json!({ "userId": id::<UserId>(ALICE), "alias": bad });
        assert!(
            serde_json::from_value::<CreateUser>(payload).is_err(),
            "{bad:?}"
        );
    }
}

fn connect(user: u128, connection: u128, name: &str) -> UserConnected {
    UserConnected {
        user_id: id(user),
        alias: alias(name),
        connection_id: id(connection),
    }
}

/// The internal news that `user` went offline (the quick play queue hears it).
fn offline(user: u128) -> Expect {
    Expect::from(UserWentOffline { user_id: id(user) })
}

fn online(users: &[(u128, &str)]) -> Expect {
    Expect::from(UsersOnlineUpdated {
        total: users.len() as u64,
        users: users
            .iter()
            .map(|(user, name)| OnlineUser {
                user_id: id(*user),
                alias: alias(name),
            })
            .collect(),
    })
}

#[test]
fn a_user_is_online_while_any_of_their_tabs_is_open() {
    let mut kit = users();
    kit.when(connect(ALICE, 1, "alice"))
        .then_expect([online(&[(ALICE, "alice")])]);
    // A second tab changes nothing others can see.
    kit.when(connect(ALICE, 2, "alice")).then_expect_nothing();
    // The latest to arrive first.
    kit.when(connect(BOB, 3, "bob"))
        .then_expect([online(&[(BOB, "bob"), (ALICE, "alice")])]);
    kit.when(UserDisconnected {
        user_id: id(ALICE),
        connection_id: id(1),
    })
    .then_expect_nothing();
    assert_eq!(kit.query(GetUsersOnline {}).len(), 2);
    kit.when(UserDisconnected {
        user_id: id(ALICE),
        connection_id: id(2),
    })
    .then_expect([online(&[(BOB, "bob")]), offline(ALICE)]);
    // A duplicate close is harmless.
    kit.when(UserDisconnected {
        user_id: id(ALICE),
        connection_id: id(2),
    })
    .then_expect_nothing();
    assert_eq!(
        kit.query(GetUsersOnline {}),
        vec![OnlineUser {
            user_id: id(BOB),
            alias: alias("bob")
        }]
    );
}

/// Alice created the game, joined it as X, and invited Bob.
fn invited() -> bus::testkit::TestKit {
    let mut kit = users();
    kit.given(CreateGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    })
    .given(JoinGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    })
    .given(InviteUser {
        inviter_id: id(ALICE),
        invited_id: id(BOB),
        game_id: id(GAME),
    });
    kit
}

#[test]
fn an_invitation_goes_to_the_invited_user_with_a_deadline() {
    let mut kit = users();
    kit.given(CreateGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    })
    .given(JoinGame {
        game_id: id(GAME),
        player_id: id(ALICE),
    })
    .when(InviteUser {
        inviter_id: id(ALICE),
        invited_id: id(BOB),
        game_id: id(GAME),
    })
    .then_expect([Expect::from(UserInvited {
        inviter_id: id(ALICE),
        invited_id: id(BOB),
        game_id: id(GAME),
    })]);
    // Its deadline is a turn timeout from now: the game's timer, set for
    // the creation's, is set again for it when it comes.
    assert_eq!(kit.pending_timers(), 1, "the game's one timer");
    assert_eq!(
        kit.query(GetGame { game_id: id(GAME) })
            .and_then(|g| g.invited),
        Some(id(BOB))
    );
}

#[test]
fn accepting_is_joining_and_starts_the_game() {
    invited()
        .when(JoinGame {
            game_id: id(GAME),
            player_id: id(BOB),
        })
        .then_expect_including([
            Expect::partial::<GameStarted>(
                json!({ "players": [id::<UserId>(ALICE), id::<UserId>(BOB)] }),
            ),
            Expect::partial::<WaitingForPlayerPlay>(json!({ "playerId": id::<UserId>(ALICE) })),
        ]);
}

#[test]
fn declining_tells_the_inviter_and_calls_the_game_off() {
    let mut kit = invited();
    kit.when(DeclineInvitation {
        game_id: id(GAME),
        invited_id: id(BOB),
    })
    .then_expect_including([
        Expect::from(InvitationDeclined {
            game_id: id(GAME),
            invited_id: id(BOB),
            inviter_id: id(ALICE),
        }),
        Expect::partial::<GameEnded>(json!({ "result": "GAME_ABORTED", "winner": null })),
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
fn an_invited_seat_is_the_invited_players_only() {
    let mut kit = invited();
    kit.when(JoinGame {
        game_id: id(GAME),
        player_id: id(CAROL),
    })
    .then_expect([Expect::from(GameErrorOccurred {
        game_id: id(GAME),
        player_id: id(CAROL),
        reason: GameError::NotInvited,
    })]);
    kit.when(JoinGame {
        game_id: id(GAME),
        player_id: id(BOB),
    })
    .then_expect_including([Expect::partial::<GameStarted>(
        json!({ "players": [id::<UserId>(ALICE), id::<UserId>(BOB)] }),
    )]);
}

#[test]
fn only_the_invited_user_can_decline() {
    invited()
        .when(DeclineInvitation {
            game_id: id(GAME),
            invited_id: id(CAROL),
        })
        .then_expect([Expect::from(GameErrorOccurred {
            game_id: id(GAME),
            player_id: id(CAROL),
            reason: GameError::NotInvited,
        })]);
}

#[test]
fn only_the_creator_invites_and_only_before_the_start() {
    let mut kit = invited();
    kit.when(InviteUser {
        inviter_id: id(CAROL),
        invited_id: id(BOB),
        game_id: id(GAME),
    })
    .then_expect([Expect::partial::<GameErrorOccurred>(
        json!({ "reason": "PLAYER_CAN_NOT_INVITE" }),
    )]);
    kit.given(JoinGame {
        game_id: id(GAME),
        player_id: id(BOB),
    })
    .when(InviteUser {
        inviter_id: id(ALICE),
        invited_id: id(CAROL),
        game_id: id(GAME),
    })
    .then_expect([Expect::partial::<GameErrorOccurred>(
        json!({ "reason": "GAME_ALREADY_STARTED" }),
    )]);
}

#[test]
fn an_invitation_nobody_answers_lapses_with_the_first_turn_timeout() {
    let mut kit = invited();
    kit.advance_ms(TURN - 1).then_expect_nothing();
    kit.advance_ms(1)
        .then_expect_including([Expect::partial::<GameEnded>(
            json!({ "result": "GAME_ABORTED" }),
        )]);
    kit.when(JoinGame {
        game_id: id(GAME),
        player_id: id(BOB),
    })
    .then_expect([Expect::partial::<GameErrorOccurred>(
        json!({ "reason": "GAME_ALREADY_ENDED" }),
    )]);
}

#[test]
fn a_server_start_voids_the_presence_stored_before() {
    let mut kit = users();
    kit.given(connect(ALICE, 1, "alice"))
        .given(connect(BOB, 2, "bob"));
    kit.when(PresenceReset {}).then_expect([online(&[])]);
    assert_eq!(kit.query(GetUsersOnline {}), vec![]);
    kit.when(PresenceReset {}).then_expect_nothing();
}

#[test]
fn a_busy_lobby_names_at_most_the_list_limit_and_counts_everyone() {
    let mut kit = kit();
    let everyone = domain::presence::ONLINE_LIST_LIMIT as u128 + 10;
    for user in 1..everyone {
        kit.given(connect(user, user, &format!("p{user}")));
    }
    kit.when(connect(everyone, everyone, "last"))
        .then_expect([Expect::partial::<UsersOnlineUpdated>(
            json!({ "total": everyone }),
        )]);
    let listed = kit.query(GetUsersOnline {});
    assert_eq!(listed.len(), domain::presence::ONLINE_LIST_LIMIT);
    // The newest arrivals: whoever just came can be picked at once.
    assert_eq!(listed[0].user_id, id(everyone));
    assert_eq!(listed[1].user_id, id(everyone - 1));
}

/// `user`'s socket `socket` on cluster node `node` (a connection id's high
/// half is the node that opened it).
fn on_node(user: u128, name: &str, node: u64, socket: u64) -> UserConnected {
    UserConnected {
        connection_id: uuid::Uuid::from_u64_pair(node, socket),
        ..connect(user, 0, name)
    }
}

#[test]
fn a_cluster_node_that_leaves_takes_only_its_own_connections_offline() {
    let mut kit = users();
    kit.given(on_node(ALICE, "alice", 7, 1))
        .given(on_node(BOB, "bob", 7, 2))
        .given(on_node(BOB, "bob", 8, 1));
    // Bob has a tab on node 8 too: he stays.
    kit.when(NodeLeft { node: 7 })
        .then_expect([online(&[(BOB, "bob")]), offline(ALICE)]);
    kit.when(NodeLeft { node: 7 }).then_expect_nothing();
    kit.when(NodeLeft { node: 8 })
        .then_expect([online(&[]), offline(BOB)]);
}

#[test]
fn a_cluster_node_restating_its_sockets_closes_the_unnamed_and_opens_the_named() {
    let mut kit = users();
    // Recorded before node 7 lost the store: Alice and Bob on it, Bob on 8.
    kit.given(on_node(ALICE, "alice", 7, 1))
        .given(on_node(BOB, "bob", 7, 2))
        .given(on_node(BOB, "bob", 8, 1));
    // Meanwhile Alice's socket closed and Carol's opened, unrecorded.
    kit.when(NodeSocketsRestated {
        node: 7,
        sockets: vec![on_node(BOB, "bob", 7, 2), on_node(CAROL, "carol", 7, 3)],
    })
    .then_expect([online(&[(CAROL, "carol"), (BOB, "bob")]), offline(ALICE)]);
    // Said again, nothing changes for anyone.
    kit.when(NodeSocketsRestated {
        node: 7,
        sockets: vec![on_node(BOB, "bob", 7, 2), on_node(CAROL, "carol", 7, 3)],
    })
    .then_expect_nothing();
    // Bob's tab on node 7 closed too; his tab on node 8 keeps him online.
    kit.when(NodeSocketsRestated {
        node: 7,
        sockets: vec![on_node(CAROL, "carol", 7, 3)],
    })
    .then_expect_nothing();
    kit.when(NodeLeft { node: 8 })
        .then_expect([online(&[(CAROL, "carol")]), offline(BOB)]);
}
