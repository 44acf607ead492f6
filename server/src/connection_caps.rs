//! How many connections the server holds open: in total, kept under the
//! process's open-files limit so that `accept` never fails for want of a
//! file, and per client address, so that one address cannot take them all.
//!
//! A connection holds a [`Slot`] for as long as its socket is open, an
//! upgraded WebSocket included (the slot lives in the socket's I/O).

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::tally::Tally;

/// Files kept for the database, the listener, logs and the connections
/// being refused, out of the open-files limit.
pub const RESERVED_FILES: u64 = 128;

/// The smallest total cap the server runs with, whatever the limit says.
const FEWEST_CONNECTIONS: usize = 16;

/// The caps and the counts against them.
#[derive(Debug)]
pub struct ConnectionCaps {
    total: usize,
    per_address: Option<u32>,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: Tally<IpAddr>,
}

/// Why a connection was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    /// The server holds as many connections as it may.
    #[error("the server is at its connection limit")]
    Total,
    /// This address holds as many connections as one address may.
    #[error("this address is at its connection limit")]
    Address,
}

impl ConnectionCaps {
    /// At most `total` connections, and `per_address` from one address
    /// (`0`: no cap per address).
    pub fn new(total: usize, per_address: u32) -> Arc<Self> {
        Arc::new(Self {
            total: total.max(1),
            per_address: (per_address > 0).then_some(per_address),
            open: Mutex::default(),
        })
    }

    /// The total cap.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// Takes a slot for a connection from `address`, if a cap allows it;
    /// a trusted proxy carries many clients and is not capped as one.
    pub fn take(self: &Arc<Self>, address: IpAddr, trusted_proxy: bool) -> Result<Slot, Full> {
        let mut open = self.lock();
        if open.total >= self.total {
            return Err(Full::Total);
        }
        let cap = if trusted_proxy {
            None
        } else {
            self.per_address
        };
        if !open.by_address.take(address, cap) {
            return Err(Full::Address);
        }
        open.total += 1;
        Ok(Slot {
            caps: self.clone(),
            address,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The total cap for an open-files limit: what the reserve leaves, or
/// `asked` if that is smaller (`0`: as many as the limit allows). Says
/// why when it lowers `asked`.
pub fn total_for(open_files: u64, asked: usize) -> (usize, Option<String>) {
    let room = usize::try_from(open_files.saturating_sub(RESERVED_FILES))
        .unwrap_or(usize::MAX)
        .max(FEWEST_CONNECTIONS);
    match asked {
        0 => (room, None),
        asked if asked <= room => (asked, None),
        asked => (
            room,
            Some(format!(
                "--max-connections {asked} does not fit the open-files limit {open_files} \
                 (less {RESERVED_FILES} kept for files); using {room}"
            )),
        ),
    }
}

/// One open connection's place under the caps; dropping it frees the place.
#[derive(Debug)]
pub struct Slot {
    caps: Arc<ConnectionCaps>,
    address: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.caps.lock();
        open.total -= 1;
        open.by_address.release(&self.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn an_address_gets_its_share_and_no_more() {
        let caps = ConnectionCaps::new(10, 2);
        let first = caps.take(ip(1), false).unwrap();
        let _second = caps.take(ip(1), false).unwrap();
        assert_eq!(caps.take(ip(1), false).unwrap_err(), Full::Address);
        assert!(
            caps.take(ip(2), false).is_ok(),
            "another address still gets in"
        );
        assert!(
            caps.take(ip(1), true).is_ok(),
            "a trusted proxy is not capped"
        );
        drop(first);
        assert!(
            caps.take(ip(1), false).is_ok(),
            "a closed connection frees its slot"
        );
    }

    #[test]
    fn the_total_holds_across_addresses() {
        let caps = ConnectionCaps::new(3, 0);
        let slots: Vec<_> = (1..=3).map(|n| caps.take(ip(n), false).unwrap()).collect();
        assert_eq!(caps.take(ip(9), false).unwrap_err(), Full::Total);
        assert_eq!(caps.open(), 3);
        drop(slots);
        assert_eq!(caps.open(), 0);
        assert!(
            caps.lock().by_address.is_empty(),
            "no address is remembered"
        );
    }

    #[test]
    fn the_total_stays_under_the_open_files_limit() {
        assert_eq!(total_for(256, 0), (128, None));
        assert_eq!(total_for(20_000, 500), (500, None));
        let (total, warning) = total_for(256, 1_000);
        assert_eq!(total, 128);
        assert!(warning.unwrap().contains("256"));
        assert_eq!(total_for(100, 0).0, FEWEST_CONNECTIONS);
    }
}
