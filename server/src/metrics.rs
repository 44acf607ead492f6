//! What `/metrics` serves, in Prometheus text: effects dispatched per
//! type, handler and commit latencies, timers fired, sockets and
//! connections open. Recorded with the `metrics` crate and rendered by its
//! Prometheus exporter (installed once per process: tests that start
//! several servers in one process share it).

use foldhash::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use bus::{Commit, Envelope, HandlerReport, HandlerRun, Hook, Store, StoreFuture};
use metrics::{Counter, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: 50 µs to 5 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

/// The process's recorder, installed on first use.
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::warn!(%error, "no metrics: the recorder could not be installed");
                    None
                }
            }
        })
        .as_ref()
}

/// How often recorded latencies are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds recorded latencies into their buckets every few seconds until
/// `shutdown`: the exporter keeps each sample until then, so without it
/// memory would grow with every handler run between two scrapes.
pub async fn upkeep(shutdown: tokio_util::sync::CancellationToken) {
    let Some(handle) = handle() else { return };
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => handle.run_upkeep(),
        }
    }
}

/// The metrics text, with the gauges read now.
pub fn render(sockets_open: u64, connections_open: usize) -> String {
    gauge!("server_sockets_open").set(sockets_open as f64);
    gauge!("server_connections_open").set(connections_open as f64);
    handle().map(PrometheusHandle::render).unwrap_or_default()
}

/// Handles to metrics of one name, one per label value: a label's lookup
/// in the recorder hashes the whole key, so each is made once and kept.
struct ByLabel<M> {
    made: RwLock<HashMap<&'static str, M>>,
    make: fn(&'static str) -> M,
}

impl<M: Clone> ByLabel<M> {
    fn new(make: fn(&'static str) -> M) -> Self {
        Self {
            made: RwLock::default(),
            make,
        }
    }

    fn get(&self, label: &'static str) -> M {
        if let Some(metric) = self
            .made
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(label)
        {
            return metric.clone();
        }
        let metric = (self.make)(label);
        self.made
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(label)
            .or_insert(metric)
            .clone()
    }
}

/// The bus's hook into the metrics.
pub struct MetricsHook {
    dispatched: ByLabel<Counter>,
    handled: ByLabel<Histogram>,
    failed: ByLabel<Counter>,
    fired: ByLabel<Counter>,
}

impl Default for MetricsHook {
    fn default() -> Self {
        handle();
        Self {
            dispatched: ByLabel::new(
                |effect| counter!("bus_effects_dispatched_total", "effect" => effect),
            ),
            handled: ByLabel::new(
                |handler| histogram!("bus_handler_duration_seconds", "handler" => handler),
            ),
            failed: ByLabel::new(
                |handler| counter!("bus_handler_failures_total", "handler" => handler),
            ),
            fired: ByLabel::new(|effect| counter!("bus_timers_fired_total", "effect" => effect)),
        }
    }
}

impl Hook for MetricsHook {
    fn dispatched(&self, effect: &Envelope) {
        self.dispatched.get(effect.type_name()).increment(1);
    }

    fn after_handler(&self, run: &HandlerRun<'_>, report: &HandlerReport<'_>) {
        self.handled
            .get(run.handler)
            .record(report.elapsed.as_secs_f64());
        if report.failure.is_some() {
            self.failed.get(run.handler).increment(1);
        }
    }

    fn timer_fired(&self, event: &Envelope) {
        self.fired.get(event.type_name()).increment(1);
    }
}

/// A store whose commits are timed (`store_commit_duration_seconds`, and
/// `store_commit_failures_total`).
pub struct TimedCommits {
    inner: Arc<dyn Store>,
    latency: Histogram,
    failures: Counter,
}

impl TimedCommits {
    /// Times `inner`'s commits.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        handle();
        Self {
            inner,
            latency: histogram!("store_commit_duration_seconds"),
            failures: counter!("store_commit_failures_total"),
        }
    }
}

impl Store for TimedCommits {
    crate::storage::delegate_all_but_commit!(inner);

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let started = Instant::now();
            let committed = self.inner.commit(commit).await;
            self.latency.record(started.elapsed().as_secs_f64());
            if committed.is_err() {
                self.failures.increment(1);
            }
            committed
        })
    }
}
