//! API calls come from this site only.
//!
//! `SameSite=Lax` keeps the session cookie off requests from other sites,
//! but not from a sibling port or subdomain of the same site, and a plain
//! HTML form (or `fetch` in `no-cors` mode) can post `text/plain` anywhere
//! without a CORS preflight. So an API call must be `application/json`
//! (which a cross-origin page cannot send without a preflight this server
//! never grants), and a request that names its `Origin` must name this
//! site's own, as the event WebSocket already requires.

use app::api::{ApiError, ErrorCode};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_calls::is_api_call;

/// Which origin is this site's: the public URL's, when the server runs
/// behind a proxy (`--public-url`), else that of the host each request
/// was sent to.
#[derive(Debug, Clone, Default)]
pub struct Site {
    public_origin: Option<Arc<str>>,
}

impl Site {
    /// The site at `public_origin` (as `Origin` writes it), or at whatever
    /// host a request names.
    pub fn new(public_origin: Option<&str>) -> Self {
        Self {
            public_origin: public_origin.map(Arc::from),
        }
    }

    /// Whether the request's `Origin`, if it sends one, is this site.
    pub fn same_origin(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        if let Some(public) = &self.public_origin {
            return origin.trim_end_matches('/').eq_ignore_ascii_case(public);
        }
        let host = headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok());
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        matches!((origin_host, host), (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host))
    }
}

/// Whether the body is declared JSON (`application/json`, parameters such
/// as `charset` allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// The middleware: 403 for another origin, 415 for a body not JSON.
pub async fn from_this_site(State(site): State<Site>, request: Request, next: Next) -> Response {
    if !is_api_call(&request) {
        return next.run(request).await;
    }
    if !site.same_origin(request.headers()) {
        return ApiError::new(ErrorCode::Forbidden, "cross-origin API calls are refused")
            .into_response();
    }
    if !is_json(request.headers()) {
        return ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "API calls send JSON (Content-Type: application/json)",
        )
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin_and_host(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn only_the_sites_own_origin_or_none() {
        assert!(Site::default().same_origin(&origin_and_host(
            Some("http://127.0.0.1:3000"),
            "127.0.0.1:3000"
        )));
        assert!(Site::default().same_origin(&origin_and_host(
            Some("https://Play.Example"),
            "play.example"
        )));
        assert!(Site::default().same_origin(&origin_and_host(None, "127.0.0.1:3000")));
        assert!(!Site::default().same_origin(&origin_and_host(
            Some("http://evil.example"),
            "127.0.0.1:3000"
        )));
        assert!(!Site::default().same_origin(&origin_and_host(Some("null"), "127.0.0.1:3000")));
    }

    #[test]
    fn behind_a_proxy_only_the_public_origin_is_the_site() {
        let site = Site::new(Some("https://play.example"));
        assert!(site.same_origin(&origin_and_host(
            Some("https://play.example"),
            "10.0.0.5:3000"
        )));
        assert!(site.same_origin(&origin_and_host(
            Some("https://PLAY.example/"),
            "10.0.0.5:3000"
        )));
        assert!(!site.same_origin(&origin_and_host(
            Some("http://10.0.0.5:3000"),
            "10.0.0.5:3000"
        )));
        assert!(!site.same_origin(&origin_and_host(
            Some("http://play.example"),
            "play.example"
        )));
    }

    #[test]
    fn another_port_of_the_same_host_is_another_origin() {
        assert!(!Site::default().same_origin(&origin_and_host(
            Some("http://127.0.0.1:3001"),
            "127.0.0.1:3000"
        )));
    }

    #[test]
    fn json_with_parameters_is_json_and_text_is_not() {
        let typed = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_json(&headers)
        };
        assert!(typed("application/json; charset=utf-8"));
        assert!(typed("Application/JSON"));
        assert!(!typed("text/plain"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
