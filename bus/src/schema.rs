//! Reading what another release wrote.
//!
//! Two readings of one type, for two kinds of writer:
//!
//! - **strict**, for what a client sends: a field the type does not have is
//!   an error, so a typo never passes for a missing optional field;
//! - **lenient**, for what a store kept: unknown fields are ignored (a
//!   release that removed a field still reads rows written before), fields
//!   added since with `#[serde(default)]` take their default, and a payload
//!   written at an older schema version is first brought to today's shape
//!   by the type's `upcast` (as cqrs-es upcasters do). A payload written by
//!   a *newer* schema version is refused: its meaning changed in a way this
//!   release cannot know.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// How a stored type reads a payload written at an older schema version.
pub type Upcast = fn(from_version: u32, payload: Value) -> Result<Value, String>;

/// Decodes a client's payload, refusing fields the type does not have.
pub(crate) fn decode_strict<T: DeserializeOwned>(payload: Value) -> Result<T, String> {
    let mut unknown = Vec::new();
    let value = serde_ignored::deserialize(payload, |path| unknown.push(path.to_string()))
        .map_err(|error: serde_json::Error| error.to_string())?;
    match unknown.as_slice() {
        [] => Ok(value),
        [field] => Err(format!("unknown field `{field}`")),
        fields => Err(format!("unknown fields `{}`", fields.join("`, `"))),
    }
}

/// Decodes a client's payload from its JSON text, refusing fields the type
/// does not have, with string field `field` set to `value` (see
/// [`WithField`](crate::with_field::WithField)).
pub(crate) fn decode_strict_text_with<T: DeserializeOwned>(
    text: &str,
    field: &str,
    value: &str,
) -> Result<T, String> {
    let mut unknown = Vec::new();
    let mut json = serde_json::Deserializer::from_str(text);
    let with_field = crate::with_field::WithField {
        inner: &mut json,
        field,
        value,
    };
    let decoded = serde_ignored::deserialize(with_field, |path| unknown.push(path.to_string()))
        .map_err(|error: serde_json::Error| error.to_string())?;
    json.end().map_err(|error| error.to_string())?;
    match unknown.as_slice() {
        [] => Ok(decoded),
        [field] => Err(format!("unknown field `{field}`")),
        fields => Err(format!("unknown fields `{}`", fields.join("`, `"))),
    }
}

/// Why a stored payload does not read.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// Its schema version is older, and the type's upcast refused it.
    #[error("{type_name} version {written} does not upgrade: {reason}")]
    Upcast {
        /// The stored type.
        type_name: String,
        /// The version it was written at.
        written: u32,
        /// What the upcast said.
        reason: String,
    },
    /// A newer release wrote it.
    #[error(
        "{type_name} version {written} was written by a newer release (this one reads up to {current})"
    )]
    Newer {
        /// The stored type.
        type_name: String,
        /// The version it was written at.
        written: u32,
        /// The newest version this release reads.
        current: u32,
    },
    /// Its JSON does not fit the type.
    #[error("{type_name} does not decode: {cause}")]
    Json {
        /// The stored type.
        type_name: String,
        /// What serde said.
        #[source]
        cause: serde_json::Error,
    },
}

/// Decodes a stored payload of `type_name`, written at schema version
/// `written`, into a `T` of schema version `current`.
pub(crate) fn decode_lenient<T: DeserializeOwned>(
    type_name: &str,
    current: u32,
    written: u32,
    payload: Value,
    upcast: Upcast,
) -> Result<T, SchemaError> {
    let payload = if written == current {
        payload
    } else if written < current {
        upcast(written, payload).map_err(|reason| SchemaError::Upcast {
            type_name: type_name.to_owned(),
            written,
            reason,
        })?
    } else {
        return Err(SchemaError::Newer {
            type_name: type_name.to_owned(),
            written,
            current,
        });
    };
    serde_json::from_value(payload).map_err(|cause| SchemaError::Json {
        type_name: type_name.to_owned(),
        cause,
    })
}

/// The `upcast` of a type that has had one shape only.
pub(crate) fn no_older_shape(from_version: u32, _: Value) -> Result<Value, String> {
    Err(format!("no reading of version {from_version} is known"))
}
