//! The games a socket watches (counted among their spectators).

use app::socket_frames::{Refused, ServerFrame};
use domain::{GameId, StartedWatching, StoppedWatching};

use crate::event_routing::ConnectionId;
use crate::state::AppState;

/// Games one socket may watch at once: a spectator's page shows one.
const MAX_WATCHED: usize = 4;

/// The games a socket watches (few sockets watch any: a list of its own
/// only then, behind one pointer in every socket's task).
#[derive(Debug, Default)]
#[allow(
    clippy::box_collection,
    reason = "one word in every socket's task where a vector is three"
)]
pub(super) struct Watching(Option<Box<Vec<GameId>>>);

impl Watching {
    fn games(&self) -> &[GameId] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Starts watching `game_id`; the refusal to send when the socket
    /// watches as many as it may.
    pub(super) fn start(
        &mut self,
        state: &AppState,
        id: ConnectionId,
        game_id: GameId,
    ) -> Result<(), ServerFrame> {
        if self.games().contains(&game_id) {
            return Ok(());
        }
        if self.games().len() >= MAX_WATCHED {
            return Err(ServerFrame::Refused(Refused {
                message: format!("a socket watches at most {MAX_WATCHED} games; unwatch one first"),
            }));
        }
        let connection_id = state.connection_uuid(id);
        if state
            .api
            .bus
            .publish(StartedWatching {
                game_id,
                connection_id,
            })
            .is_ok()
        {
            self.0.get_or_insert_default().push(game_id);
        }
        Ok(())
    }

    /// Stops watching `game_id`, if it was.
    pub(super) fn stop(&mut self, state: &AppState, id: ConnectionId, game_id: GameId) {
        let Some(games) = self.0.as_mut().filter(|games| games.contains(&game_id)) else {
            return;
        };
        games.retain(|watched| *watched != game_id);
        if games.is_empty() {
            self.0 = None;
        }
        stopped(state, id, game_id);
    }

    /// Stops watching every game (the socket closed).
    pub(super) fn stop_all(self, state: &AppState, id: ConnectionId) {
        for game_id in self.0.into_iter().flat_map(|games| *games) {
            stopped(state, id, game_id);
        }
    }
}

/// Tells the bus socket `id` stopped watching `game_id`.
fn stopped(state: &AppState, id: ConnectionId, game_id: GameId) {
    let _ = state.api.bus.publish(StoppedWatching {
        game_id,
        connection_id: state.connection_uuid(id),
    });
}
