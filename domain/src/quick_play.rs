//! Quick play: "Play anyone" puts a player in a queue (one state for the
//! site); the next player who presses it is paired with the one who waited
//! longest, and their game starts at once, with no invitation. Who plays X
//! alternates from pair to pair. A player leaves the queue by cancelling,
//! or by going offline (their last socket closed, after the grace period).

use bus::{Ctx, Outcome};
use serde::{Deserialize, Serialize};

use crate::events::{
    CancelQuickPlay, PresenceReset, QuickPlay, QuickPlayLeft, QuickPlayPaired, QuickPlayQueued,
    UserWentOffline,
};
use crate::ids::{GameId, UserId};

/// Who waits for a quick game, longest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuickPlayQueue {
    waiting: Vec<Waiter>,
    /// Pairs made so far: who plays X alternates with it.
    paired: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Waiter {
    player_id: UserId,
    /// The id the player offered for the game; never shown to anyone.
    game_id: GameId,
}

bus::states!(QuickPlayQueue);

/// `QuickPlay`: pairs the player with the one who waited longest, or
/// queues them. Pressing again while queued changes nothing.
pub fn join(queue: Option<QuickPlayQueue>, cmd: &QuickPlay, _: &Ctx) -> Outcome<QuickPlayQueue> {
    let mut queue = queue.unwrap_or_default();
    let me = cmd.player_id;
    if queue.waiting.iter().any(|waiter| waiter.player_id == me) {
        return Outcome::keep().emit(QuickPlayQueued { player_id: me });
    }
    if queue.waiting.is_empty() {
        queue.waiting.push(Waiter {
            player_id: me,
            game_id: cmd.game_id,
        });
        return Outcome::set(queue).emit(QuickPlayQueued { player_id: me });
    }
    let first = queue.waiting.remove(0);
    queue.paired += 1;
    let players = if queue.paired % 2 == 1 {
        [first.player_id, me]
    } else {
        [me, first.player_id]
    };
    Outcome::set(queue).emit(QuickPlayPaired {
        game_id: pair_id(first.game_id, cmd.game_id),
        players: players.to_vec(),
    })
}

/// The game of a pair: from both players' offered ids, so neither alone
/// can pick it (the waiter's offer is never shown), as a version 4 UUID.
fn pair_id(waiter: GameId, newcomer: GameId) -> GameId {
    let mixed = (waiter.uuid().as_u128() ^ newcomer.uuid().as_u128()).to_be_bytes();
    GameId::from_uuid(uuid::Builder::from_random_bytes(mixed).into_uuid())
}

/// `CancelQuickPlay`: the player leaves the queue (told so even when they
/// were not in it: a pairing may have come first).
pub fn cancel(
    queue: Option<QuickPlayQueue>,
    cmd: &CancelQuickPlay,
    _: &Ctx,
) -> Outcome<QuickPlayQueue> {
    leave(queue, cmd.player_id)
}

/// A player went offline: they leave the queue.
pub fn went_offline(
    queue: Option<QuickPlayQueue>,
    event: &UserWentOffline,
    _: &Ctx,
) -> Outcome<QuickPlayQueue> {
    match &queue {
        Some(queue) if queue.waiting.iter().any(|w| w.player_id == event.user_id) => {}
        _ => return Outcome::keep(),
    }
    leave(queue, event.user_id)
}

/// The server started: nobody is connected, so nobody waits.
pub fn reset(queue: Option<QuickPlayQueue>, _: &PresenceReset, _: &Ctx) -> Outcome<QuickPlayQueue> {
    match queue {
        Some(mut queue) if !queue.waiting.is_empty() => {
            queue.waiting.clear();
            Outcome::set(queue)
        }
        _ => Outcome::keep(),
    }
}

fn leave(queue: Option<QuickPlayQueue>, player_id: UserId) -> Outcome<QuickPlayQueue> {
    let mut queue = queue.unwrap_or_default();
    let before = queue.waiting.len();
    queue.waiting.retain(|waiter| waiter.player_id != player_id);
    let left = QuickPlayLeft { player_id };
    if queue.waiting.len() == before {
        Outcome::keep().emit(left)
    } else {
        Outcome::set(queue).emit(left)
    }
}
