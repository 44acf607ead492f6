//! Frames the server sends on the event WebSocket (`GET /api/ws`).
//!
//! Every frame is a JSON text frame `{"type": ..., "payload": ...}`, the same
//! shape as the effects of the bus.

use domain::GameId;
use serde::{Deserialize, Serialize};

/// The path of the event WebSocket.
pub const SOCKET_PATH: &str = "/api/ws";

/// A frame from the server to a browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum ServerFrame {
    /// The first frame of every connection: the socket is open end to end
    /// (through any proxy), and this is the server's clock at that moment, so
    /// the browser can count down to server deadlines whatever its own clock says.
    #[serde(rename_all = "camelCase")]
    Connected {
        /// Server time, in milliseconds since the Unix epoch.
        server_time_ms: u64,
    },
    /// The events of a game the client resumed are no longer all kept:
    /// reload the game with `GetGame`.
    #[serde(rename_all = "camelCase")]
    ReloadGame {
        /// The game.
        game_id: GameId,
    },
    /// A command sent on the socket (`Command`) was applied, as `POST
    /// /api/commands` answers `{"accepted": true}`.
    #[serde(rename_all = "camelCase")]
    CommandAnswered {
        /// The id the client gave the command.
        id: u64,
        /// Always `true`.
        accepted: bool,
    },
    /// A command sent on the socket was refused, with the error `POST
    /// /api/commands` would answer.
    #[serde(rename_all = "camelCase")]
    CommandRefused {
        /// The id the client gave the command.
        id: u64,
        /// What went wrong.
        error: crate::api::ErrorBody,
    },
    /// A frame from the client was not understood (the socket stays open).
    #[serde(rename_all = "camelCase")]
    Refused {
        /// Why, in words.
        message: String,
    },
}

/// A frame from a browser to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum ClientFrame {
    /// Follow a game's events, replaying those after `version` (0: from
    /// the start) when the server still has them.
    #[serde(rename_all = "camelCase")]
    Resume {
        /// The game.
        game_id: GameId,
        /// The last version the client saw.
        version: u64,
    },
    /// A command, as `POST /api/commands` takes it (`{"type", "payload"}`),
    /// acting as the socket's signed-in user, under the same rules, rate
    /// limit and errors; answered on the socket with `CommandAnswered` or
    /// `CommandRefused` carrying `id`. Any number may be in flight.
    #[serde(rename_all = "camelCase")]
    Command {
        /// The client's number for it, echoed in the answer.
        id: u64,
        /// The command.
        command: serde_json::Value,
    },
    /// Count this socket among the game's spectators (it follows the game
    /// with `Resume`); no session needed.
    #[serde(rename_all = "camelCase")]
    Watch {
        /// The game.
        game_id: GameId,
    },
    /// Count this socket among the game's spectators no more (closing the
    /// socket does it too).
    #[serde(rename_all = "camelCase")]
    Unwatch {
        /// The game.
        game_id: GameId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_frame_is_tagged_and_camel_case() {
        let frame = ServerFrame::Connected { server_time_ms: 42 };
        let json = serde_json::to_string(&frame).unwrap();
        assert_eq!(
            json,
            r#"{"type":"Connected","payload":{"serverTimeMs":42}}"#
        );
        assert_eq!(serde_json::from_str::<ServerFrame>(&json).unwrap(), frame);
    }

    #[test]
    fn resume_frame_reads_as_the_spec_writes_it() {
        let frame: ClientFrame = serde_json::from_str(
            r#"{"type":"Resume","payload":{"gameId":"00000000-0000-0000-0000-000000000001","version":4}}"#,
        )
        .unwrap();
        assert_eq!(
            frame,
            ClientFrame::Resume {
                game_id: GameId::from_u128(1),
                version: 4
            }
        );
    }
}
