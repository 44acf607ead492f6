//! The event WebSockets open on this server: counted by a guard each
//! socket holds from its handshake on, so a socket is uncounted however it
//! ends, and capped per user and, for sockets without a session, per client
//! address, so that one user or one address cannot hold the server's sockets.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use domain::UserId;

use crate::tally::Tally;

/// Who opens a socket, for the caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opener {
    /// A signed-in user.
    User(UserId),
    /// No session: the client's address.
    Anonymous(IpAddr),
}

/// Sockets one opener may hold at once.
#[derive(Debug, Clone, Copy)]
pub struct SocketCaps {
    /// Per signed-in user (all their tabs and devices).
    pub per_user: u32,
    /// Per address, for sockets without a session.
    pub per_anonymous_address: u32,
}

impl Default for SocketCaps {
    fn default() -> Self {
        Self {
            per_user: 16,
            per_anonymous_address: 32,
        }
    }
}

/// The open sockets, shared by every socket and the status endpoint.
#[derive(Debug, Clone, Default)]
pub struct LiveSockets(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    caps: SocketCaps,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: u64,
    by_opener: Tally<Opener>,
}

/// The opener holds as many sockets as it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} sockets are open already, as many as one may hold")]
pub struct TooMany(pub u32);

impl LiveSockets {
    /// No sockets yet, under `caps`.
    pub fn new(caps: SocketCaps) -> Self {
        Self(Arc::new(Inner {
            caps,
            open: Mutex::default(),
        }))
    }

    /// Counts one more socket of `opener` until the returned guard is
    /// dropped, if its cap allows one more.
    pub fn open(&self, opener: Opener) -> Result<OpenSocket, TooMany> {
        let cap = match opener {
            Opener::User(_) => self.0.caps.per_user,
            Opener::Anonymous(_) => self.0.caps.per_anonymous_address,
        };
        let mut open = self.lock();
        if !open.by_opener.take(opener, Some(cap)) {
            return Err(TooMany(cap));
        }
        open.total += 1;
        Ok(OpenSocket {
            live: self.clone(),
            opener,
        })
    }

    /// Sockets open now.
    pub fn count(&self) -> u64 {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.0.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open socket; dropping it (however the socket ends) uncounts it.
#[derive(Debug)]
pub struct OpenSocket {
    live: LiveSockets,
    opener: Opener,
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        let mut open = self.live.lock();
        open.total -= 1;
        open.by_opener.release(&self.opener);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: SocketCaps = SocketCaps {
        per_user: 2,
        per_anonymous_address: 1,
    };

    #[test]
    fn guards_count_open_sockets() {
        let live = LiveSockets::default();
        let user = Opener::User(UserId::from(uuid::Uuid::from_u128(1)));
        let first = live.open(user).unwrap();
        let second = live.open(user).unwrap();
        assert_eq!(live.count(), 2);
        drop(first);
        assert_eq!(live.count(), 1);
        drop(second);
        assert_eq!(live.count(), 0);
        assert!(live.lock().by_opener.is_empty());
    }

    #[test]
    fn a_user_and_an_anonymous_address_each_have_a_cap() {
        let live = LiveSockets::new(CAPS);
        let alice = Opener::User(UserId::from(uuid::Uuid::from_u128(1)));
        let bob = Opener::User(UserId::from(uuid::Uuid::from_u128(2)));
        let here = Opener::Anonymous(IpAddr::from([127, 0, 0, 1]));
        let _tabs = [live.open(alice).unwrap(), live.open(alice).unwrap()];
        assert_eq!(live.open(alice).unwrap_err(), TooMany(2));
        assert!(
            live.open(bob).is_ok(),
            "another user is not counted with her"
        );
        let lobby = live.open(here).unwrap();
        assert_eq!(live.open(here).unwrap_err(), TooMany(1));
        drop(lobby);
        assert!(live.open(here).is_ok(), "a closed socket frees its place");
    }
}
