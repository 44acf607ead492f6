//! The lobby's lists as they are now, as the frames of their events: for a
//! socket that just opened (so a page needs no query to fill its lobby),
//! and for sockets that may have missed the events (after an outage).

use bus::{Bus, Envelope};
use domain::{
    GetLiveGames, GetOnlineNews, GetTopThreePlayers, LiveGamesUpdated, TopThreeListUpdated,
};

use crate::queue::Frame;

/// Who is online, the hall of fame and the games being played, as
/// `UsersOnlineUpdated`, `TopThreeListUpdated` and `LiveGamesUpdated`
/// frames (a list the store cannot tell now is left out).
pub async fn lobby_now(bus: &Bus) -> Vec<Frame> {
    let mut lobby = Vec::with_capacity(3);
    if let Ok(online) = bus.query(GetOnlineNews {}).await {
        lobby.push(Envelope::new(online).to_json_text().into());
    }
    if let Ok(current) = bus.query(GetTopThreePlayers {}).await {
        let top = TopThreeListUpdated {
            previous: current.clone(),
            current,
        };
        lobby.push(Envelope::new(top).to_json_text().into());
    }
    if let Ok(live) = bus.query(GetLiveGames { page: 0 }).await {
        let live = LiveGamesUpdated {
            games: live.games,
            total: live.total,
        };
        lobby.push(Envelope::new(live).to_json_text().into());
    }
    lobby
}
