//! The server side of the API: sessions, and the three endpoints' work.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use bus::{Bus, BusError, DecodeError};
use domain::wire::{client_command, is_client_query};
use domain::{CreateUser, GetUser, UserId};
use leptos::prelude::*;
use serde_json::Value;

use super::{Accepted, ApiError, ErrorCode};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "session";

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
}

/// Where sessions are kept across restarts.
pub trait SessionStore: Send + Sync + 'static {
    /// Records a new session durably.
    fn save<'a>(
        &'a self,
        token: &'a str,
        user: UserId,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// Session tokens and the user each signs in as.
///
/// A token is 256 random bits; a user id belongs to the first session that
/// creates it, so nobody can take over a user by naming its id. With a
/// [`SessionStore`], sessions survive restarts.
#[derive(Clone, Default)]
pub struct Sessions {
    table: Arc<RwLock<SessionTable>>,
    store: Option<Arc<dyn SessionStore>>,
}

#[derive(Debug, Default)]
struct SessionTable {
    // The token is kept once, shared by both maps.
    users: HashMap<Arc<str>, UserId>,
    owners: HashMap<UserId, Arc<str>>,
}

impl Sessions {
    /// Sessions read back from `store` (`known`), kept there from now on.
    pub fn restore(
        known: impl IntoIterator<Item = (String, UserId)>,
        store: Arc<dyn SessionStore>,
    ) -> Self {
        let mut table = SessionTable::default();
        for (token, user) in known {
            let token: Arc<str> = token.into();
            table.owners.insert(user, token.clone());
            table.users.insert(token, user);
        }
        Self {
            table: Arc::new(RwLock::new(table)),
            store: Some(store),
        }
    }

    /// The user a session token signs in as.
    pub fn user(&self, token: &str) -> Option<UserId> {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .users
            .get(token)
            .copied()
    }

    /// A session for `user`: the caller's own when it already is `user`'s,
    /// a new one when nobody owns `user` yet, `Ok(None)` when someone else
    /// does; an error when the new session cannot be stored.
    pub async fn open(
        &self,
        user: UserId,
        current: Option<&str>,
    ) -> Result<Option<String>, String> {
        let token = {
            let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
            match table.owners.get(&user) {
                Some(owner) if Some(&**owner) == current => return Ok(Some(owner.to_string())),
                Some(_) => return Ok(None),
                None => {
                    let token = new_token();
                    let shared: Arc<str> = token.as_str().into();
                    table.users.insert(shared.clone(), user);
                    table.owners.insert(user, shared);
                    token
                }
            }
        };
        if let Some(store) = &self.store
            && let Err(error) = store.save(&token, user).await
        {
            let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
            table.users.remove(token.as_str());
            table.owners.remove(&user);
            return Err(error);
        }
        Ok(Some(token))
    }
}

fn new_token() -> String {
    // Two v4 UUIDs: 244 bits from the operating system's random source.
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The session token in a request's cookies.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The user a request's session cookie signs in as.
pub fn session_user(sessions: &Sessions, headers: &HeaderMap) -> Option<UserId> {
    session_token(headers).and_then(|token| sessions.user(&token))
}

/// The `Set-Cookie` value for a session: HttpOnly, SameSite, for `/api`.
pub fn session_cookie(token: &str, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/api; HttpOnly; SameSite=Lax; Max-Age=31536000{secure}")
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
        other => ApiError::new(ErrorCode::Internal, other.to_string()),
    }
}

/// `POST /api/commands`.
pub async fn send_command(command: Value) -> Result<Accepted, ApiError> {
    let api = context()?;
    let headers = headers().await?;
    let (effect_type, mut payload) = tagged(command)?;
    let Some(client) = client_command(&effect_type) else {
        return Err(ApiError::new(
            ErrorCode::UnknownType,
            format!("{effect_type:?} is not a command clients can send"),
        ));
    };
    let token = session_token(&headers);
    let session_user = token.as_deref().and_then(|token| api.sessions.user(token));

    if effect_type == <CreateUser as bus::Effect>::TYPE {
        let command = api.bus.decode(&effect_type, payload).map_err(from_bus)?;
        let Some(create) = command.downcast_ref::<CreateUser>() else {
            return Err(ApiError::new(
                ErrorCode::Internal,
                "CreateUser decoded into something else",
            ));
        };
        let user_id = create.user_id;
        let owned_here = session_user == Some(user_id);
        let exists = api
            .bus
            .query(GetUser { user_id })
            .await
            .map_err(from_bus)?
            .is_some();
        if exists && !owned_here {
            return Err(ApiError::new(ErrorCode::Conflict, "that user id is taken"));
        }
        let token = api
            .sessions
            .open(user_id, token.as_deref())
            .await
            .map_err(|error| {
                ApiError::new(
                    ErrorCode::Unavailable,
                    format!("cannot keep the session: {error}"),
                )
            })?
            .ok_or_else(|| ApiError::new(ErrorCode::Conflict, "that user id is taken"))?;
        api.bus.send_envelope(command).map_err(from_bus)?;
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
            && let Ok(cookie) = session_cookie(&token, api.https).parse()
        {
            response.insert_header(SET_COOKIE, cookie);
        }
        return Ok(Accepted { accepted: true });
    }

    let user =
        session_user.ok_or_else(|| ApiError::new(ErrorCode::NoSession, "create a user first"))?;
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
    let command = api.bus.decode(&effect_type, payload).map_err(from_bus)?;
    api.bus.send_envelope(command).map_err(from_bus)?;
    Ok(Accepted { accepted: true })
}

/// `POST /api/me`.
pub async fn me() -> Result<Option<domain::users::User>, ApiError> {
    let api = context()?;
    let headers = headers().await?;
    let Some(user_id) = session_user(&api.sessions, &headers) else {
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

    #[tokio::test]
    async fn a_user_id_belongs_to_its_first_session() {
        let sessions = Sessions::default();
        let user = UserId::from_u128(1);
        let token = sessions.open(user, None).await.unwrap().unwrap();
        assert_eq!(sessions.user(&token), Some(user));
        assert_eq!(
            sessions.open(user, Some(&token)).await,
            Ok(Some(token.clone()))
        );
        assert_eq!(sessions.open(user, None).await, Ok(None));
        assert_eq!(sessions.open(user, Some("guess")).await, Ok(None));
        assert_eq!(token.len(), 64);
    }

    #[test]
    fn reads_the_session_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "theme=dark; session=abc123; x=y".parse().unwrap());
        assert_eq!(session_token(&headers).as_deref(), Some("abc123"));
    }

    #[test]
    fn the_cookie_is_http_only_same_site_for_api() {
        let cookie = session_cookie("t", false);
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Path=/api")
        );
        assert!(!cookie.contains("Secure"));
        assert!(session_cookie("t", true).ends_with("; Secure"));
    }

    #[test]
    fn constant_time_comparison_compares() {
        assert!(same(b"token", b"token"));
        assert!(!same(b"token", b"tokem"));
        assert!(!same(b"token", b"token2"));
    }
}
