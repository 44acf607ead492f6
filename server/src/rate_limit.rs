//! The rate limit in front of the API: a bucket per signed-in user, per
//! client address for everything else (no cookie, or a cookie no session
//! has: made-up cookies must not each get a bucket of their own). A request
//! past it is refused with 429 before it reaches an endpoint.
//!
//! The buckets are `governor`'s (GCRA, one state per caller); callers are
//! keyed by value, so a request allocates nothing to be counted.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use app::api::sessions::{Sessions, session_token};
use app::api::{ApiError, ErrorCode};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::UserId;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

use crate::api_calls::is_api_call;

/// Buckets kept before the full ones are swept.
const SWEEP_AT: usize = 10_000;

/// How often (in calls) the limiter looks whether to sweep.
const SWEEP_CHECK_EVERY: u64 = 1_024;

/// Whose bucket a call takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    /// A user with a session this server knows.
    User(UserId),
    /// Anyone else, by client address.
    Address(IpAddr),
}

/// Buckets of `rate` calls a second on average, `burst` at once.
pub struct RateLimiter<C: Clock = DefaultClock> {
    buckets: Governor<Caller, DefaultKeyedStateStore<Caller>, C, NoOpMiddleware<C::Instant>>,
    calls: AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("buckets", &self.buckets.len())
            .finish()
    }
}

impl RateLimiter {
    /// A limiter allowing `rate` a second on average, `burst` at once.
    pub fn new(rate: f64, burst: u32) -> Self {
        Self::with_clock(rate, burst, DefaultClock::default())
    }
}

impl<C: Clock> RateLimiter<C> {
    /// The limiter on `clock` (a fake one in tests).
    pub fn with_clock(rate: f64, burst: u32, clock: C) -> Self {
        Self {
            buckets: Governor::dashmap_with_clock(quota(rate, burst), clock),
            calls: AtomicU64::new(0),
        }
    }

    /// Takes a token from `caller`'s bucket, if it has one.
    pub fn allow(&self, caller: Caller) -> bool {
        if self
            .calls
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_CHECK_EVERY)
            && self.buckets.len() >= SWEEP_AT
        {
            self.buckets.retain_recent();
            self.buckets.shrink_to_fit();
        }
        self.buckets.check_key(&caller).is_ok()
    }
}

/// The quota for `rate` a second and bursts of `burst`; a rate that is not
/// a positive number refills about once a year.
fn quota(rate: f64, burst: u32) -> Quota {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    let period = if rate > 0.0 {
        Duration::try_from_secs_f64(rate.recip()).unwrap_or(YEAR)
    } else {
        YEAR
    };
    let quota = Quota::with_period(period.clamp(Duration::from_nanos(1), YEAR))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX));
    quota.allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
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
    let user = match session_token(request.headers()) {
        Some(token) => sessions.resolve(&token).await,
        None => None,
    };
    let caller = match user {
        Some(user) => Caller::User(user),
        None => Caller::Address(crate::client_address::client_address(&request)),
    };
    if !limiter.allow(caller) {
        return ApiError::new(ErrorCode::TooManyRequests, "too many requests: slow down")
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(2.0, 3, clock.clone());
        let me = Caller::Address(IpAddr::from([127, 0, 0, 1]));
        let someone_else = Caller::User(UserId::from(uuid::Uuid::from_u128(1)));
        assert!((0..3).all(|_| limiter.allow(me)));
        assert!(!limiter.allow(me));
        assert!(limiter.allow(someone_else));
        clock.advance(Duration::from_millis(500));
        assert!(limiter.allow(me), "half a second refills one at 2/s");
        clock.advance(Duration::from_millis(100));
        assert!(!limiter.allow(me));
        clock.advance(Duration::from_secs(10));
        assert!((0..3).all(|_| limiter.allow(me)), "a full bucket again");
        assert!(!limiter.allow(me), "but no more than the burst");
    }

    #[test]
    fn a_rate_of_nothing_still_allows_the_burst() {
        let limiter = RateLimiter::with_clock(0.0, 2, FakeRelativeClock::default());
        let me = Caller::Address(IpAddr::from([127, 0, 0, 1]));
        assert!(limiter.allow(me) && limiter.allow(me));
        assert!(!limiter.allow(me));
    }
}
