//! The WebSocket opening handshake (RFC 6455, section 4.2) over HTTP/1.1.
//!
//! axum's `WebSocketUpgrade` would do this, but it hands over a socket whose
//! writes all go through tungstenite's write buffer, which keeps the size of
//! the largest burst a socket ever sent for as long as it lives. Doing the
//! handshake here gives the socket task the raw connection to wrap in
//! [`Io`](super::io::Io), which frees its buffer after each write.

use app::api::{ApiError, ErrorCode};
use axum::body::Body;
use axum::http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Version, header,
};
use axum::response::{IntoResponse, Response};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Why a request is not a WebSocket opening handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAHandshake {
    #[error("a WebSocket opens with GET over HTTP/1.1")]
    NotGet,
    #[error("the Connection header does not ask for an upgrade")]
    NoConnectionUpgrade,
    #[error("the Upgrade header does not ask for a WebSocket")]
    NoUpgradeWebSocket,
    #[error("Sec-WebSocket-Key is missing")]
    NoKey,
    #[error("only WebSocket version 13 is spoken here")]
    WrongVersion,
}

impl NotAHandshake {
    /// The answer: 426 for a version this server does not speak (with the
    /// version it does), 400 for the rest.
    pub fn response(self) -> Response {
        let mut response =
            ApiError::new(ErrorCode::InvalidPayload, self.to_string()).into_response();
        if self == Self::WrongVersion {
            *response.status_mut() = StatusCode::UPGRADE_REQUIRED;
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        response
    }
}

/// Checks the handshake; the `Sec-WebSocket-Accept` value to answer with.
pub fn accept_key<B>(request: &Request<B>) -> Result<HeaderValue, NotAHandshake> {
    if request.method() != Method::GET || request.version() != Version::HTTP_11 {
        return Err(NotAHandshake::NotGet);
    }
    let headers = request.headers();
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(NotAHandshake::NoConnectionUpgrade);
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(NotAHandshake::NoUpgradeWebSocket);
    }
    if !has_token(headers, header::SEC_WEBSOCKET_VERSION, "13") {
        return Err(NotAHandshake::WrongVersion);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or(NotAHandshake::NoKey)?;
    HeaderValue::from_str(&derive_accept_key(key.as_bytes())).map_err(|_| NotAHandshake::NoKey)
}

/// `101 Switching Protocols`, with the accept key.
pub fn switching(accept: HeaderValue) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

/// Whether a comma-separated header names `token` (any case).
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(edit: impl FnOnce(&mut Request<()>)) -> Request<()> {
        let mut request = Request::get("/api/ws")
            .header(header::CONNECTION, "keep-alive, Upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .unwrap();
        edit(&mut request);
        request
    }

    #[test]
    fn the_rfc_example_key_is_accepted_with_its_known_answer() {
        let accept = accept_key(&request(|_| {})).unwrap();
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn each_missing_piece_is_named() {
        type Edit = fn(&mut Request<()>);
        let cases: [(Edit, NotAHandshake); 5] = [
            (|r| *r.method_mut() = Method::POST, NotAHandshake::NotGet),
            (
                |r| {
                    r.headers_mut().remove(header::CONNECTION);
                },
                NotAHandshake::NoConnectionUpgrade,
            ),
            (
                |r| {
                    r.headers_mut()
                        .insert(header::UPGRADE, HeaderValue::from_static("h2c"));
                },
                NotAHandshake::NoUpgradeWebSocket,
            ),
            (
                |r| {
                    r.headers_mut().remove(header::SEC_WEBSOCKET_KEY);
                },
                NotAHandshake::NoKey,
            ),
            (
                |r| {
                    r.headers_mut()
                        .insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("8"));
                },
                NotAHandshake::WrongVersion,
            ),
        ];
        for (edit, expected) in cases {
            assert_eq!(accept_key(&request(edit)), Err(expected));
        }
        let refused = NotAHandshake::WrongVersion.response();
        assert_eq!(refused.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(refused.headers()[header::SEC_WEBSOCKET_VERSION], "13");
    }
}
