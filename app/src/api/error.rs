//! The API's one error type: a code, a status, words.

use std::fmt;

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

domain::json_unit_enum! {
    /// What went wrong, as a stable code.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum ErrorCode {
        /// The body is not JSON of the expected shape.
        MalformedJson,
        /// No effect of that type is accepted here.
        UnknownType,
        /// The payload misses a field, has one of the wrong type, or a bad value.
        InvalidPayload,
        /// The call needs a session (create a user first).
        NoSession,
        /// The payload acts for someone else, or the token is wrong.
        Forbidden,
        /// No such thing (a game cleaned up, say), or the endpoint is off.
        NotFound,
        /// The thing exists already (a user id taken).
        Conflict,
        /// The body did not arrive in time.
        RequestTimeout,
        /// The body is larger than the limit.
        PayloadTooLarge,
        /// The body is not `application/json`.
        UnsupportedMediaType,
        /// Too many requests from this session; slow down.
        TooManyRequests,
        /// The server is shutting down or overloaded.
        Unavailable,
        /// A fault on the server's side.
        Internal,
    }
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub const fn status(self) -> u16 {
        match self {
            Self::MalformedJson | Self::UnknownType | Self::InvalidPayload => 400,
            Self::NoSession => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::RequestTimeout => 408,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::TooManyRequests => 429,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }
}

/// `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The error.
    pub error: ErrorBody,
}

/// The inside of an [`ApiError`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub code: ErrorCode,
    /// In words, for people.
    pub message: String,
}

domain::json_struct!(ApiError { error });
domain::json_struct!(ErrorBody { code, message });

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorBody {
                code,
                message: message.into(),
            },
        }
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.error.code
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.error.code.status()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error.message)
    }
}

impl std::error::Error for ApiError {}

/// The error as an HTTP response: its code's status, its JSON body.
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self).unwrap_or_default();
        (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

/// A server function's result with its error's status on the response:
/// server functions answer every error with 500 unless told otherwise.
#[cfg(feature = "ssr")]
pub(crate) fn with_status<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
    if let Err(error) = &result {
        set_response_status(error);
    }
    result
}

/// Puts `error`'s status on the response of the request being answered.
#[cfg(feature = "ssr")]
fn set_response_status(error: &ApiError) {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        let error = Self::from_framework(error);
        // On the server this is the endpoint's answer (the body did not
        // decode, say): it carries its status like any other error.
        #[cfg(feature = "ssr")]
        set_response_status(&error);
        error
    }
}

impl ApiError {
    /// The framework's own errors, in the API's codes.
    fn from_framework(error: ServerFnErrorErr) -> Self {
        match error {
            // The body did not decode into the server function's arguments.
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::Deserialization(message) => {
                Self::new(
                    ErrorCode::MalformedJson,
                    format!("the body is not the JSON this endpoint takes: {message}"),
                )
            }
            ServerFnErrorErr::Request(message) => Self::new(ErrorCode::MalformedJson, message),
            ServerFnErrorErr::Registration(message) | ServerFnErrorErr::MissingArg(message) => {
                Self::new(ErrorCode::NotFound, message)
            }
            other => Self::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_error_code_message() {
        let error = ApiError::new(ErrorCode::NoSession, "create a user first");
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            serde_json::json!({ "error": { "code": "NO_SESSION", "message": "create a user first" } })
        );
        assert_eq!(error.status(), 401);
    }

    #[test]
    fn reads_back_by_hand_as_it_is_written() {
        use domain::json_read::ReadJson;
        for code in [
            ErrorCode::MalformedJson,
            ErrorCode::NoSession,
            ErrorCode::TooManyRequests,
            ErrorCode::Internal,
        ] {
            let error = ApiError::new(code, "words");
            let json = serde_json::to_value(&error).unwrap();
            assert_eq!(ApiError::read_json(&json), Ok(error));
        }
        for wrong in [
            serde_json::json!({ "code": "NO_SESSION", "message": "" }),
            serde_json::json!({ "error": { "code": "no_session", "message": "" } }),
            serde_json::json!({ "error": { "code": "NO_SESSION" } }),
        ] {
            assert!(ApiError::read_json(&wrong).is_err(), "{wrong}");
        }
    }
}
