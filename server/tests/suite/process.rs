//! The server binary as a child process, on a data folder or a
//! PostgreSQL database of its own: for the tests that kill it or start it
//! on data another release wrote.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{Client, TestDatabase};

/// Where a server keeps its state.
pub enum Data {
    Embedded(tempfile::TempDir),
    Postgres(TestDatabase),
    /// A PostgreSQL database the server reaches at another URL (through a
    /// link the test controls).
    PostgresAt(TestDatabase, String),
}

impl Data {
    pub async fn embedded() -> Self {
        Self::Embedded(tempfile::tempdir().unwrap())
    }

    /// A data folder whose embedded database is `dump` (SQL, as
    /// `sqlite3 .dump` writes it).
    pub fn embedded_from(dump: &str) -> Self {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join(server::storage::DATABASE_FILE);
        let database = rusqlite::Connection::open(file).expect("a database file");
        database.execute_batch(dump).expect("the dump loads");
        Self::Embedded(folder)
    }

    /// The embedded database's file, if the data is embedded.
    pub fn database_file(&self) -> Option<std::path::PathBuf> {
        match self {
            Self::Embedded(folder) => Some(folder.path().join(server::storage::DATABASE_FILE)),
            Self::Postgres(_) | Self::PostgresAt(..) => None,
        }
    }

    pub async fn postgres() -> Self {
        Self::Postgres(TestDatabase::create().await)
    }

    pub fn flags(&self) -> [String; 2] {
        match self {
            Self::Embedded(folder) => ["--data-dir".into(), folder.path().display().to_string()],
            Self::Postgres(database) => ["--database-url".into(), database.url.clone()],
            Self::PostgresAt(_, url) => ["--database-url".into(), url.clone()],
        }
    }

    pub async fn forget(self) {
        if let Self::Postgres(database) | Self::PostgresAt(database, _) = self {
            database.drop_it().await;
        }
    }
}

/// The server binary as a child process.
pub struct Process {
    pub child: Child,
    pub port: u16,
}

impl Process {
    pub async fn start(data: &Data, turn_timeout_ms: u64) -> Self {
        Self::start_with(data, turn_timeout_ms, &[]).await
    }

    pub async fn start_with(data: &Data, turn_timeout_ms: u64, extra: &[&str]) -> Self {
        Self::start_limited(data, turn_timeout_ms, extra, None).await
    }

    /// Starts the server with `open_files` as its open-files limit, soft and
    /// hard (so it cannot raise it), if given.
    pub async fn start_limited(
        data: &Data,
        turn_timeout_ms: u64,
        extra: &[&str],
        open_files: Option<u64>,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = env!("CARGO_BIN_EXE_server");
        let mut command = match open_files {
            None => Command::new(server),
            Some(limit) => {
                let mut shell = Command::new("sh");
                shell.args([
                    "-c",
                    &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
                    server,
                ]);
                shell
            }
        };
        let child = command
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(data.flags())
            .args(["--turn-timeout-ms", &turn_timeout_ms.to_string()])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            // Logs (on stderr): a test says what failed itself.
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        // Owned from here: dropped (killed and reaped) if it never comes up.
        let process = Self { child, port };
        let health = format!("http://127.0.0.1:{port}/healthz");
        for _ in 0..200 {
            if reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the server did not come up");
    }

    pub fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Points a client at this process (cookies are kept: same host).
    pub fn adopt(&self, client: &mut Client) {
        client.base = format!("http://127.0.0.1:{}", self.port);
        client.socket = None;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client(process: &Process) -> Client {
    let server = crate::common::TestServerAddr(format!("127.0.0.1:{}", process.port));
    server.client()
}
