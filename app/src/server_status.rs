//! A server function that answers what the server is and how busy it is: the
//! smallest round trip through the command/query channel.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The server's answer to [`fetch_server_status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    /// The server's crate version.
    pub version: String,
    /// Server time, in milliseconds since the Unix epoch.
    pub server_time_ms: u64,
    /// Event WebSockets open on this server right now.
    pub live_connections: u64,
}

/// Asks the server for its [`ServerStatus`].
#[server(prefix = "/api", endpoint = "status")]
pub async fn fetch_server_status() -> Result<ServerStatus, ServerFnError> {
    let live = use_context::<ssr::LiveConnections>()
        .ok_or_else(|| ServerFnError::new("the server did not provide its connection count"))?;
    Ok(ServerStatus {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        server_time_ms: ssr::now_ms(),
        live_connections: live.count(),
    })
}

/// Server-side state the server function reads from context.
#[cfg(feature = "ssr")]
pub mod ssr {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};

    /// How many event WebSockets are open; cloned into every request's context.
    #[derive(Debug, Clone, Default)]
    pub struct LiveConnections(Arc<AtomicU64>);

    impl LiveConnections {
        /// Counts one more open socket until the returned guard is dropped.
        pub fn open(&self) -> OpenConnection {
            self.0.fetch_add(1, Ordering::Relaxed);
            OpenConnection(self.0.clone())
        }

        /// Sockets open now.
        pub fn count(&self) -> u64 {
            self.0.load(Ordering::Relaxed)
        }
    }

    /// One open socket; dropping it (however the socket ends) uncounts it.
    #[derive(Debug)]
    pub struct OpenConnection(Arc<AtomicU64>);

    impl Drop for OpenConnection {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Wall-clock time in milliseconds since the Unix epoch.
    pub fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
            })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn guards_count_open_sockets() {
            let live = LiveConnections::default();
            let first = live.open();
            let second = live.open();
            assert_eq!(live.count(), 2);
            drop(first);
            assert_eq!(live.count(), 1);
            drop(second);
            assert_eq!(live.count(), 0);
        }
    }
}

/// `hh:mm:ss UTC` of a server time, for people.
pub fn clock_time(ms_since_epoch: u64) -> String {
    let seconds_of_day = (ms_since_epoch / 1000) % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::clock_time;

    #[test]
    fn formats_time_of_day_in_utc() {
        // 2026-11-27T21:55:03.250Z
        assert_eq!(clock_time(1_795_816_503_250), "21:55:03 UTC");
        assert_eq!(clock_time(0), "00:00:00 UTC");
    }
}
