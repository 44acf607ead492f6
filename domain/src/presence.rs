//! Presence: a user is online while at least one of their sockets is open.

use bus::{Ctx, Outcome};
use serde::{Deserialize, Serialize};

use crate::alias::Alias;
use crate::events::{
    GetOnlineNews, GetUsersOnline, NodeLeft, NodeSocketsRestated, OnlineUser, PresenceReset,
    UserConnected, UserDisconnected, UserWentOffline, UsersOnlineUpdated,
};
use crate::ids::UserId;

/// The most users an online list names: a lobby shows them to pick an
/// opponent from, and a site with thousands online must not send every
/// socket thousands of names each time someone arrives.
pub const ONLINE_LIST_LIMIT: usize = 20;

/// Who is online, with their open connections (one state for the site).
/// Persistent maps: each change copies a path, not the whole lobby.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lobby {
    online: imbl::OrdMap<UserId, Online>,
    /// Who came online when, by arrival number: the list shows the newest.
    #[serde(default)]
    arrivals: imbl::OrdMap<u64, UserId>,
    #[serde(default)]
    next_arrival: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Online {
    alias: Alias,
    /// A tab or two: a short list (a set would cost a tree node each).
    connections: Vec<uuid::Uuid>,
    /// Their number in [`Lobby::arrivals`].
    #[serde(default)]
    arrival: u64,
}

bus::states!(Lobby);

/// State types a server may keep in memory even with a durable store:
/// presence is reset at every start anyway.
pub const EPHEMERAL_STATES: &[&str] = &[<Lobby as bus::State>::TYPE];

impl Lobby {
    /// The users online, the latest to arrive first, at most
    /// [`ONLINE_LIST_LIMIT`] of them.
    pub fn users(&self) -> Vec<OnlineUser> {
        let listed = |(user_id, online): (&UserId, &Online)| OnlineUser {
            user_id: *user_id,
            alias: online.alias.clone(),
        };
        if self.arrivals.len() != self.online.len() {
            // Stored before arrivals were kept: by id.
            return self
                .online
                .iter()
                .take(ONLINE_LIST_LIMIT)
                .map(listed)
                .collect();
        }
        self.arrivals
            .values()
            .rev()
            .filter_map(|user_id| self.online.get_key_value(user_id))
            .take(ONLINE_LIST_LIMIT)
            .map(listed)
            .collect()
    }

    /// `user_id`'s entry, made (as the latest arrival) if they were offline.
    fn arrive(&mut self, user_id: UserId, alias: &Alias) -> &mut Online {
        if !self.online.contains_key(&user_id) {
            let arrival = self.next_arrival;
            self.next_arrival += 1;
            self.arrivals.insert(arrival, user_id);
            self.online.insert(
                user_id,
                Online {
                    alias: alias.clone(),
                    connections: Vec::new(),
                    arrival,
                },
            );
        }
        self.online
            .get_mut(&user_id)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }

    /// `user_id` is offline.
    fn depart(&mut self, user_id: UserId) {
        if let Some(online) = self.online.remove(&user_id) {
            self.arrivals.remove(&online.arrival);
        }
    }

    /// The online list as its event tells it.
    pub fn news(&self) -> UsersOnlineUpdated {
        UsersOnlineUpdated {
            users: self.users(),
            total: self.online.len() as u64,
        }
    }

    fn updated(self) -> Outcome<Self> {
        let news = self.news();
        Outcome::set(self).emit(news)
    }
}

/// A socket opened: the user is online (again, or one more tab).
pub fn connected(lobby: Option<Lobby>, event: &UserConnected, _: &Ctx) -> Outcome<Lobby> {
    let mut lobby = lobby.unwrap_or_default();
    let online = lobby.arrive(event.user_id, &event.alias);
    let was_online = !online.connections.is_empty();
    if !online.connections.contains(&event.connection_id) {
        online.connections.push(event.connection_id);
    }
    if was_online {
        Outcome::set(lobby)
    } else {
        lobby.updated()
    }
}

/// A socket closed: the user goes offline with their last one.
pub fn disconnected(lobby: Option<Lobby>, event: &UserDisconnected, _: &Ctx) -> Outcome<Lobby> {
    let mut lobby = lobby.unwrap_or_default();
    let Some(online) = lobby.online.get_mut(&event.user_id) else {
        return Outcome::keep();
    };
    online
        .connections
        .retain(|connection| *connection != event.connection_id);
    if online.connections.is_empty() {
        lobby.depart(event.user_id);
        lobby.updated().emit(UserWentOffline {
            user_id: event.user_id,
        })
    } else {
        Outcome::set(lobby)
    }
}

/// The server started: nobody is connected yet, whatever was stored.
pub fn reset(lobby: Option<Lobby>, _: &PresenceReset, _: &Ctx) -> Outcome<Lobby> {
    match lobby {
        Some(lobby) if !lobby.online.is_empty() => Lobby::default().updated(),
        _ => Outcome::keep(),
    }
}

/// A node of a cluster is gone: its sockets are closed, and a user with
/// none left elsewhere goes offline. (A connection id's high half is the
/// node that opened it.)
pub fn node_left(lobby: Option<Lobby>, event: &NodeLeft, _: &Ctx) -> Outcome<Lobby> {
    let Some(mut lobby) = lobby else {
        return Outcome::keep();
    };
    match lobby.close_node(event.node, |_| false) {
        None => Outcome::keep(),
        Some(left) if left.is_empty() => Outcome::set(lobby),
        Some(left) => went_offline(lobby.updated(), left),
    }
}

/// `outcome`, telling that `users` went offline.
fn went_offline(outcome: Outcome<Lobby>, users: Vec<UserId>) -> Outcome<Lobby> {
    users.into_iter().fold(outcome, |outcome, user_id| {
        outcome.emit(UserWentOffline { user_id })
    })
}

/// A node tells which of its sockets are open: its other connections are
/// closed, and those it names are open (whether or not they were recorded).
pub fn node_restated(lobby: Option<Lobby>, event: &NodeSocketsRestated, _: &Ctx) -> Outcome<Lobby> {
    let mut lobby = lobby.unwrap_or_default();
    let open: std::collections::HashSet<uuid::Uuid> = event
        .sockets
        .iter()
        .map(|socket| socket.connection_id)
        .collect();
    let left = lobby
        .close_node(event.node, |connection| open.contains(connection))
        .unwrap_or_default();
    let mut arrived = false;
    for socket in &event.sockets {
        arrived |= !lobby.online.contains_key(&socket.user_id);
        let online = lobby.arrive(socket.user_id, &socket.alias);
        if !online.connections.contains(&socket.connection_id) {
            online.connections.push(socket.connection_id);
        }
    }
    if arrived || !left.is_empty() {
        went_offline(lobby.updated(), left)
    } else {
        Outcome::set(lobby)
    }
}

impl Lobby {
    /// Closes `node`'s connections but those `keep` names: `None` if it
    /// had none, else the users who have no connection left.
    fn close_node(&mut self, node: u64, keep: impl Fn(&uuid::Uuid) -> bool) -> Option<Vec<UserId>> {
        let closing =
            |connection: &uuid::Uuid| connection.as_u64_pair().0 == node && !keep(connection);
        let touched: Vec<UserId> = self
            .online
            .iter()
            .filter(|(_, online)| online.connections.iter().any(closing))
            .map(|(user, _)| *user)
            .collect();
        if touched.is_empty() {
            return None;
        }
        let mut left = Vec::new();
        for user in touched {
            if let Some(online) = self.online.get_mut(&user) {
                online.connections.retain(|connection| !closing(connection));
                if online.connections.is_empty() {
                    self.depart(user);
                    left.push(user);
                }
            }
        }
        Some(left)
    }
}

/// `GetOnlineNews`.
pub fn online_news(lobby: Option<&Lobby>, _: &GetOnlineNews) -> UsersOnlineUpdated {
    lobby.map(Lobby::news).unwrap_or(UsersOnlineUpdated {
        users: Vec::new(),
        total: 0,
    })
}

/// `GetUsersOnline`.
pub fn online(lobby: Option<&Lobby>, _: &GetUsersOnline) -> Vec<OnlineUser> {
    lobby.map(Lobby::users).unwrap_or_default()
}
