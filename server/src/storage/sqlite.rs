//! The embedded database: one SQLite file (WAL mode) under the data
//! directory. WAL with `synchronous = NORMAL` is durable against process
//! crashes, even `kill -9` (only a power cut may lose the last moments).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use bus::runtime::store::StoreError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::{Mutex, MutexGuard};

use super::{backend, sql_store};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "tictactoe.db";

/// Migrations, embedded in the binary and run at start-up.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite-backed [`Store`](bus::Store).
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// SQLite has one writer at a time; taking turns here avoids lock
    /// upgrade failures between concurrent transactions.
    writer: Mutex<()>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|error| backend(format!("{}: {error}", data_dir.display())))?;
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(backend)?
            .filename(data_dir.join(DATABASE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(backend)?;
        MIGRATIONS.run(&pool).await.map_err(backend)?;
        Ok(Self {
            pool,
            writer: Mutex::new(()),
        })
    }

    async fn turn(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().await
    }
}

sql_store!(SqliteStore);
