//! Hooks: code the bus calls around every dispatch and every handler run.
//!
//! The bus itself wraps each handler run in a `tracing` span named
//! `bus.handle` (fields `effect`, `handler`, `key`), so whatever a hook or a
//! handler logs is attributed. Three hooks come with the crate:
//! [`TracingHook`] (logs), [`MetricsHook`] (counts and latencies) and
//! [`CaptureHook`] (records every effect, for tests).

use foldhash::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Duration;

use crate::effect::Envelope;
use crate::state::StateKey;

/// One handler run, as hooks see it.
#[derive(Debug)]
pub struct HandlerRun<'a> {
    /// The handler's name.
    pub handler: &'static str,
    /// The effect it handles.
    pub effect: &'a Envelope,
    /// Its state's key, if it has one.
    pub key: Option<&'a StateKey>,
}

/// How a handler run ended.
#[derive(Debug)]
pub struct HandlerReport<'a> {
    /// Time spent in the handler function itself.
    pub elapsed: Duration,
    /// Why it failed (an error or a panic), if it did.
    pub failure: Option<&'a str>,
}

/// Called by the bus; every method has a default that does nothing.
///
/// Hooks run on the bus's own tasks: keep them quick and never block.
pub trait Hook: Send + Sync + 'static {
    /// An effect is being dispatched (commands, events, and framework
    /// commands as they are applied), in dispatch order.
    fn dispatched(&self, _effect: &Envelope) {}
    /// A handler is about to run.
    fn before_handler(&self, _run: &HandlerRun<'_>) {}
    /// A handler ran.
    fn after_handler(&self, _run: &HandlerRun<'_>, _report: &HandlerReport<'_>) {}
    /// A schedule came due and its event is about to be dispatched.
    fn timer_fired(&self, _event: &Envelope) {}
}

/// Logs every dispatch and handler run at `TRACE`/`DEBUG`, failures at `WARN`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingHook;

impl Hook for TracingHook {
    fn dispatched(&self, effect: &Envelope) {
        tracing::trace!(effect = effect.type_name(), "dispatched");
    }

    fn after_handler(&self, run: &HandlerRun<'_>, report: &HandlerReport<'_>) {
        match report.failure {
            None => tracing::debug!(elapsed_us = report.elapsed.as_micros() as u64, "handled"),
            Some(reason) => tracing::warn!(
                handler = run.handler,
                effect = run.effect.type_name(),
                reason,
                "handler failed"
            ),
        }
    }
}

/// Latency buckets: the upper bound of bucket `i` is `2^i` microseconds; the
/// last bucket takes everything slower.
const BUCKETS: usize = 24;

/// A latency histogram with power-of-two buckets (microseconds).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    total_us: AtomicU64,
}

impl Histogram {
    /// Records one latency.
    pub fn record(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = (u64::BITS - micros.saturating_sub(1).leading_zeros()) as usize;
        self.buckets[bucket.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The smallest bucket bound (µs) under which at least `quantile` of the
    /// recorded latencies fall.
    pub fn quantile_upper_bound_us(&self, quantile: f64) -> Option<u64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let wanted = ((count as f64) * quantile.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, hits) in self.buckets.iter().enumerate() {
            seen += hits.load(Ordering::Relaxed);
            if seen >= wanted {
                return Some(1 << bucket);
            }
        }
        Some(1 << (BUCKETS - 1))
    }

    /// The mean latency in microseconds.
    pub fn mean_us(&self) -> Option<f64> {
        let count = self.count();
        (count > 0).then(|| self.total_us.load(Ordering::Relaxed) as f64 / count as f64)
    }
}

/// Counts effects dispatched per type and times handlers.
#[derive(Debug, Default)]
pub struct MetricsHook {
    effects: RwLock<HashMap<&'static str, AtomicU64>>,
    handlers: RwLock<HashMap<&'static str, Histogram>>,
    failures: AtomicU64,
}

impl MetricsHook {
    /// A hook with nothing counted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Effects of this type dispatched so far.
    pub fn dispatched_count(&self, effect_type: &str) -> u64 {
        self.effects
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(effect_type)
            .map_or(0, |count| count.load(Ordering::Relaxed))
    }

    /// Every effect type seen, with its count, sorted by type.
    pub fn dispatched_counts(&self) -> Vec<(&'static str, u64)> {
        let effects = self.effects.read().unwrap_or_else(PoisonError::into_inner);
        let mut counts: Vec<_> = effects
            .iter()
            .map(|(name, count)| (*name, count.load(Ordering::Relaxed)))
            .collect();
        counts.sort_unstable();
        counts
    }

    /// Runs `read` on the latency histogram of a handler, if it ran.
    pub fn with_latency<T>(&self, handler: &str, read: impl FnOnce(&Histogram) -> T) -> Option<T> {
        self.handlers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(handler)
            .map(read)
    }

    /// Handler runs that failed.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// Finds `name` under a read lock, inserting it under the write lock only
/// the first time: the common case never contends.
fn with_entry<V: Default>(
    map: &RwLock<HashMap<&'static str, V>>,
    name: &'static str,
    use_entry: impl FnOnce(&V),
) {
    {
        let read = map.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = read.get(name) {
            use_entry(value);
            return;
        }
    }
    let mut write = map.write().unwrap_or_else(PoisonError::into_inner);
    use_entry(write.entry(name).or_default());
}

impl Hook for MetricsHook {
    fn dispatched(&self, effect: &Envelope) {
        with_entry(&self.effects, effect.type_name(), |count| {
            count.fetch_add(1, Ordering::Relaxed);
        });
    }

    fn after_handler(&self, run: &HandlerRun<'_>, report: &HandlerReport<'_>) {
        with_entry(&self.handlers, run.handler, |histogram| {
            histogram.record(report.elapsed)
        });
        if report.failure.is_some() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Records every dispatched effect, in order.
#[derive(Debug, Default)]
pub struct CaptureHook {
    effects: Mutex<Vec<Envelope>>,
}

impl CaptureHook {
    /// An empty recording.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything recorded so far.
    pub fn effects(&self) -> Vec<Envelope> {
        self.effects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many effects were recorded.
    pub fn len(&self) -> usize {
        self.effects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.effects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Hook for CaptureHook {
    fn dispatched(&self, effect: &Envelope) {
        self.effects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(effect.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_by_powers_of_two() {
        let histogram = Histogram::default();
        for micros in [1, 2, 3, 900, 1_000_000] {
            histogram.record(Duration::from_micros(micros));
        }
        assert_eq!(histogram.count(), 5);
        assert_eq!(histogram.quantile_upper_bound_us(0.2), Some(1));
        assert_eq!(histogram.quantile_upper_bound_us(0.6), Some(4));
        assert_eq!(histogram.quantile_upper_bound_us(0.8), Some(1024));
        assert_eq!(histogram.quantile_upper_bound_us(1.0), Some(1 << 20));
    }
}
