//! The gate in front of the API endpoints: a rate limit per session, a body
//! size limit, and the HTTP status of each API error.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use app::api::ssr::session_token;
use app::api::{ApiError, ErrorCode};
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The server functions' error marker header (`server_fn`'s own).
const SERVER_FN_ERROR: &str = "serverfnerror";
/// Error bodies are small; anything larger is not ours.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Buckets kept before idle ones are swept.
const SWEEP_AT: usize = 10_000;

/// Token buckets: `rate` requests a second, bursts of `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// A limiter allowing `rate` a second on average, `burst` at once.
    pub fn new(rate: f64, burst: u32) -> Self {
        Self {
            rate: rate.max(0.0),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Takes a token from `key`'s bucket, if it has one.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= SWEEP_AT {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, bucket| bucket.refilled(rate, burst, now) < burst);
        }
        // Looked up first: the key is copied only for a new bucket, not
        // per request.
        if let Some(bucket) = buckets.get_mut(key) {
            return bucket.take(self.rate, self.burst, now);
        }
        let mut bucket = Bucket {
            tokens: self.burst,
            at: now,
        };
        let allowed = bucket.take(self.rate, self.burst, now);
        buckets.insert(key.to_owned(), bucket);
        allowed
    }
}

impl Bucket {
    /// Refills for the time since the last request, then takes a token if
    /// there is one.
    fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        let tokens = self.refilled(rate, burst, now);
        *self = Bucket {
            tokens: if tokens >= 1.0 { tokens - 1.0 } else { tokens },
            at: now,
        };
        tokens >= 1.0
    }

    fn refilled(&self, rate: f64, burst: f64, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * rate).min(burst)
    }
}

pub(crate) fn refuse(error: ApiError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&error).unwrap_or_default(),
    )
        .into_response()
}

fn is_api_call(request: &Request) -> bool {
    request.method() == Method::POST && request.uri().path().starts_with("/api/")
}

/// The middleware.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !is_api_call(&request) {
        return next.run(request).await;
    }
    let key = session_token(request.headers())
        .or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip().to_string())
        })
        .unwrap_or_default();
    if !state.limiter.allow(&key, Instant::now()) {
        return refuse(ApiError::new(
            ErrorCode::TooManyRequests,
            "too many requests: slow down",
        ));
    }

    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, state.max_body_bytes).await else {
        return refuse(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {} bytes", state.max_body_bytes),
        ));
    };
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;

    // Server functions answer every error with 500; the code says better.
    if !response.headers().contains_key(SERVER_FN_ERROR) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let body = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<ApiError>(&body)
        && let Ok(status) = StatusCode::from_u16(error.status())
    {
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.allow("me", start)));
        assert!(!limiter.allow("me", start));
        assert!(limiter.allow("someone else", start));
        assert!(limiter.allow("me", start + Duration::from_millis(500)));
        assert!(!limiter.allow("me", start + Duration::from_millis(600)));
        assert!(limiter.allow("me", start + Duration::from_secs(10)));
    }
}
