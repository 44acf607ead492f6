//! The rate limit in front of the API: a token bucket per session that
//! exists, per client address for everything else (no cookie, or a cookie
//! no session has: made-up cookies must not each get a bucket of their
//! own). A request past it is refused with 429 before it reaches an
//! endpoint.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use app::api::sessions::{Sessions, session_token};
use app::api::{ApiError, ErrorCode};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_calls::is_api_call;

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

/// The middleware's state: the buckets, and the sessions that earn one.
#[derive(Clone)]
pub struct RateLimit {
    /// The buckets.
    pub limiter: Arc<RateLimiter>,
    /// Who is signed in.
    pub sessions: Sessions,
}

/// The middleware: one token per API call, from the caller's bucket.
pub async fn limit_rate(
    State(RateLimit { limiter, sessions }): State<RateLimit>,
    request: Request,
    next: Next,
) -> Response {
    if !is_api_call(&request) {
        return next.run(request).await;
    }
    let key = match session_token(request.headers()) {
        Some(token) if sessions.user(&token).is_some() => format!("session {token}"),
        _ => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip().to_string())
                .unwrap_or_default();
            format!("address {peer}")
        }
    };
    if !limiter.allow(&key, Instant::now()) {
        return ApiError::new(ErrorCode::TooManyRequests, "too many requests: slow down")
            .into_response();
    }
    next.run(request).await
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
