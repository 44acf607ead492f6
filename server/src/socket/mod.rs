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

mod client_frames;
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

use client_frames::Broken;

use crate::live_sockets::Opener;
use crate::state::AppState;

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

/// Why a connection ended, for the logs and the close frame.
#[derive(Debug)]
enum End {
    PeerClosed,
    PeerSilent,
    SendFailed,
    TooSlow,
    ServerShutdown,
    /// The peer broke the protocol: the close frame says how.
    Broke(Broken),
}

impl End {
    /// The close frame it sends, if any: a status code (RFC 6455 section
    /// 7.4.1) and a reason.
    fn close(&self) -> Option<(u16, String)> {
        const GOING_AWAY: u16 = 1001;
        const POLICY: u16 = 1008;
        match self {
            Self::ServerShutdown => Some((GOING_AWAY, "server shutting down".to_owned())),
            Self::PeerSilent => Some((GOING_AWAY, "no answer to pings".to_owned())),
            Self::TooSlow => Some((POLICY, "too slow to keep up".to_owned())),
            Self::Broke(broken) => Some((broken.close_code(), broken.to_string())),
            Self::PeerClosed | Self::SendFailed => None,
        }
    }
}
