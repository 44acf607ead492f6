//! The games a socket watches (counted among their spectators).

use app::socket_frames::ServerFrame;
use domain::{GameId, StartedWatching, StoppedWatching};

use crate::event_routing::ConnectionId;
use crate::state::AppState;

/// Games one socket may watch at once: a spectator's page shows one.
const MAX_WATCHED: usize = 4;

/// The games a socket watches.
#[derive(Debug, Default)]
pub(super) struct Watching(Vec<GameId>);

impl Watching {
    /// Starts watching `game_id`; the refusal to send when the socket
    /// watches as many as it may.
    pub(super) fn start(
        &mut self,
        state: &AppState,
        id: ConnectionId,
        game_id: GameId,
    ) -> Result<(), ServerFrame> {
        if self.0.contains(&game_id) {
            return Ok(());
        }
        if self.0.len() >= MAX_WATCHED {
            return Err(ServerFrame::Refused {
                message: format!("a socket watches at most {MAX_WATCHED} games; unwatch one first"),
            });
        }
        let connection_id = uuid::Uuid::from_u64_pair(state.instance, id);
        if state
            .api
            .bus
            .publish(StartedWatching {
                game_id,
                connection_id,
            })
            .is_ok()
        {
            self.0.push(game_id);
        }
        Ok(())
    }

    /// Stops watching `game_id`, if it was.
    pub(super) fn stop(&mut self, state: &AppState, id: ConnectionId, game_id: GameId) {
        if !self.0.contains(&game_id) {
            return;
        }
        self.0.retain(|watched| *watched != game_id);
        Self([game_id].into()).stop_all(state, id);
    }

    /// Stops watching every game (the socket closed).
    pub(super) fn stop_all(self, state: &AppState, id: ConnectionId) {
        let connection_id = uuid::Uuid::from_u64_pair(state.instance, id);
        for game_id in self.0 {
            let _ = state.api.bus.publish(StoppedWatching {
                game_id,
                connection_id,
            });
        }
    }
}
