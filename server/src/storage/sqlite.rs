//! The embedded database: one SQLite file (WAL mode) under the data
//! directory. WAL with `synchronous = NORMAL` is durable against process
//! crashes, even `kill -9` (only a power cut may lose the last moments).
//!
//! SQLite has one writer at a time, so one task owns the write connection
//! and commits in groups: every write queued while the previous group was
//! committing goes into the next transaction (group commit), and each
//! caller hears back once its group is committed. Reads use a pool of
//! other connections, which WAL lets run beside the writer.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use bus::runtime::store::StoreError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Connection, Sqlite};
use tokio::sync::{mpsc, oneshot};

use super::{Write, backend, sql_store};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "tictactoe.db";

/// The most writes one transaction takes.
const GROUP: usize = 256;

/// Migrations, embedded in the binary and run at start-up.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite-backed [`Store`](bus::Store).
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    writes: mpsc::UnboundedSender<Queued>,
}

/// A write waiting for the writer, and who waits for its result.
#[derive(Debug)]
struct Queued {
    write: Write,
    done: oneshot::Sender<Result<(), StoreError>>,
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
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        MIGRATIONS.run(&pool).await.map_err(backend)?;
        let writer = SqliteConnection::connect_with(&options)
            .await
            .map_err(backend)?;
        let (writes, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_in_groups(writer, queue));
        Ok(Self { pool, writes })
    }

    /// Queues a write for the writer and waits until it is committed.
    async fn write(&self, write: Write) -> Result<(), StoreError> {
        let (done, result) = oneshot::channel();
        self.writes
            .send(Queued { write, done })
            .map_err(|_| backend("the database writer has stopped"))?;
        result
            .await
            .map_err(|_| backend("the database writer has stopped"))?
    }
}

sql_store!(SqliteStore, Sqlite);

/// The writer: takes whatever is queued (up to [`GROUP`]), commits it in
/// one transaction, answers each caller, and goes on until every
/// [`SqliteStore`] handle is gone.
async fn write_in_groups(
    mut connection: SqliteConnection,
    mut queue: mpsc::UnboundedReceiver<Queued>,
) {
    let mut group = Vec::with_capacity(GROUP);
    while queue.recv_many(&mut group, GROUP).await > 0 {
        let results = match commit_group(&mut connection, &group).await {
            Ok(results) => results,
            // Something other than a version conflict failed, and took the
            // whole group with it: each write again, on its own, so only
            // the one at fault fails.
            Err(error) => {
                tracing::warn!(%error, writes = group.len(), "group commit failed; writing one at a time");
                let mut results = Vec::with_capacity(group.len());
                for queued in &group {
                    results.push(commit_one(&mut connection, &queued.write).await);
                }
                results
            }
        };
        for (queued, result) in group.drain(..).zip(results) {
            let _ = queued.done.send(result);
        }
    }
}

/// One transaction for the group; a conflicting commit wrote nothing and
/// is answered with its conflict, the others with the transaction's fate.
async fn commit_group(
    connection: &mut SqliteConnection,
    group: &[Queued],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut tx = connection.begin().await.map_err(backend)?;
    let mut results = Vec::with_capacity(group.len());
    for queued in group {
        match SqliteStore::apply(&mut tx, &queued.write).await {
            Ok(()) => results.push(Ok(())),
            Err(conflict @ StoreError::Conflict { .. }) => results.push(Err(conflict)),
            Err(error) => return Err(error),
        }
    }
    tx.commit().await.map_err(backend)?;
    Ok(results)
}

async fn commit_one(connection: &mut SqliteConnection, write: &Write) -> Result<(), StoreError> {
    let mut tx = connection.begin().await.map_err(backend)?;
    SqliteStore::apply(&mut tx, write).await?;
    tx.commit().await.map_err(backend)
}
