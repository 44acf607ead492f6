//! Server configuration, from command-line flags or the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// The tic-tac-toe server.
///
/// Every flag can also be set through the environment variable shown beside
/// it; cargo-leptos sets the `LEPTOS_*` ones itself.
#[derive(Debug, Clone, Parser)]
#[command(version, about, long_about = None)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Folder holding the built site (the WASM bundle, CSS and assets).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Folder of the embedded database (created on first run).
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Keep state in PostgreSQL instead of the embedded database
    /// (`postgres://user:password@host/database`).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = postgres_url)]
    pub database_url: Option<String>,

    /// Run as one node of a cluster: the NATS server that carries events
    /// between nodes (`nats://host:4222`). Needs `--database-url`.
    #[arg(long, env = "NATS_URL", requires = "database_url", value_parser = nats_url)]
    pub nats_url: Option<String>,

    /// How this server names itself at the head of each log line (a
    /// cluster's logs read together say which node said what); default:
    /// the address it listens on.
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,

    /// Keep everything in memory and nothing on disk (a restart forgets all).
    #[arg(long, env = "IN_MEMORY")]
    pub in_memory: bool,

    /// Seconds of silence on an event WebSocket before the server pings it, so
    /// that proxies do not close idle connections.
    #[arg(long, env = "WS_PING_SECS", default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ws_ping_secs: u64,

    /// Seconds to let open requests finish after SIGINT or SIGTERM.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// How long a player has for a move (and an invited player to answer).
    #[arg(long, env = "TURN_TIMEOUT_MS", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub turn_timeout_ms: u64,

    /// How long an ended game stays readable before its state is deleted.
    #[arg(long, env = "CLEANUP_DELAY_MS", default_value_t = 10_000)]
    pub cleanup_delay_ms: u64,

    /// Bearer token that trusted services send to `POST /api/events`; the
    /// endpoint is off without one.
    #[arg(long, env = "SERVICE_TOKEN", hide_env_values = true)]
    pub service_token: Option<String>,

    /// Serve as https: the session cookie gets `Secure`. (Also set per
    /// request by `X-Forwarded-Proto: https` from a proxy.)
    #[arg(long, env = "HTTPS")]
    pub https: bool,

    /// The largest API request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 16 * 1024)]
    pub max_body_bytes: usize,

    /// API requests a second per session (or per address without one).
    #[arg(long, env = "RATE_LIMIT_PER_SEC", default_value_t = 20.0)]
    pub rate_limit_per_sec: f64,

    /// API requests a session may make at once before the rate applies.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 60)]
    pub rate_limit_burst: u32,

    /// How long a user stays online after their last socket closes, so a
    /// reconnecting browser never shows as offline to others.
    #[arg(long, env = "PRESENCE_GRACE_MS", default_value_t = 5_000)]
    pub presence_grace_ms: u64,

    /// Lobby-wide events (who is online, the hall of fame) go to every
    /// socket at most once per this many milliseconds per type; the latest
    /// one held back follows at the end of the interval.
    #[arg(long, env = "LOBBY_INTERVAL_MS", default_value_t = 250)]
    pub lobby_interval_ms: u64,

    /// Fault injection for tests: abort right after committing a handler
    /// result that emitted this effect, before publishing it.
    #[arg(long, hide = true)]
    pub abort_after_commit_of: Option<String>,

    /// Frames queued for one socket before it counts as too slow and is cut off.
    #[arg(long, env = "WS_QUEUE_FRAMES", default_value_t = 256)]
    pub ws_queue_frames: usize,

    /// Event WebSockets one signed-in user may hold open at once (all
    /// their tabs); past it a new one is refused with 429.
    #[arg(long, env = "MAX_SOCKETS_PER_USER", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_sockets_per_user: u32,

    /// Event WebSockets without a session one client address may hold
    /// open at once; past it a new one is refused with 429.
    #[arg(long, env = "MAX_ANONYMOUS_SOCKETS_PER_ADDRESS", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_anonymous_sockets_per_address: u32,

    /// Proxies (addresses or networks, comma-separated: `10.0.0.0/8,
    /// 192.0.2.7`) whose `Forwarded` or `X-Forwarded-For` names the client:
    /// its address is then the one rate limits and caps count. From anyone
    /// else those headers are ignored.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", value_parser = trusted_proxies)]
    pub trusted_proxies: crate::client_address::TrustedProxies,

    /// The site's address as browsers see it (`https://play.example`),
    /// behind a proxy or a load balancer: the `Origin` API calls and the
    /// event socket must send. Without it, the origin must match the
    /// request's `Host`.
    #[arg(long, env = "PUBLIC_URL", value_parser = public_origin)]
    pub public_url: Option<String>,

    /// Seconds a client has to send a request's head (from connecting for
    /// the first request, from its first byte for the next ones).
    #[arg(long, env = "HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,

    /// Seconds a client has to send an API request's body, and to take a
    /// response it is sent.
    #[arg(long, env = "BODY_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,

    /// Seconds a connection may idle between requests before it is closed.
    #[arg(long, env = "KEEP_ALIVE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub keep_alive_secs: u64,

    /// Connections open at once, WebSockets included (0: as many as the
    /// open-files limit allows, less 128 kept for files); past it a client
    /// gets 503.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,

    /// Connections open at once from one client address (0: no cap; set 0
    /// behind a proxy, where every client has the proxy's address).
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 128)]
    pub max_connections_per_address: u32,

    /// Threads running the server's tasks (0: one per core this process
    /// may run on). With one, Tokio's single-threaded scheduler runs them.
    #[arg(long, env = "WORKER_THREADS", default_value_t = 0)]
    pub worker_threads: usize,
}

fn postgres_url(url: &str) -> Result<String, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url.to_owned())
    } else {
        Err("a PostgreSQL URL starts with postgres:// (the embedded database needs no URL: see --data-dir)".to_owned())
    }
}

fn nats_url(url: &str) -> Result<String, String> {
    if url.starts_with("nats://") || url.starts_with("tls://") {
        Ok(url.to_owned())
    } else {
        Err("a NATS URL starts with nats:// (or tls://)".to_owned())
    }
}

fn trusted_proxies(text: &str) -> Result<crate::client_address::TrustedProxies, String> {
    crate::client_address::parse_networks(text).map(crate::client_address::TrustedProxies::new)
}

/// The origin of a public URL, as a browser writes it in `Origin`.
fn public_origin(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|error| format!("not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("the public URL is http:// or https:// and a host".to_owned());
    }
    Ok(url.origin().ascii_serialization())
}

impl Config {
    /// How many threads run the server's tasks: as set, else one per core
    /// this process may run on (its affinity and CPU quota counted).
    pub fn worker_threads(&self) -> usize {
        match self.worker_threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            threads => threads,
        }
    }

    /// How long an event WebSocket may stay silent before a ping.
    pub fn ws_ping_interval(&self) -> Duration {
        Duration::from_secs(self.ws_ping_secs)
    }

    /// How long shutdown waits for open requests.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// The timeouts of a connection.
    pub fn timeouts(&self) -> crate::connection_clock::Timeouts {
        crate::connection_clock::Timeouts {
            header: Duration::from_secs(self.header_timeout_secs),
            keep_alive: Duration::from_secs(self.keep_alive_secs),
            send: self.body_timeout(),
        }
    }

    /// How long a client has to send an API request's body.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }

    /// The game's timings.
    pub fn rules(&self) -> domain::Rules {
        domain::Rules {
            turn_timeout_ms: self.turn_timeout_ms,
            cleanup_delay_ms: self.cleanup_delay_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        let config = Config::try_parse_from([
            "server",
            "--addr",
            "0.0.0.0:8080",
            "--site-root",
            "/srv/site",
            "--ws-ping-secs",
            "5",
        ])
        .unwrap();
        assert_eq!(config.addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.site_root, PathBuf::from("/srv/site"));
        assert_eq!(config.ws_ping_interval(), Duration::from_secs(5));
    }

    #[test]
    fn zero_ping_interval_is_refused() {
        assert!(Config::try_parse_from(["server", "--ws-ping-secs", "0"]).is_err());
    }

    #[test]
    fn only_postgres_urls_are_taken() {
        let config =
            Config::try_parse_from(["server", "--database-url", "postgres://u@localhost/db"])
                .unwrap();
        assert_eq!(
            config.database_url.as_deref(),
            Some("postgres://u@localhost/db")
        );
        assert!(
            Config::try_parse_from(["server", "--database-url", "mysql://localhost/db"]).is_err()
        );
    }

    #[test]
    fn the_public_url_is_kept_as_its_origin() {
        let config =
            Config::try_parse_from(["server", "--public-url", "HTTPS://Play.Example:443/lobby"])
                .unwrap();
        assert_eq!(config.public_url.as_deref(), Some("https://play.example"));
        assert!(Config::try_parse_from(["server", "--public-url", "play.example"]).is_err());
        assert!(Config::try_parse_from(["server", "--public-url", "ftp://play.example"]).is_err());
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let config =
            Config::try_parse_from(["server", "--trusted-proxies", "10.0.0.0/8, 192.0.2.7"])
                .unwrap();
        assert!(config.trusted_proxies.trusts("10.1.2.3".parse().unwrap()));
        assert!(!config.trusted_proxies.trusts("192.0.2.8".parse().unwrap()));
        assert!(Config::try_parse_from(["server", "--trusted-proxies", "a proxy"]).is_err());
    }

    #[test]
    fn a_cluster_node_needs_postgres_and_a_nats_url() {
        let node = Config::try_parse_from([
            "server",
            "--database-url",
            "postgres://u@localhost/db",
            "--nats-url",
            "nats://127.0.0.1:4222",
        ])
        .unwrap();
        assert_eq!(node.nats_url.as_deref(), Some("nats://127.0.0.1:4222"));
        assert!(
            Config::try_parse_from(["server", "--nats-url", "nats://127.0.0.1:4222"]).is_err(),
            "NATS without PostgreSQL is no cluster"
        );
        assert!(
            Config::try_parse_from([
                "server",
                "--database-url",
                "postgres://u@localhost/db",
                "--nats-url",
                "127.0.0.1:4222"
            ])
            .is_err()
        );
    }

    #[test]
    fn bad_address_is_refused() {
        assert!(Config::try_parse_from(["server", "--addr", "not an address"]).is_err());
    }
}
