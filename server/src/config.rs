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

    /// Seconds of silence on an event WebSocket before the server pings it, so
    /// that proxies do not close idle connections.
    #[arg(long, env = "WS_PING_SECS", default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ws_ping_secs: u64,

    /// Seconds to let open requests finish after SIGINT or SIGTERM.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

impl Config {
    /// How long an event WebSocket may stay silent before a ping.
    pub fn ws_ping_interval(&self) -> Duration {
        Duration::from_secs(self.ws_ping_secs)
    }

    /// How long shutdown waits for open requests.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
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
    fn bad_address_is_refused() {
        assert!(Config::try_parse_from(["server", "--addr", "not an address"]).is_err());
    }
}
