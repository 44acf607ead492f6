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

/// Tells this node's sockets the first page of live games whenever it
/// changed, until `shutdown`.
pub async fn tell(hub: Arc<Hub>, bus: Bus, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(INTERVAL.max(hub.lobby_interval()));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut told: Option<domain::LiveGames> = None;
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
