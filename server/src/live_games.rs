//! The lobby's list of games being played, sent to every socket here when
//! it changed, at most once per interval.
//!
//! The list comes from the store (`GetLiveGames`), not from events: a node
//! of a cluster sees only the events of its own sockets' games, and a
//! handler keeping the list would write one shared state per game start
//! and end. Each node asks once per interval instead, and tells its
//! sockets only when the answer changed.

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, Envelope};
use domain::{GetLiveGames, LiveGamesUpdated};
use tokio_util::sync::CancellationToken;

use crate::event_routing::Hub;

/// How often the list is looked at.
const INTERVAL: Duration = Duration::from_secs(1);

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
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
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
        hub.tell_lobby(&[Envelope::new(news).to_json_text().into()]);
        told = Some(now);
    }
}
