//! Commands sent on the event socket: the same payloads, rules, identity,
//! rate limit and errors as `POST /api/commands`, answered on the socket.
//!
//! Why a second way: a move over HTTP pays for a request of its own (the
//! connection's parsing, the server function's dispatch, the session and
//! rate-limit lookups by cookie); on the socket that is already open, the
//! user is known from the handshake and a command is one small text frame.

use app::api::endpoints::send_command_as;
use app::api::{ApiError, ErrorCode};
use app::socket_frames::{CommandAnswered, CommandRefused, ServerFrame};
use domain::UserId;
use serde_json::Value;

use crate::event_routing::{ConnectionId, control};
use crate::rate_limit::Caller;
use crate::state::AppState;

/// Runs command `number` of socket `id`, signed in as `user`, and answers
/// it on the socket once applied (or refused). The socket reads on
/// meanwhile: commands may overlap, each answered by its number.
pub(super) fn run(
    state: &AppState,
    id: ConnectionId,
    user: Option<UserId>,
    number: u64,
    command: Value,
) {
    let Some(user) = user else {
        let refused = ApiError::new(
            ErrorCode::NoSession,
            "this socket has no session: sign up, then open the socket again",
        );
        return answer(state, id, number, Err(refused));
    };
    if !state.limiter.allow(Caller::User(user)) {
        let refused = ApiError::new(ErrorCode::TooManyRequests, "too many requests; slow down");
        return answer(state, id, number, Err(refused));
    }
    let state = state.clone();
    tokio::spawn(async move {
        let outcome = send_command_as(&state.api, user, command).await;
        answer(&state, id, number, outcome.map(|_| ()));
    });
}

/// Tells socket `id` how its command `number` went.
fn answer(state: &AppState, id: ConnectionId, number: u64, outcome: Result<(), ApiError>) {
    let frame = match outcome {
        Ok(()) => ServerFrame::CommandAnswered(CommandAnswered {
            id: number,
            accepted: true,
        }),
        Err(refused) => ServerFrame::CommandRefused(CommandRefused {
            id: number,
            error: refused.error,
        }),
    };
    state.hub.tell(id, control(&frame));
}
