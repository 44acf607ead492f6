//! The sockets of signed-in users this node holds, as presence should
//! know them: so that a cluster's node that could not reach the database
//! for a while can tell presence again which of its sockets are open.
//!
//! While the database is away, a socket that opens cannot be recorded as
//! online, and one that closes cannot be recorded as gone: without this
//! roll its user would stay missing from (or stuck in) everyone's online
//! list after the database came back.

use foldhash::HashMap;
use std::sync::{Mutex, PoisonError};

use bus::Bus;
use domain::{GetUser, NodeSocketsRestated, UserConnected, UserId};

use domain::Alias;

/// Sockets of signed-in users open on this node (and closed ones still in
/// their grace period), by connection id.
#[derive(Debug, Default)]
pub struct PresenceRoll {
    open: Mutex<HashMap<uuid::Uuid, Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    user_id: UserId,
    /// Unknown while the user could not be looked up.
    alias: Option<Alias>,
}

/// Why presence could not be told.
#[derive(Debug, thiserror::Error)]
pub enum RestateError {
    /// A socket's user could not be looked up.
    #[error("cannot look up a socket's user: {0}")]
    Lookup(#[source] bus::BusError),
    /// The restatement was not applied.
    #[error("cannot restate this node's sockets: {0}")]
    Publish(#[source] bus::BusError),
}

impl PresenceRoll {
    /// `user_id`'s socket `connection` opened (its alias not known yet).
    pub fn opened(&self, connection: uuid::Uuid, user_id: UserId) {
        self.lock().insert(
            connection,
            Entry {
                user_id,
                alias: None,
            },
        );
    }

    /// The user of `connection` goes by `alias`.
    pub fn named(&self, connection: uuid::Uuid, alias: Alias) {
        if let Some(entry) = self.lock().get_mut(&connection) {
            entry.alias = Some(alias);
        }
    }

    /// `connection` is withdrawn from presence.
    pub fn closed(&self, connection: uuid::Uuid) {
        self.lock().remove(&connection);
    }

    /// Tells presence that the roll's sockets are `node`'s open ones, and
    /// only they.
    pub async fn restate(&self, bus: &Bus, node: u64) -> Result<(), RestateError> {
        let entries: Vec<(uuid::Uuid, Entry)> = self
            .lock()
            .iter()
            .map(|(connection, entry)| (*connection, entry.clone()))
            .collect();
        let mut sockets = Vec::with_capacity(entries.len());
        for (connection_id, entry) in entries {
            let alias = match entry.alias {
                Some(alias) => alias,
                None => match bus
                    .query(GetUser {
                        user_id: entry.user_id,
                    })
                    .await
                {
                    Ok(Some(user)) => {
                        self.named(connection_id, user.alias.clone());
                        user.alias
                    }
                    // Not made after all (its creation failed).
                    Ok(None) => continue,
                    Err(error) => return Err(RestateError::Lookup(error)),
                },
            };
            sockets.push(UserConnected {
                user_id: entry.user_id,
                alias,
                connection_id,
            });
        }
        bus.publish_committed(NodeSocketsRestated { node, sockets })
            .await
            .map_err(RestateError::Publish)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<uuid::Uuid, Entry>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
