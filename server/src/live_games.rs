//! The lobby's list of games being played, sent to every socket here when
//! it changed, at most once per interval.
//!
//! The list comes from the store (`GetLiveGames`), not from events: a node
//! of a cluster sees only the events of its own sockets' games, and a
//! handler keeping the list would write one shared state per game start
//! and end. Each node asks once per interval instead, and tells its
//! sockets only when the answer changed.
//!
//! A list of twenty games is a few KB, and every socket gets it: at 5,000
//! games (10,000 sockets) that was 36 MB a second of sends, most of the
//! server's socket bytes. On a big site the list therefore goes out less
//! often than every second, so that its sends stay within
//! [`BYTES_PER_SEC`] (see [`spacing`]).

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, Envelope};
use domain::{GetLiveGames, LiveGamesUpdated};
use tokio_util::sync::CancellationToken;

use crate::event_routing::Hub;
use crate::queue::Frame;

/// How often the list is looked at.
const INTERVAL: Duration = Duration::from_secs(1);

/// The bytes a second the list's sends to all the sockets may take: a
/// list of 3.6 KB goes to 2,300 sockets every second.
const BYTES_PER_SEC: f64 = 8.0 * 1024.0 * 1024.0;

/// How long after a list of `bytes` sent to `sockets` the next may follow:
/// [`INTERVAL`], or longer when the sends would pass [`BYTES_PER_SEC`].
fn spacing(bytes: usize, sockets: usize) -> Duration {
    INTERVAL.max(Duration::from_secs_f64(
        bytes as f64 * sockets as f64 / BYTES_PER_SEC,
    ))
}

/// The first page of live games as a node starts, asked before it serves
/// anyone: each socket gets the list as it is when it opens, so only a
/// change from this one is news.
pub async fn at_start(bus: &Bus) -> Option<domain::LiveGames> {
    bus.query(GetLiveGames { page: 0 }).await.ok()
}

/// Tells this node's sockets the first page of live games whenever it
/// changed from what they were `told` (the list [`at_start`]), until
/// `shutdown`. Sent unchanged, the list came to sockets that had just got
/// it with their lobby lists.
pub async fn tell(
    hub: Arc<Hub>,
    bus: Bus,
    mut told: Option<domain::LiveGames>,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(INTERVAL.max(hub.lobby_interval()));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        if tokio::time::Instant::now() < next {
            continue;
        }
        let Ok(now) = bus.query(GetLiveGames { page: 0 }).await else {
            continue;
        };
        if told.as_ref() == Some(&now) {
            continue;
        }
        let news = LiveGamesUpdated {
            games: now.games.clone(),
            total: now.total,
        };
        let frame: Frame = Envelope::new(news).to_json_text().into();
        next = tokio::time::Instant::now() + spacing(frame.len(), hub.connections());
        hub.tell_lobby(&[frame]);
        told = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_goes_every_second_until_its_sends_pass_the_budget() {
        let list = 3_600;
        assert_eq!(spacing(list, 0), INTERVAL);
        assert_eq!(spacing(list, 2_000), INTERVAL, "1,000 games");
        let big = spacing(list, 10_000);
        assert!(
            big > Duration::from_secs(4) && big < Duration::from_secs(5),
            "5,000 games: {big:?}"
        );
        // Twice the sockets, twice as long between lists: the bytes a
        // second stay where they were.
        let twice = spacing(list, 20_000).as_secs_f64();
        assert!((twice - 2.0 * big.as_secs_f64()).abs() < 1e-6, "{twice}");
    }
}
