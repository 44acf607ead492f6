//! Frames the server sends on the event WebSocket (`GET /api/ws`).
//!
//! Every frame is a JSON text frame `{"type": ..., "payload": ...}`, the same
//! shape as the effects of the bus.

use domain::GameId;
use serde::{Deserialize, Serialize};

/// The path of the event WebSocket.
pub const SOCKET_PATH: &str = "/api/ws";

/// A frame from the server to a browser: each variant's payload a struct
/// of the same name. Browsers read it through a parsed `Value`
/// ([`domain::json_read`]), as they read the events.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "payload")]
pub enum ServerFrame {
    /// The first frame of every connection.
    Connected(Connected),
    /// Reload a game.
    ReloadGame(ReloadGame),
    /// A command sent on the socket was applied.
    CommandAnswered(CommandAnswered),
    /// A command sent on the socket was refused.
    CommandRefused(CommandRefused),
    /// A frame from the client was not understood.
    Refused(Refused),
}

domain::json_tagged!(ServerFrame {
    Connected,
    ReloadGame,
    CommandAnswered,
    CommandRefused,
    Refused,
});

/// The first frame of every connection: the socket is open end to end
/// (through any proxy), and this is the server's clock at that moment, so
/// the browser can count down to server deadlines whatever its own clock says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    /// Server time, in milliseconds since the Unix epoch.
    pub server_time_ms: u64,
}

domain::json_struct!(Connected { server_time_ms });

/// The events of a game the client resumed are no longer all kept:
/// reload the game with `GetGame`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadGame {
    /// The game.
    pub game_id: GameId,
}

domain::json_struct!(ReloadGame { game_id });

/// A command sent on the socket (`Command`) was applied, as `POST
/// /api/commands` answers `{"accepted": true}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandAnswered {
    /// The id the client gave the command.
    pub id: u64,
    /// Always `true`.
    pub accepted: bool,
}

domain::json_struct!(CommandAnswered { id, accepted });

/// A command sent on the socket was refused, with the error `POST
/// /api/commands` would answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandRefused {
    /// The id the client gave the command.
    pub id: u64,
    /// What went wrong.
    pub error: crate::api::ErrorBody,
}

domain::json_struct!(CommandRefused { id, error });

/// A frame from the client was not understood (the socket stays open).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refused {
    /// Why, in words.
    pub message: String,
}

domain::json_struct!(Refused { message });

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
        let frame = ServerFrame::Connected(Connected { server_time_ms: 42 });
        let json = serde_json::to_string(&frame).unwrap();
        assert_eq!(
            json,
            r#"{"type":"Connected","payload":{"serverTimeMs":42}}"#
        );
        assert_eq!(ServerFrame::read_json_text(&json), Ok(frame));
    }

    #[test]
    fn every_server_frame_reads_back_as_written() {
        let frames = [
            ServerFrame::Connected(Connected { server_time_ms: 42 }),
            ServerFrame::ReloadGame(ReloadGame {
                game_id: GameId::from_u128(7),
            }),
            ServerFrame::CommandAnswered(CommandAnswered {
                id: 3,
                accepted: true,
            }),
            ServerFrame::CommandRefused(CommandRefused {
                id: 4,
                error: crate::api::ApiError::new(
                    crate::api::ErrorCode::TooManyRequests,
                    "slow down",
                )
                .error,
            }),
            ServerFrame::Refused(Refused {
                message: "no".to_owned(),
            }),
        ];
        assert_eq!(frames.len(), ServerFrame::TYPES.len(), "one of each");
        for frame in frames {
            let json = serde_json::to_string(&frame).unwrap();
            assert!(json.starts_with(r#"{"type":"#), "{json}");
            assert_eq!(ServerFrame::read_json_text(&json), Ok(frame));
        }
    }

    #[test]
    fn an_event_is_not_read_as_a_server_frame_nor_a_frame_without_its_payload() {
        let payload_first = r#"{"payload":{"serverTimeMs":1},"type":"Connected"}"#;
        assert_eq!(
            ServerFrame::read_json_text(payload_first),
            Ok(ServerFrame::Connected(Connected { server_time_ms: 1 }))
        );
        let (kind, payload) =
            domain::json_read::tagged(r#"{"type":"MarkPlaced","payload":{}}"#).expect("a frame");
        assert!(ServerFrame::read_payload(&kind, &payload).is_none());
        for (text, why) in [
            (
                r#"{"type":"MarkPlaced","payload":{}}"#,
                "unknown type MarkPlaced",
            ),
            (r#"{"type":"Connected"}"#, r#"not {"type", "payload"}"#),
            (
                r#"{"type":"CommandRefused","payload":{"id":1,"error":{"code":"NOPE","message":""}}}"#,
                "error: code: unknown variant `NOPE`",
            ),
        ] {
            let error = ServerFrame::read_json_text(text).expect_err(text).0;
            assert!(error.contains(why), "{text}: {error}");
        }
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
