//! Calling the API from components: commands and queries by wire name.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api::{ApiError, ErrorCode, commands, queries};

/// Sends a command; `Ok` once the server queued it.
pub async fn command(effect_type: &str, payload: Value) -> Result<(), ApiError> {
    commands(json!({ "type": effect_type, "payload": payload }))
        .await
        .map(|_| ())
}

/// Asks a query and decodes the answer.
pub async fn query<T: DeserializeOwned>(effect_type: &str, payload: Value) -> Result<T, ApiError> {
    let answer = queries(json!({ "type": effect_type, "payload": payload })).await?;
    serde_json::from_value(answer).map_err(|error| {
        ApiError::new(
            ErrorCode::Internal,
            format!("unexpected {effect_type} answer: {error}"),
        )
    })
}

/// A fresh random id, from the browser's cryptographic random source.
#[cfg(feature = "hydrate")]
pub fn new_id() -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    if let Some(crypto) = web_sys::window().and_then(|window| window.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Ids are made in the browser only; the server never renders one.
#[cfg(not(feature = "hydrate"))]
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::nil()
}
