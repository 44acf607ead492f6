//! Counting while the run goes, and the summary at its end.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::game::{Pattern, Played};
use crate::process::{self, Sample};
use crate::{Args, Failure};

/// Live counters, shared by every game.
pub struct Tally {
    games: AtomicU64,
    moves: AtomicU64,
    waiting: AtomicU64,
    arrivals: AtomicU64,
    /// When games may start (see [`Tally::pace_window`]), and the moves
    /// sent within that window.
    window: OnceLock<(Instant, Instant)>,
    moves_in_window: AtomicU64,
    /// Microseconds from a move sent to the opponent's `BoardUpdated`.
    latency: Mutex<Histogram<u64>>,
    failures: Mutex<BTreeMap<String, u64>>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            games: AtomicU64::new(0),
            moves: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
            arrivals: AtomicU64::new(0),
            window: OnceLock::new(),
            moves_in_window: AtomicU64::new(0),
            // Up to 100 s with 3 significant digits.
            latency: Mutex::new(
                Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid histogram bounds"),
            ),
            failures: Mutex::default(),
        }
    }
}

impl Tally {
    /// Games start from `start` until `stop`: the moves sent between the
    /// two, over that time, are the rate the pairs kept up while all of
    /// them played. (After `stop` the pairs finish the games under way
    /// and start no more, so the run's tail plays ever fewer: over the
    /// whole run, a rate paced at 10,000 moves/s read 9,560 at 1,000 games
    /// and 8,600 at 5,000, whose games last longer.)
    pub fn pace_window(&self, start: Instant, stop: Instant) {
        let _ = self.window.set((start, stop));
    }

    /// A game played to its end.
    pub fn played(&self, played: &Played) {
        if let Some((start, stop)) = self.window.get() {
            let within = played
                .sent
                .iter()
                .filter(|sent| (*start..*stop).contains(*sent));
            self.moves_in_window
                .fetch_add(within.count() as u64, Ordering::Relaxed);
        }
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        for took in &played.latencies {
            latency.saturating_record(took.as_micros().max(1) as u64);
        }
        drop(latency);
        self.moves
            .fetch_add(played.latencies.len() as u64, Ordering::Relaxed);
        self.games.fetch_add(1, Ordering::Relaxed);
    }

    /// A step that failed.
    pub fn failed(&self, failure: &Failure) {
        *self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(failure.kind())
            .or_default() += 1;
    }

    /// A player came and went (arrival runs).
    pub fn arrived(&self) {
        self.arrivals.fetch_add(1, Ordering::Relaxed);
    }

    /// Games set up and waiting for a first move (idle runs).
    pub fn waiting(&self, games: u64) {
        self.waiting.store(games, Ordering::Relaxed);
    }

    fn failure_count(&self) -> u64 {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }

    /// The summary of the run.
    pub fn summary(&self, context: Context<'_>) -> Summary {
        let latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let at = |quantile: f64| {
            (!latency.is_empty()).then(|| latency.value_at_quantile(quantile) as f64 / 1000.0)
        };
        let seconds = context.elapsed.as_secs_f64().max(f64::EPSILON);
        let games = self.games.load(Ordering::Relaxed);
        let moves = self.moves.load(Ordering::Relaxed);
        let waiting = self.waiting.load(Ordering::Relaxed);
        let server_cpu_percent = match (context.before, context.after) {
            (Some(before), Some(after)) => {
                Some(100.0 * (after.cpu_seconds - before.cpu_seconds) / seconds)
            }
            _ => None,
        };
        let rss_per_connection_bytes = match (context.empty_server, context.after) {
            (Some(empty), Some(after)) if waiting > 0 => {
                Some(after.rss_bytes.saturating_sub(empty.rss_bytes) / (2 * waiting))
            }
            _ => None,
        };
        let server_cpu_us_per_move = match (context.before, context.after) {
            (Some(before), Some(after)) if moves > 0 => {
                Some(1e6 * (after.cpu_seconds - before.cpu_seconds) / moves as f64)
            }
            _ => None,
        };
        let arrivals = self.arrivals.load(Ordering::Relaxed);
        let server_cpu_us_per_arrival = match (context.before, context.after) {
            (Some(before), Some(after)) if arrivals > 0 => {
                Some(1e6 * (after.cpu_seconds - before.cpu_seconds) / arrivals as f64)
            }
            _ => None,
        };
        let writes_per_move = match (context.before, context.after) {
            (Some(before), Some(after)) if moves > 0 => before.writes.zip(after.writes),
            _ => None,
        };
        let per_move = |count: fn(&process::Writes) -> u64| {
            writes_per_move.map(|(before, after)| {
                count(&after).saturating_sub(count(&before)) as f64 / moves as f64
            })
        };
        let server_written_bytes_per_move = per_move(|writes| writes.bytes);
        let server_write_calls_per_move = per_move(|writes| writes.calls);
        let loadgen_cpu_us_per_move = context
            .own_cpu_seconds
            .filter(|_| moves > 0)
            .map(|seconds| 1e6 * seconds / moves as f64);
        Summary {
            loadgen_cpu_us_per_move,
            arrivals,
            arrivals_per_sec: (arrivals > 0).then(|| arrivals as f64 / seconds),
            server_cpu_us_per_arrival,
            label: context.args.label.clone(),
            url: context.args.url.join(","),
            concurrent_games: context.args.games,
            pattern: context.args.pattern,
            setup_secs: context.setup.as_secs_f64(),
            secs: seconds,
            games,
            moves,
            games_per_sec: games as f64 / seconds,
            moves_per_sec: moves as f64 / seconds,
            window_moves_per_sec: self.window.get().map(|(start, stop)| {
                self.moves_in_window.load(Ordering::Relaxed) as f64
                    / stop.duration_since(*start).as_secs_f64().max(f64::EPSILON)
            }),
            latency_ms: Latency {
                p50: at(0.50),
                p95: at(0.95),
                p99: at(0.99),
                max: (!latency.is_empty()).then(|| latency.max() as f64 / 1000.0),
            },
            idle_games: waiting,
            errors: self.failure_count(),
            errors_by_kind: self
                .failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            time_limit_hit: context.time_limit_hit,
            server_pids: context.server_pids.clone(),
            server_cpu_percent,
            server_cpu_us_per_move,
            server_written_bytes_per_move,
            server_write_calls_per_move,
            nats_messages_per_move: context
                .nats_published
                .filter(|_| moves > 0)
                .map(|published| published as f64 / moves as f64),
            server_rss_bytes: context.after.map(|after| after.rss_bytes),
            server_peak_rss_bytes: context.after.map(|after| after.peak_rss_bytes),
            server_empty_rss_bytes: context.empty_server.map(|empty| empty.rss_bytes),
            rss_per_connection_bytes,
        }
    }
}

/// What the summary needs besides the counters.
pub struct Context<'a> {
    pub args: &'a Args,
    /// Time spent playing (or idling), after setting up.
    pub elapsed: Duration,
    /// Time spent signing up and connecting.
    pub setup: Duration,
    pub time_limit_hit: bool,
    /// The servers' processes (a cluster's nodes), summed in the figures.
    pub server_pids: Vec<u32>,
    /// Messages the servers published over NATS during the run (a cluster).
    pub nats_published: Option<u64>,
    /// The server before any player connected.
    pub empty_server: Option<Sample>,
    /// The server once every player was connected.
    pub before: Option<Sample>,
    /// The server at the end.
    pub after: Option<Sample>,
    /// The generator's own CPU time over the run, in seconds.
    pub own_cpu_seconds: Option<f64>,
}

/// Milliseconds from a move sent to the opponent's `BoardUpdated`.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

/// How the run went.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub label: String,
    pub url: String,
    pub concurrent_games: u64,
    pub pattern: Pattern,
    pub setup_secs: f64,
    pub secs: f64,
    pub games: u64,
    pub moves: u64,
    pub games_per_sec: f64,
    pub moves_per_sec: f64,
    /// Moves sent while every pair played, per second (see
    /// [`Tally::pace_window`]).
    pub window_moves_per_sec: Option<f64>,
    pub latency_ms: Latency,
    pub idle_games: u64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub time_limit_hit: bool,
    pub server_pids: Vec<u32>,
    pub server_cpu_percent: Option<f64>,
    /// Server CPU time per move, in microseconds (all nodes together).
    pub server_cpu_us_per_move: Option<f64>,
    /// Bytes the server wrote to files per move (see [`process::Writes`]).
    pub server_written_bytes_per_move: Option<f64>,
    /// Its `write`-like calls per move.
    pub server_write_calls_per_move: Option<f64>,
    /// The generator's own CPU time over the run per move, in µs (it must
    /// never be the limit).
    pub loadgen_cpu_us_per_move: Option<f64>,
    /// Players who came and went (`--arrivals`).
    pub arrivals: u64,
    pub arrivals_per_sec: Option<f64>,
    /// The server's CPU time per arrival, in µs.
    pub server_cpu_us_per_arrival: Option<f64>,
    /// NATS messages the nodes published per move (a cluster).
    pub nats_messages_per_move: Option<f64>,
    pub server_rss_bytes: Option<u64>,
    pub server_peak_rss_bytes: Option<u64>,
    pub server_empty_rss_bytes: Option<u64>,
    /// Server memory above the empty server's, per connected player (an
    /// idle game holds two: one WebSocket each).
    pub rss_per_connection_bytes: Option<u64>,
}

impl Summary {
    /// Whether the run went without an error and within its time limit.
    pub fn clean(&self) -> bool {
        self.errors == 0 && !self.time_limit_hit
    }
}

fn ms(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |ms| format!("{ms:.2} ms"))
}

fn mib(value: Option<u64>) -> String {
    value.map_or("-".to_owned(), |bytes| {
        format!("{:.1} MiB", bytes as f64 / 1048576.0)
    })
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "server      {}", self.url)?;
        writeln!(
            f,
            "games       {} concurrent, pattern {:?}; set up in {:.1} s",
            self.concurrent_games, self.pattern, self.setup_secs
        )?;
        if self.idle_games > 0 {
            writeln!(
                f,
                "idle        {} games waiting for a first move for {:.1} s",
                self.idle_games, self.secs
            )?;
        } else {
            writeln!(
                f,
                "played      {} games, {} moves in {:.1} s: {:.1} games/s, {:.0} moves/s",
                self.games, self.moves, self.secs, self.games_per_sec, self.moves_per_sec
            )?;
            if let Some(rate) = self.window_moves_per_sec {
                writeln!(
                    f,
                    "while all played: {rate:.0} moves/s (before the pairs stopped starting games)"
                )?;
            }
            let latency = &self.latency_ms;
            writeln!(
                f,
                "move -> opponent's BoardUpdated: p50 {}, p95 {}, p99 {}, max {}",
                ms(latency.p50),
                ms(latency.p95),
                ms(latency.p99),
                ms(latency.max)
            )?;
        }
        writeln!(f, "errors      {} {:?}", self.errors, self.errors_by_kind)?;
        if let (Some(rate), Some(us)) = (self.arrivals_per_sec, self.server_cpu_us_per_arrival) {
            writeln!(
                f,
                "arrivals    {} ({rate:.0}/s), {us:.0} µs of server CPU each",
                self.arrivals
            )?;
        }
        if let Some(us) = self.loadgen_cpu_us_per_move {
            writeln!(f, "generator   {us:.0} µs of its own CPU per move")?;
        }
        match self.server_pids.as_slice() {
            [] => writeln!(
                f,
                "server      not on this machine (or not visible): no CPU or RSS"
            )?,
            pids => writeln!(
                f,
                "server      pid {pids:?}: CPU {}{}, RSS {} (peak {}, empty {}){}",
                self.server_cpu_percent
                    .map_or("-".to_owned(), |cpu| format!("{cpu:.0}%")),
                self.server_cpu_us_per_move
                    .map_or(String::new(), |us| format!(" ({us:.0} µs per move)")),
                mib(self.server_rss_bytes),
                mib(self.server_peak_rss_bytes),
                mib(self.server_empty_rss_bytes),
                self.rss_per_connection_bytes
                    .map_or(String::new(), |bytes| format!(", {bytes} B per connection")),
            )?,
        }
        if let (Some(bytes), Some(calls)) = (
            self.server_written_bytes_per_move,
            self.server_write_calls_per_move,
        ) {
            writeln!(
                f,
                "server      wrote {:.1} KB to files per move, in {calls:.1} write calls",
                bytes / 1000.0
            )?;
        }
        if let Some(messages) = self.nats_messages_per_move {
            writeln!(
                f,
                "cluster     {messages:.1} NATS messages published per move"
            )?;
        }
        if self.time_limit_hit {
            writeln!(f, "TIME LIMIT HIT: the run was cut short")?;
        }
        Ok(())
    }
}

/// One line a second on stderr: games, moves per second, errors.
pub async fn progress(tally: std::sync::Arc<Tally>) {
    let started = Instant::now();
    let mut last_moves = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let moves = tally.moves.load(Ordering::Relaxed);
        eprintln!(
            "[{:>5.1} s] games {:>7}  moves/s {:>7}  errors {}",
            started.elapsed().as_secs_f64(),
            tally.games.load(Ordering::Relaxed),
            moves - last_moves,
            tally.failure_count()
        );
        last_moves = moves;
    }
}
