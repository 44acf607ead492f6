//! Calling the API from components, typed: a command is one of the
//! domain's command types, a query one of its query types answered with
//! that query's own answer type, so a renamed field is a compile error in
//! the browser too.

use bus::{Command, Query};
use domain::json_read::ReadJson;
use serde_json::json;

use crate::api::{ApiError, ErrorCode, commands, queries};

/// Sends a command; `Ok` once the server queued it.
pub async fn command<C: Command>(command: C) -> Result<(), ApiError> {
    commands(json!({ "type": C::TYPE, "payload": command }))
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
    let answer = match queries(json!({ "type": Q::TYPE, "payload": query })).await {
        Ok(answer) => answer,
        Err(error) if error.code() == ErrorCode::NotFound => {
            return Q::Answer::read_json(&serde_json::Value::Null).map_err(|_| error);
        }
        Err(error) => return Err(error),
    };
    // Read by hand from the `Value`, as the socket's events are
    // (`domain::json_read`), not by each answer type's serde reader.
    Q::Answer::read_json(&answer).map_err(|error| {
        ApiError::new(
            ErrorCode::Internal,
            format!("unexpected {} answer: {error}", Q::TYPE),
        )
    })
}

/// What a command that needs the signed-in user gets before there is one.
pub fn signed_out() -> ApiError {
    ApiError::new(ErrorCode::NoSession, "create a user first")
}

/// A fresh random id, from the browser's cryptographic random source.
#[cfg(feature = "hydrate")]
pub fn new_id<I: From<uuid::Uuid>>() -> I {
    let mut bytes = [0u8; 16];
    if let Some(crypto) = web_sys::window().and_then(|window| window.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    I::from(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// Ids are made in the browser only; the server never renders one.
#[cfg(not(feature = "hydrate"))]
pub fn new_id<I: From<uuid::Uuid>>() -> I {
    I::from(uuid::Uuid::nil())
}
