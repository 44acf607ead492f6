//! A socket's part in presence: a user is online while one of their
//! sockets is open, and stays online through the grace period after the
//! last one closes.
//!
//! Why the grace period: a browser that reloads the page, or loses its
//! connection for a moment, closes its socket and opens the next one a
//! second later. Withdrawing the closed socket only after the grace period
//! (`--presence-grace-ms`) means the next socket is announced first, so
//! the user never flickers offline in everyone's online list.

use tokio::time::Instant;

use domain::{GetUser, UserConnected, UserDisconnected, UserId};

use crate::event_routing::ConnectionId;
use crate::state::AppState;

/// How long a new socket waits for its user's creation to be committed (a
/// browser opens its socket right after `CreateUser` is accepted).
const USER_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Announces a signed-in user's new socket (`UserConnected`); whether to
/// withdraw it when it closes. The node's [`PresenceRoll`] keeps it too, so
/// that a socket opened while the store was out of reach is told to
/// presence once it is back.
///
/// [`PresenceRoll`]: crate::presence_roll::PresenceRoll
pub(super) async fn announce(state: &AppState, user: Option<UserId>, id: ConnectionId) -> bool {
    let Some(user_id) = user else {
        return false;
    };
    let connection_id = state.connection_uuid(id);
    state.presence_roll.opened(connection_id, user_id);
    let give_up = Instant::now() + USER_WAIT;
    let user = loop {
        match state.api.bus.query(GetUser { user_id }).await {
            Ok(Some(user)) => break user,
            Ok(None) if Instant::now() < give_up => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Ok(None) => {
                state.presence_roll.closed(connection_id);
                return false;
            }
            // The store is out of reach: the roll tells presence later.
            Err(_) => return true,
        }
    };
    state.presence_roll.named(connection_id, user.alias.clone());
    let announced = state.api.bus.publish(UserConnected {
        user_id,
        alias: user.alias,
        connection_id,
    });
    if announced.is_err() {
        // The server is stopping.
        state.presence_roll.closed(connection_id);
        return false;
    }
    true
}

/// Withdraws `user_id`'s closed socket `id` (`UserDisconnected`) once the
/// grace period has passed.
pub(super) fn withdraw_after_grace(state: &AppState, user_id: UserId, id: ConnectionId) {
    let (bus, grace) = (state.api.bus.clone(), state.presence_grace);
    let roll = state.presence_roll.clone();
    let connection_id = state.connection_uuid(id);
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        roll.closed(connection_id);
        let _ = bus.publish(UserDisconnected {
            user_id,
            connection_id,
        });
    });
}
