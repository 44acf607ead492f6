//! Commands sent on the event socket: the same payloads, rules, identity,
//! rate limit and errors as `POST /api/commands`, answered on the socket.
//!
//! Why a second way: a move over HTTP pays for a request of its own (the
//! connection's parsing, the server function's dispatch, the session and
//! rate-limit lookups by cookie); on the socket that is already open, the
//! user is known from the handshake and a command is one small text frame.

use app::api::endpoints::{read_command_as, send_command_as, submit_as};
use app::api::{ApiError, ErrorCode};
use app::socket_frames::{CommandAnswered, CommandRefused, ServerFrame};
use domain::UserId;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::event_routing::{ConnectionId, control};
use crate::rate_limit::Caller;
use crate::state::AppState;

/// A command as a socket frame brought it.
pub(super) enum Command<'a> {
    /// Its JSON text (`{"type", "payload"}`), from a frame read the quick
    /// way ([`command_frame`]).
    Text(&'a str),
    /// Read into a `Value` with the other client frames.
    Value(Value),
}

/// A `Command` frame written `type` first, as browsers and the load
/// generator write it (`{"type":"Command","payload":{"id","command"}}`):
/// its number and its command's text, read without a `Value` (its command
/// is only checked to be JSON). `None` for anything else, which is read as
/// a [`ClientFrame`](app::socket_frames::ClientFrame) (so its errors are
/// the same as ever).
pub(super) fn command_frame(text: &str) -> Option<(u64, Command<'_>)> {
    #[derive(Deserialize)]
    struct Frame<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(borrow)]
        payload: Payload<'a>,
    }
    #[derive(Deserialize)]
    struct Payload<'a> {
        id: u64,
        #[serde(borrow)]
        command: &'a RawValue,
    }
    if !text.starts_with(r#"{"type":"Command","#) {
        return None;
    }
    let frame: Frame<'_> = serde_json::from_str(text).ok()?;
    (frame.kind == "Command")
        .then(|| (frame.payload.id, Command::Text(frame.payload.command.get())))
}

/// Runs command `number` of socket `id`, signed in as `user`, and answers
/// it on the socket once applied (or refused). The socket reads on
/// meanwhile: commands may overlap, each answered by its number.
pub(super) fn run(
    state: &AppState,
    id: ConnectionId,
    user: Option<UserId>,
    number: u64,
    command: Command<'_>,
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
    // Read here, before the task, when it reads the quick way; else as a
    // `Value`, as `POST /api/commands` reads it.
    // (The text is JSON: the frame's reading checked it.)
    let read = match command {
        Command::Text(text) => read_command_as(&state.api, user, text)
            .ok_or_else(|| serde_json::from_str(text).unwrap_or_default()),
        Command::Value(command) => Err(command),
    };
    let state = state.clone();
    tokio::spawn(async move {
        let outcome = match read {
            Ok(command) => submit_as(&state.api, user, command).await,
            Err(command) => send_command_as(&state.api, user, command).await,
        };
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
