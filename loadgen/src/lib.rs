//! A load generator that plays real games over the public protocol, as
//! browsers do: per game two players, each with its own session cookie and
//! WebSocket; create users, invite, accept, join, then alternate moves, each
//! player moving only after it receives its `WaitingForPlayerPlay`.
#![forbid(unsafe_code)]

mod arrivals;
pub mod game;
pub mod player;
pub mod process;
pub mod summary;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;

pub use game::Pattern;
pub use summary::Summary;

use crate::player::{Kind, Player};
use crate::summary::Tally;

/// Plays tic-tac-toe against a server and reports how it held up.
#[derive(Debug, Clone, Parser)]
#[command(version, about, long_about = None)]
pub struct Args {
    /// The server to play against (the only addresses this talks to); for
    /// a cluster, its nodes, comma-separated: players are spread over them,
    /// the two of a game on different nodes.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:3000")]
    pub url: Vec<String>,

    /// Games played at the same time (two players and two sockets each).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub games: u64,

    /// Stop after this many games in all (default: run for --duration-secs).
    #[arg(long)]
    pub total: Option<u64>,

    /// Stop starting games after this long.
    #[arg(long, default_value_t = 10.0)]
    pub duration_secs: f64,

    /// Pace the moves to about this many per second in all, spread evenly
    /// over the games (default: every game moves as soon as it may, so the
    /// latency measured is mostly queueing once the server is saturated).
    #[arg(long)]
    pub moves_per_sec: Option<f64>,

    /// How the games go.
    #[arg(long, value_enum, default_value_t = Pattern::Mixed)]
    pub pattern: Pattern,

    /// Stop everything after this long, finished or not (a failed run).
    #[arg(long, default_value_t = 300.0)]
    pub time_limit_secs: f64,

    /// How long to wait for any one event before counting a timeout.
    #[arg(long, default_value_t = 10.0)]
    pub patience_secs: f64,

    /// Instead of playing: set the games up, wait for the first move that
    /// never comes, hold the sockets this long and report the memory they
    /// cost the server.
    #[arg(long)]
    pub idle_secs: Option<f64>,

    /// With --idle-secs: only sign up and connect, set no game up (to
    /// tell what a connection costs from what its game costs).
    #[arg(long)]
    pub no_games: bool,

    /// Instead of playing: this many players arrive (sign up, open their
    /// socket, receive the lobby's lists on it) and leave,
    /// `--connect-concurrency` at a time; reports arrivals per second and
    /// the server's CPU per arrival.
    #[arg(long)]
    pub arrivals: Option<u64>,

    /// How players send their commands after signing up: over HTTP
    /// (`POST /api/commands`), or as `Command` frames on their open socket.
    #[arg(long, value_enum, default_value_t = CommandsOver::Http)]
    pub commands_over: CommandsOver,

    /// Sign-ups and socket openings at once while setting up.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,

    /// The server's process ids, comma-separated, for their CPU and memory
    /// (default: whoever listens on each URL's port on this machine).
    #[arg(long, value_delimiter = ',')]
    pub server_pid: Vec<u32>,

    /// A name for this run, repeated in the summary (the store, say).
    #[arg(long, default_value = "")]
    pub label: String,

    /// Print the summary as one line of JSON.
    #[arg(long)]
    pub json: bool,

    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// The way a player's commands go to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CommandsOver {
    /// `POST /api/commands`, one request each.
    Http,
    /// `Command` frames on the player's event socket.
    Socket,
}

/// Why one step failed, counted by kind in the summary.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    #[error("http: {0}")]
    Http(String),
    #[error("status {0}")]
    Status(u16),
    #[error("no session cookie")]
    NoSession,
    #[error("socket: {0}")]
    Socket(String),
    #[error("socket closed")]
    Disconnected,
    #[error("timeout waiting for {0:?}")]
    Timeout(Kind),
    #[error("rule error {0}")]
    Rule(String),
    #[error("refused {0}")]
    Refused(String),
    #[error("{0}")]
    Unexpected(&'static str),
}

impl Failure {
    /// The failure's kind, for counting (without the details that vary).
    pub fn kind(&self) -> String {
        match self {
            Self::Http(_) => "http".into(),
            Self::Socket(_) => "socket".into(),
            other => other.to_string(),
        }
    }
}

/// Plays (or idles) as `args` says and sums it up.
pub async fn run(args: &Args) -> Summary {
    let started = Instant::now();
    let bases: Vec<String> = args
        .url
        .iter()
        .map(|url| url.trim_end_matches('/').to_owned())
        .collect();
    let mut server_pids = args.server_pid.clone();
    if server_pids.is_empty() {
        server_pids = bases
            .iter()
            .filter_map(|base| port_of(base).and_then(process::listening_on))
            .collect();
        server_pids.dedup();
    }
    let empty_server = process::sample_all(&server_pids);
    let tally = Arc::new(Tally::default());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .build()
        .unwrap_or_default();

    let pairs = match args.arrivals {
        Some(_) => Vec::new(),
        None => connect_pairs(args, &http, &bases, &tally).await,
    };
    let connected = Instant::now();
    let before = process::sample_all(&server_pids);
    let own_before = process::sample(std::process::id());
    let published_before = process::nats_published(&http, &bases).await;
    let progress = (!args.quiet).then(|| tokio::spawn(summary::progress(tally.clone())));
    let limit = Duration::from_secs_f64(args.time_limit_secs).saturating_sub(started.elapsed());
    let finished = match (args.arrivals, args.idle_secs) {
        (Some(count), _) => {
            let arriving = arrivals::run(args, &http, &bases, count, &tally);
            tokio::time::timeout(limit, arriving).await
        }
        (None, Some(hold)) => tokio::time::timeout(limit, idle(args, pairs, hold, &tally)).await,
        (None, None) => tokio::time::timeout(limit, play(args, pairs, &tally)).await,
    };
    if let Some(progress) = progress {
        progress.abort();
    }
    let elapsed = connected.elapsed();
    let after = process::sample_all(&server_pids);
    let own_after = process::sample(std::process::id());
    let published_after = process::nats_published(&http, &bases).await;
    tally.summary(summary::Context {
        args,
        own_cpu_seconds: own_before
            .zip(own_after)
            .map(|(before, after)| after.cpu_seconds - before.cpu_seconds),
        elapsed,
        setup: connected.duration_since(started),
        time_limit_hit: finished.is_err(),
        server_pids,
        nats_published: published_before
            .zip(published_after)
            .map(|(before, after)| after.saturating_sub(before)),
        empty_server,
        before,
        after,
    })
}

fn port_of(base: &str) -> Option<u16> {
    let authority = base.split("://").nth(1)?.split('/').next()?;
    match authority.rsplit_once(':') {
        Some((_, port)) => port.parse().ok(),
        None if base.starts_with("https") => Some(443),
        None => Some(80),
    }
}

type Pair = (Player, Player);

/// Signs up and connects two players per game, a bounded number at once.
async fn connect_pairs(
    args: &Args,
    http: &reqwest::Client,
    bases: &[String],
    tally: &Tally,
) -> Vec<Pair> {
    let patience = Duration::from_secs_f64(args.patience_secs);
    let pairs = (0..args.games).map(|n| async move {
        let join = |role: &'static str, node: u64| async move {
            let alias = format!("{role}{n}");
            let base = &bases[(node % bases.len() as u64) as usize];
            tokio::time::timeout(
                patience,
                Player::join(http, base, &alias, args.commands_over),
            )
            .await
            .unwrap_or(Err(Failure::Unexpected("sign-up took too long")))
        };
        // The two players of a game on different nodes, when there are.
        futures::future::try_join(join("host", n), join("guest", n + 1)).await
    });
    bounded(args, tally, pairs).await
}

/// Runs `steps`, at most `--connect-concurrency` at once, and keeps what
/// succeeded; each failure is counted.
async fn bounded<T>(
    args: &Args,
    tally: &Tally,
    steps: impl Iterator<Item = impl Future<Output = Result<T, Failure>>>,
) -> Vec<T> {
    use futures::StreamExt;
    futures::stream::iter(steps)
        .buffer_unordered(args.connect_concurrency.max(1))
        .filter_map(|done| std::future::ready(done.map_err(|failure| tally.failed(&failure)).ok()))
        .collect()
        .await
}

/// Paced pairs start spread over this many moves' time: a game's length
/// (a win is five moves, a draw nine), so that a pair's games begin and
/// end at any phase of the others'.
const STAGGER_MOVES: f64 = 7.0;

/// Every pair plays games one after another until the total or the
/// duration is reached.
async fn play(args: &Args, pairs: Vec<Pair>, tally: &Arc<Tally>) {
    let started = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + Duration::from_secs_f64(args.duration_secs);
    let patience = Duration::from_secs_f64(args.patience_secs);
    let mut tasks = tokio::task::JoinSet::new();
    // Each game moves once per `games / rate` seconds.
    let pace = args
        .moves_per_sec
        .filter(|rate| *rate > 0.0)
        .map(|rate| Duration::from_secs_f64(args.games as f64 / rate));
    if args.total.is_none() {
        // From the end of the pairs' staggered starts to the time they
        // stop starting games.
        let ramp = pace.unwrap_or_default().mul_f64(STAGGER_MOVES + 1.0);
        let start = (Instant::now() + ramp).min(stop_at);
        tally.pace_window(start, stop_at);
    }
    for (mut host, mut guest) in pairs {
        let (started, tally, args) = (started.clone(), tally.clone(), args.clone());
        let mut pacer = pace.map(|every| {
            let spread = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0;
            game::Pacer::new(every, every.mul_f64(spread * STAGGER_MOVES))
        });
        tasks.spawn(async move {
            // Paced pairs start at their own time: all at once, their
            // games would start and end together, a wave of set-ups every
            // game's length that no real site sees.
            if let Some(pacer) = pacer.as_mut() {
                pacer.wait().await;
            }
            loop {
                let n = started.fetch_add(1, Ordering::SeqCst);
                let over = args
                    .total
                    .map_or(Instant::now() >= stop_at, |total| n >= total);
                if over {
                    return;
                }
                let moves = args.pattern.moves(n);
                match game::play(&mut host, &mut guest, moves, patience, pacer.as_mut()).await {
                    Ok(played) => tally.played(&played),
                    Err(failure) => {
                        tally.failed(&failure);
                        if !(host.connected() && guest.connected()) {
                            return;
                        }
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Sets every pair's game up to the first move, then holds the sockets.
async fn idle(args: &Args, pairs: Vec<Pair>, hold: f64, tally: &Arc<Tally>) {
    let patience = Duration::from_secs_f64(args.patience_secs);
    let started = pairs.into_iter().map(|(mut host, mut guest)| async move {
        if !args.no_games {
            game::start(&mut host, &mut guest, patience).await?;
        }
        Ok((host, guest))
    });
    let pairs: Vec<Pair> = bounded(args, tally, started).await;
    tally.waiting(pairs.len() as u64);
    tokio::time::sleep(Duration::from_secs_f64(hold)).await;
    let dropped = pairs
        .iter()
        .flat_map(|(host, guest)| [host, guest])
        .filter(|player| !player.connected())
        .count();
    for _ in 0..dropped {
        tally.failed(&Failure::Disconnected);
    }
}
