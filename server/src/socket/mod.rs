//! The event WebSocket at `/api/ws`.
//!
//! A socket signs in with the session cookie (anonymous sockets get the
//! lobby's events), refuses an `Origin` other than the site's own, and gets
//! a `Connected` frame first, then the lobby's lists as they are
//! (`UsersOnlineUpdated`, `TopThreeListUpdated`, `LiveGamesUpdated`), then
//! what the [`Hub`](crate::event_routing::Hub) routes to it. A socket of a signed-in user makes that user online.
//!
//! The server pings a socket after [`AppState::ws_ping_interval`] of
//! silence, so proxies keep it open, and drops a peer that does not answer
//! a ping within an interval: a browser answers pings by itself, so that
//! silence means it is gone.

mod commands;
mod connection;
mod handshake;
mod live;
mod presence;
mod watching;

use app::api::sessions::session_user;
use app::api::{ApiError, ErrorCode};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::live_sockets::Opener;
use crate::state::AppState;

/// Room for a client's frames as they are read.
const READ_BUFFER_BYTES: usize = 256;

/// The largest frame a client may send (a `Resume` is under 100 bytes).
const MAX_CLIENT_MESSAGE_BYTES: usize = 16 * 1024;

/// Upgrades `GET /api/ws` to a WebSocket.
pub async fn upgrade(State(state): State<AppState>, mut request: Request) -> Response {
    if !state.site.same_origin(request.headers()) {
        return ApiError::new(ErrorCode::Forbidden, "cross-origin WebSocket refused")
            .into_response();
    }
    let accept = match handshake::accept_key(&request) {
        Ok(accept) => accept,
        Err(not) => return not.response(),
    };
    let user = session_user(&state.api.sessions, request.headers()).await;
    let opener = match user {
        Some(user) => Opener::User(user),
        None => Opener::Anonymous(crate::client_address::client_address(&request)),
    };
    let open = match state.live.open(opener) {
        Ok(open) => open,
        Err(too_many) => {
            let whose = match opener {
                Opener::User(_) => "of this user",
                Opener::Anonymous(_) => "without a session from this address",
            };
            return ApiError::new(
                ErrorCode::TooManyRequests,
                format!(
                    "{} event sockets {whose} are open already; close one first",
                    too_many.0
                ),
            )
            .into_response();
        }
    };
    let upgrading = hyper::upgrade::on(&mut request);
    tokio::spawn(live::Task::new(upgrading, state, user, open));
    handshake::switching(accept)
}

/// Clients only send small frames (`Resume`, commands): tungstenite zeroes
/// its whole read buffer before each read, which at the default 128 KiB
/// was the server's largest cost per event. Our frames skip its write
/// buffer (see [`connection`]); its own (pongs, pings, close) go out with
/// them.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_CLIENT_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE_BYTES))
}

/// Why a connection ended, for the logs and the close frame.
#[derive(Debug)]
enum End {
    PeerClosed,
    PeerSilent,
    SendFailed,
    TooSlow,
    ServerShutdown,
    /// The peer broke the protocol: the close frame says how (RFC 6455
    /// section 7.4.1).
    Broke(CloseCode, &'static str),
}

impl End {
    /// How a failed read ends the socket.
    fn after(error: &WsError) -> Self {
        match error {
            WsError::Capacity(_) => Self::Broke(CloseCode::Size, "frame too large"),
            WsError::Utf8(_) => Self::Broke(CloseCode::Invalid, "text is not UTF-8"),
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => Self::PeerClosed,
            WsError::Protocol(_) => Self::Broke(CloseCode::Protocol, "WebSocket protocol error"),
            _ => Self::PeerClosed,
        }
    }
}
