//! The endpoints' work, on the server: decode what the client sent, check
//! who acts, hand it to the bus, and say what went wrong in the API's
//! error shape.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, SET_COOKIE};
use bus::{Bus, BusError, DecodeError};
use domain::client_calls::{client_command, is_client_query};
use domain::{CreateUser, GameError, GameErrorOccurred, GetUser, InviteUser, UserId};
use leptos::prelude::*;
use serde_json::Value;

use super::sessions::{Sessions, session_cookie, session_token, session_user};
use super::{Accepted, ApiError, ErrorCode};

/// What the endpoints need, provided to every request's context.
#[derive(Clone)]
pub struct ApiContext {
    /// The bus the game runs on.
    pub bus: Bus,
    /// Who is signed in.
    pub sessions: Sessions,
    /// The bearer token trusted services send to `/api/events` (off when `None`).
    pub service_token: Option<Arc<str>>,
    /// Whether the site is served over https (adds `Secure` to the cookie).
    pub https: bool,
    /// Whether this server can commit commands now, and why not (a
    /// cluster node that lost NATS or its database answers 503 rather than
    /// accept what it cannot commit).
    pub ready: Readiness,
}

/// Says whether commands can be taken now: `Err` with the reason if not.
pub type Readiness = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// A server that is always ready (one process, its own database).
pub fn always_ready() -> Readiness {
    Arc::new(|| Ok(()))
}

fn context() -> Result<ApiContext, ApiError> {
    use_context::<ApiContext>()
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "the API is not wired to a bus"))
}

async fn headers() -> Result<HeaderMap, ApiError> {
    leptos_axum::extract::<HeaderMap>()
        .await
        .map_err(|error| ApiError::new(ErrorCode::Internal, error.to_string()))
}

/// `{"type": "...", "payload": {...}}` split in two.
fn tagged(effect: Value) -> Result<(String, Value), ApiError> {
    let Value::Object(mut effect) = effect else {
        return Err(ApiError::new(
            ErrorCode::MalformedJson,
            "expected an object {\"type\": ..., \"payload\": {...}}",
        ));
    };
    let effect_type = match effect.remove("type") {
        Some(Value::String(effect_type)) => effect_type,
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::MalformedJson,
                "\"type\" must be a string",
            ));
        }
        None => {
            return Err(ApiError::new(
                ErrorCode::MalformedJson,
                "missing field \"type\"",
            ));
        }
    };
    let payload = effect
        .remove("payload")
        .unwrap_or_else(|| Value::Object(Default::default()));
    if !payload.is_object() {
        return Err(ApiError::new(
            ErrorCode::MalformedJson,
            "\"payload\" must be an object",
        ));
    }
    Ok((effect_type, payload))
}

fn from_bus(error: BusError) -> ApiError {
    match error {
        BusError::Decode(DecodeError::Payload {
            effect_type,
            reason,
        }) => ApiError::new(
            ErrorCode::InvalidPayload,
            format!("bad {effect_type}: {reason}"),
        ),
        BusError::Decode(DecodeError::UnknownType(effect_type)) => ApiError::new(
            ErrorCode::UnknownType,
            format!("unknown type {effect_type:?}"),
        ),
        BusError::Closed => ApiError::new(ErrorCode::Unavailable, "the server is shutting down"),
        // Nothing of it was applied (its state kept changing under it, or
        // its store failed): the client may send it again.
        BusError::CommandFailed { command, .. } => ApiError::new(
            ErrorCode::Unavailable,
            format!("{command} could not be applied now; send it again"),
        ),
        other => ApiError::new(ErrorCode::Internal, other.to_string()),
    }
}

/// `POST /api/commands`.
pub async fn send_command(command: Value) -> Result<Accepted, ApiError> {
    let api = context()?;
    (api.ready)().map_err(|why| ApiError::new(ErrorCode::Unavailable, why))?;
    let headers = headers().await?;
    let (effect_type, payload) = tagged(command)?;
    if client_command(&effect_type).is_none() {
        return Err(ApiError::new(
            ErrorCode::UnknownType,
            format!("{effect_type:?} is not a command clients can send"),
        ));
    }
    let token = session_token(&headers);
    let session_user = match token.as_deref() {
        Some(token) => api.sessions.resolve(token).await,
        None => None,
    };

    if effect_type == <CreateUser as bus::Effect>::TYPE {
        let command = api.bus.decode(&effect_type, payload).map_err(from_bus)?;
        let Some(create) = command.downcast_ref::<CreateUser>() else {
            return Err(ApiError::new(
                ErrorCode::Internal,
                "CreateUser decoded into something else",
            ));
        };
        let user_id = create.user_id;
        let existing = api.bus.query(GetUser { user_id }).await.map_err(from_bus)?;
        if let Some(user) = existing {
            if session_user != Some(user_id) {
                return Err(ApiError::new(ErrorCode::Conflict, "that user id is taken"));
            }
            // Signing up again as oneself: a retry is answered as the
            // first was; an alias is not changed (others know you by it).
            if user.alias != create.alias {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!(
                        "you are signed up as \"{}\" already; an alias cannot be changed",
                        user.alias
                    ),
                ));
            }
            return Ok(Accepted { accepted: true });
        }
        let token = api
            .sessions
            .open(user_id, token.as_deref())
            .await
            .map_err(|error| {
                tracing::error!(error = ?error, "cannot keep a session");
                ApiError::new(ErrorCode::Unavailable, "cannot keep the session now")
            })?
            .ok_or_else(|| ApiError::new(ErrorCode::Conflict, "that user id is taken"))?;
        // Answered once applied: a 200 is never lost, whatever happens next.
        api.bus.send_committed(command).await.map_err(from_bus)?;
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
            && let Ok(cookie) = session_cookie(&token, api.https).parse()
        {
            response.insert_header(SET_COOKIE, cookie);
        }
        return Ok(Accepted { accepted: true });
    }

    let user =
        session_user.ok_or_else(|| ApiError::new(ErrorCode::NoSession, "create a user first"))?;
    act_as(&api, user, &effect_type, payload).await
}

/// Puts a client's command (`command`: `{"type", "payload"}`) on the bus as
/// `user`, the session's user, and answers once it is applied: the same
/// checks, rules and errors over HTTP and over the event socket.
/// `CreateUser` is refused here: signing up sets the session cookie, which
/// only an HTTP answer can.
pub async fn send_command_as(
    api: &ApiContext,
    user: UserId,
    command: Value,
) -> Result<Accepted, ApiError> {
    (api.ready)().map_err(|why| ApiError::new(ErrorCode::Unavailable, why))?;
    let (effect_type, payload) = tagged(command)?;
    if effect_type == <CreateUser as bus::Effect>::TYPE {
        return Err(ApiError::new(
            ErrorCode::UnknownType,
            "CreateUser is sent over HTTP (POST /api/commands): it sets the session cookie",
        ));
    }
    act_as(api, user, &effect_type, payload).await
}

/// A client command other than `CreateUser`, acting as `user`.
async fn act_as(
    api: &ApiContext,
    user: UserId,
    effect_type: &str,
    mut payload: Value,
) -> Result<Accepted, ApiError> {
    let Some(client) = client_command(effect_type) else {
        return Err(ApiError::new(
            ErrorCode::UnknownType,
            format!("{effect_type:?} is not a command clients can send"),
        ));
    };
    let fields = payload
        .as_object_mut()
        .ok_or_else(|| ApiError::new(ErrorCode::MalformedJson, "bad payload"))?;
    let me = Value::String(user.to_string());
    match fields.get(client.actor_field) {
        Some(named) if *named != me => {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("{} must be you, or left out", client.actor_field),
            ));
        }
        _ => {
            fields.insert(client.actor_field.to_owned(), me);
        }
    }
    let command = api.bus.decode(effect_type, payload).map_err(from_bus)?;
    submit_as(api, user, command).await
}

/// A command a socket sent (`{"type", "payload"}` as JSON text), read
/// straight from its text as `user`: `None` when it is not one this
/// reading takes as it is (not ready, `CreateUser`, a type clients do not
/// send, anything malformed or refused), which [`send_command_as`] then
/// reads from a `Value`, to answer with the errors it always gave. A move
/// read this way skips building a `Value` tree for it and reading the
/// command back out of it (docs/performance.md, "Commands read from their
/// text").
pub fn read_command_as(api: &ApiContext, user: UserId, command: &str) -> Option<bus::Envelope> {
    #[derive(serde::Deserialize)]
    struct Tagged<'a> {
        #[serde(rename = "type")]
        effect_type: &'a str,
        #[serde(borrow)]
        payload: &'a serde_json::value::RawValue,
    }
    (api.ready)().ok()?;
    let Tagged {
        effect_type,
        payload,
    } = serde_json::from_str(command).ok()?;
    let client = client_command(effect_type)?;
    if effect_type == <CreateUser as bus::Effect>::TYPE {
        return None;
    }
    api.bus
        .decode_text_with(
            effect_type,
            payload.get(),
            client.actor_field,
            &user.to_string(),
        )
        .ok()
}

/// Puts a decoded client command on the bus as `user` and answers once it
/// is applied.
pub async fn submit_as(
    api: &ApiContext,
    user: UserId,
    command: bus::Envelope,
) -> Result<Accepted, ApiError> {
    if let Some(invite) = command.downcast_ref::<InviteUser>() {
        let invited = invite.invited_id;
        if api
            .bus
            .query(GetUser { user_id: invited })
            .await
            .map_err(from_bus)?
            .is_none()
        {
            // A rule refusal like the others, to the inviter alone.
            api.bus
                .publish(GameErrorOccurred {
                    game_id: invite.game_id,
                    player_id: user,
                    reason: GameError::UserNotFound,
                })
                .map_err(from_bus)?;
            return Ok(Accepted { accepted: true });
        }
    }
    // Answered once applied: a 200 is never lost, whatever happens next.
    api.bus.send_committed(command).await.map_err(from_bus)?;
    Ok(Accepted { accepted: true })
}

/// `POST /api/me`.
pub async fn me() -> Result<Option<domain::users::User>, ApiError> {
    let api = context()?;
    let headers = headers().await?;
    let Some(user_id) = session_user(&api.sessions, &headers).await else {
        return Ok(None);
    };
    api.bus.query(GetUser { user_id }).await.map_err(from_bus)
}

/// `POST /api/queries`.
pub async fn answer_query(query: Value) -> Result<Value, ApiError> {
    let api = context()?;
    let (effect_type, payload) = tagged(query)?;
    if !is_client_query(&effect_type) {
        return Err(ApiError::new(
            ErrorCode::UnknownType,
            format!("{effect_type:?} is not a query clients can ask"),
        ));
    }
    let query = api.bus.decode(&effect_type, payload).map_err(from_bus)?;
    let answer = api
        .bus
        .query_envelope(query)
        .await
        .map_err(from_bus)?
        .to_json();
    if answer.is_null() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("{effect_type}: not found"),
        ));
    }
    Ok(answer)
}

/// `POST /api/events`.
pub async fn publish_event(event: Value) -> Result<Accepted, ApiError> {
    let api = context()?;
    let Some(expected) = api.service_token.as_deref() else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "the events endpoint is off",
        ));
    };
    let headers = headers().await?;
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same(presented.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "a valid service token is required",
        ));
    }
    let (effect_type, payload) = tagged(event)?;
    let event = api.bus.decode(&effect_type, payload).map_err(from_bus)?;
    if event.kind() != bus::Kind::Event {
        return Err(ApiError::new(
            ErrorCode::UnknownType,
            format!("{effect_type} is not an event"),
        ));
    }
    api.bus.publish_envelope(event).map_err(from_bus)?;
    Ok(Accepted { accepted: true })
}

/// Compares in time that does not depend on where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison_compares() {
        assert!(same(b"token", b"token"));
        assert!(!same(b"token", b"tokem"));
        assert!(!same(b"token", b"token2"));
    }
}
