//! Calling the API from components, typed: a command is one of the
//! domain's command types, a query one of its query types answered with
//! that query's own answer type, so a renamed field is a compile error in
//! the browser too.
//!
//! The calls go to the server functions' endpoints (their paths are the
//! server functions' own), by `fetch`, with their bodies written by
//! [`wire`](crate::wire) and their answers read by hand from the parsed
//! JSON (`domain::json_read`), as the socket's frames are: the server
//! functions' client wrote and read each type with serde, and serde's
//! readers and `serde_json`'s float formatting were 24 KB gzip of the
//! browser bundle (docs/performance.md, "The browser bundle").

use bus::{Command, Query};
use domain::json_read::ReadJson;
use domain::users::User;
use leptos::server_fn::ServerFn;
use serde_json::{Value, json};

use crate::api::{ApiError, Commands, ErrorCode, Me, Queries};
use crate::server_status::{FetchServerStatus, ServerStatus};

/// Sends a command; `Ok` once the server queued it.
pub async fn command<C: Command>(command: C) -> Result<(), ApiError> {
    send_command(json!({ "type": C::TYPE, "payload": command })).await
}

/// `POST /api/commands` with a command as JSON (`{"type", "payload"}`).
pub async fn send_command(command: Value) -> Result<(), ApiError> {
    post(Commands::PATH, &json!({ "command": command }))
        .await
        .map(|_| ())
}

/// Asks a query; its answer.
///
/// The API answers a query whose answer is nothing (`None`) with 404: for a
/// query whose answer type is an `Option`, that is `Ok(None)` here.
pub async fn query<Q: Query>(query: Q) -> Result<Q::Answer, ApiError>
where
    Q::Answer: ReadJson,
{
    let body = json!({ "query": { "type": Q::TYPE, "payload": query } });
    let answer = match post(Queries::PATH, &body).await {
        Ok(answer) => answer,
        Err(error) if error.code() == ErrorCode::NotFound => {
            return Q::Answer::read_json(&Value::Null).map_err(|_| error);
        }
        Err(error) => return Err(error),
    };
    read_answer(Q::TYPE, &answer)
}

/// The session's user, if the browser has signed in.
pub async fn me() -> Result<Option<User>, ApiError> {
    read_answer("me", &post(Me::PATH, &json!({})).await?)
}

/// What the server is and how busy it is.
pub async fn server_status() -> Result<ServerStatus, ApiError> {
    read_answer("status", &post(FetchServerStatus::PATH, &json!({})).await?)
}

/// An answer read by hand from its JSON.
fn read_answer<T: ReadJson>(what: &str, answer: &Value) -> Result<T, ApiError> {
    T::read_json(answer).map_err(|error| {
        ApiError::new(
            ErrorCode::Internal,
            format!("unexpected {what} answer: {error}"),
        )
    })
}

/// POSTs `body` to the API's `path`: the answer's JSON, or the API's
/// error (`{"error": {"code", "message"}}`, or what stands in for it
/// when the server could not be reached or did not answer in JSON).
#[cfg(feature = "csr")]
async fn post(path: &str, body: &Value) -> Result<Value, ApiError> {
    use gloo_net::http::Request;

    let unreachable = |error: gloo_net::Error| {
        ApiError::new(
            ErrorCode::Unavailable,
            format!("the server cannot be reached: {error}"),
        )
    };
    let body = crate::wire::to_text(body)
        .map_err(|error| ApiError::new(ErrorCode::MalformedJson, error.to_string()))?;
    let response = Request::post(path)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(body)
        .map_err(unreachable)?
        .send()
        .await
        .map_err(unreachable)?;
    let text = response.binary().await.map_err(unreachable)?;
    // Parsed from bytes, as the socket's frames are (one parser).
    let answer = serde_json::from_slice::<Value>(&text).ok();
    if response.ok() {
        return answer.ok_or_else(|| ApiError::new(ErrorCode::Internal, "an answer not in JSON"));
    }
    Err(answer
        .and_then(|answer| ApiError::read_json(&answer).ok())
        .unwrap_or_else(|| {
            ApiError::new(
                ErrorCode::Unavailable,
                format!("the server answered {}", response.status()),
            )
        }))
}

/// The server renders pages; only the browser calls its API.
#[cfg(not(feature = "csr"))]
async fn post(_path: &str, _body: &Value) -> Result<Value, ApiError> {
    Err(ApiError::new(
        ErrorCode::Unavailable,
        "the API is called from the browser",
    ))
}

/// What a command that needs the signed-in user gets before there is one.
pub fn signed_out() -> ApiError {
    ApiError::new(ErrorCode::NoSession, "create a user first")
}

/// A fresh random id, from the browser's cryptographic random source.
#[cfg(feature = "csr")]
pub fn new_id<I: From<uuid::Uuid>>() -> I {
    let mut bytes = [0u8; 16];
    if let Some(crypto) = web_sys::window().and_then(|window| window.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    I::from(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// Ids are made in the browser only; the server never renders one.
#[cfg(not(feature = "csr"))]
pub fn new_id<I: From<uuid::Uuid>>() -> I {
    I::from(uuid::Uuid::nil())
}
