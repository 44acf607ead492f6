//! Helpers shared by the domain's rule tests.
#![allow(dead_code)]

use bus::testkit::TestKit;
use domain::{Alias, CreateGame, CreateUser, JoinGame, PlaceMark, Rules, register};
use uuid::Uuid;

pub const TURN: u64 = 20_000;
pub const CLEANUP: u64 = 10_000;
pub const GAME: u128 = 0x6a;
pub const ALICE: u128 = 0xa1;
pub const BOB: u128 = 0xb0;
pub const CAROL: u128 = 0xc0;

/// The fixed id number `n`.
/// The id (user, game or connection) of these bits.
pub fn id<I: From<Uuid>>(n: u128) -> I {
    I::from(Uuid::from_u128(n))
}

/// A valid alias.
pub fn alias(name: &str) -> Alias {
    Alias::parse(name).expect("a valid alias")
}

/// The game's handlers with the default rules.
pub fn kit() -> TestKit {
    TestKit::new(|bus| register(bus, Rules::default()))
}

/// Alice, Bob and Carol exist.
pub fn users() -> TestKit {
    let mut kit = kit();
    for (user, name) in [(ALICE, "alice"), (BOB, "bob"), (CAROL, "carol")] {
        kit.given(CreateUser {
            user_id: id(user),
            alias: alias(name),
        });
    }
    kit
}

/// Creates game `game` for `x` and `o` and starts it.
pub fn start(kit: &mut TestKit, game: u128, x: u128, o: u128) {
    kit.given(CreateGame {
        game_id: id(game),
        player_id: id(x),
    })
    .given(JoinGame {
        game_id: id(game),
        player_id: id(x),
    })
    .given(JoinGame {
        game_id: id(game),
        player_id: id(o),
    });
}

/// Plays `moves` alternately from X in game `game`.
pub fn play(kit: &mut TestKit, game: u128, x: u128, o: u128, moves: &[(i64, i64)]) {
    for (i, (mx, my)) in moves.iter().enumerate() {
        let player = if i % 2 == 0 { x } else { o };
        kit.given(PlaceMark {
            game_id: id(game),
            player_id: id(player),
            x: *mx,
            y: *my,
        });
    }
}

/// X wins along the top row.
pub const X_WINS: [(i64, i64); 5] = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)];
