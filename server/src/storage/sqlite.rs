//! The embedded database: one SQLite file (WAL mode) under the data
//! directory. WAL with `synchronous = NORMAL` is durable against process
//! crashes, even `kill -9` (only a power cut may lose the last moments).
//!
//! This process is the file's only writer, so the store keeps its states in
//! memory as well (read at start-up) and reads never touch the disk; only
//! the state types named "on disk only" (written once, seldom read, and
//! many: a history's old pages) are read from the file when asked for.
//! Writes go to one thread that owns the connection and commits in groups:
//! every write queued while the previous group was committing goes into
//! the next transaction, and each caller hears back once its group is on
//! disk; then the state is updated in memory. Migrations are sqlx's, run at
//! start-up before anything else.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bus::{
    Commit, Finished, MemoryStore, PendingEntry, Scheduled, SetAside, StateKey, Store, StoreError,
    StoreFuture, Stored,
};
use rusqlite::{Connection, OptionalExtension};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tokio::sync::{mpsc, oneshot};

use super::rows::{pending_entries, scheduled, sessions, stored};
use super::sql::{self, Executor, Param, Write};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "tictactoe.db";

/// The most writes one transaction takes.
const GROUP: usize = 256;

/// Migrations, embedded in the binary and run at start-up.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite-backed [`Store`].
pub struct SqliteStore {
    /// The connection reads go through (on a blocking thread), kept open:
    /// opening one per read (its pragmas, the schema read) took 8.5% of
    /// the Tokio threads' time under load, when every game's end loaded
    /// its record.
    reader: Arc<Mutex<Connection>>,
    /// State types not kept in memory.
    on_disk_only: HashSet<&'static str>,
    /// Every state, as committed.
    states: MemoryStore,
    writes: mpsc::UnboundedSender<Queued>,
    /// Dropped with the store: the checkpoint thread stops.
    _stop_checkpoints: std::sync::mpsc::Sender<()>,
}

/// A write waiting for the writer, and who waits for its result.
struct Queued {
    write: Write,
    done: oneshot::Sender<Result<(), StoreError>>,
}

fn sqlite(error: rusqlite::Error) -> StoreError {
    StoreError::backend("SQLite", error)
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir`, migrates it
    /// and reads it into memory.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(data_dir, &[]).await
    }

    /// As [`open`](Self::open), leaving the `on_disk_only` state types out
    /// of memory.
    pub async fn open_with(
        data_dir: &Path,
        on_disk_only: &[&'static str],
    ) -> Result<Self, StoreError> {
        let on_disk_only: HashSet<&'static str> = on_disk_only.iter().copied().collect();
        std::fs::create_dir_all(data_dir).map_err(|error| {
            StoreError::backend(format!("cannot make {}", data_dir.display()), error)
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|error| StoreError::backend("SQLite options", error))?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let migrations = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|error| {
                StoreError::backend(format!("cannot open {}", path.display()), error)
            })?;
        MIGRATIONS
            .run(&migrations)
            .await
            .map_err(|error| StoreError::backend("cannot migrate the SQLite database", error))?;
        migrations.close().await;

        let opened = path.clone();
        let skipped = on_disk_only.clone();
        let (connection, states) = tokio::task::spawn_blocking(move || {
            let connection = connect(&opened)?;
            let states = read_states(&connection, &skipped)?;
            Ok::<_, StoreError>((connection, states))
        })
        .await
        .map_err(|error| StoreError::backend("the SQLite start-up read stopped", error))??;
        // The writer never checkpoints (copies the WAL back into the
        // database) itself: a thread of its own does, beside it.
        connection
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sqlite)?;
        let (writes, queue) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                yield_to_requests();
                write_in_groups(connection, queue)
            })
            .map_err(|error| StoreError::backend("cannot start the SQLite writer", error))?;
        let checkpoints = connect(&path)?;
        let reader = Arc::new(Mutex::new(connect(&path)?));
        let (stop_checkpoints, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                yield_to_requests();
                checkpoint_every_second(&checkpoints, &stopped)
            })
            .map_err(|error| StoreError::backend("cannot start the SQLite checkpoints", error))?;
        Ok(Self {
            reader,
            on_disk_only,
            states,
            writes,
            _stop_checkpoints: stop_checkpoints,
        })
    }

    /// Reads from the file on the reader's connection (WAL lets it run
    /// beside the writer), on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let connection = reader.lock().unwrap_or_else(PoisonError::into_inner);
            read(&connection)
        })
        .await
        .map_err(|error| StoreError::backend("a SQLite read stopped", error))?
    }

    /// Every session, to restore at start-up.
    pub async fn sessions(&self) -> Result<Vec<(String, domain::UserId)>, StoreError> {
        self.read(read_sessions).await
    }

    /// Queues a write for the writer and waits until it is committed.
    async fn write(&self, write: Write) -> Result<(), StoreError> {
        let (done, result) = oneshot::channel();
        let stopped = || StoreError::backend_says("the SQLite writer has stopped");
        self.writes
            .send(Queued { write, done })
            .map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }

    async fn commit_now(&self, commit: Commit) -> Result<(), StoreError> {
        if let Some(key) = &commit.key {
            if self.on_disk_only.contains(key.state_type) {
                // The version check is the SQL's alone.
                return self.write(Write::Commit(commit)).await;
            }
            let found = self.states.version(key);
            if found != commit.expected_version {
                return Err(StoreError::Conflict {
                    key: key.clone(),
                    expected: commit.expected_version,
                    found,
                });
            }
        }
        // The memory side needs only the state; schedules and the outbox
        // are read from disk at start-up.
        let in_memory = Commit::state(
            commit.key.clone(),
            commit.expected_version,
            commit.change.clone(),
        );
        self.write(Write::Commit(commit)).await?;
        self.states.commit(in_memory).await
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(sqlite)?;
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(sqlite)?;
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .map_err(sqlite)?;
    connection
        .busy_timeout(Duration::from_secs(5))
        .map_err(sqlite)?;
    // Room for every statement the writer runs (sql.rs has 16).
    connection.set_prepared_statement_cache_capacity(32);
    Ok(connection)
}

/// Marks the calling thread as batch work for the kernel's scheduler
/// (`SCHED_BATCH`): woken, it waits for its turn instead of preempting the
/// thread serving requests. For the writer that means a write queued on a
/// busy core waits for the next ones and they commit together: bigger
/// groups, fewer WAL frames and fewer context switches per move. Measured
/// with the server pinned to one core, 1,000 games (docs/performance.md):
/// about a tenth less server CPU per move. Elsewhere than Linux, nothing.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadPriorityOsValue,
            ThreadSchedulePolicy, set_thread_priority_and_policy, thread_native_id,
        };
        // Nice 0, as before: only the wake-up behaviour changes.
        let nice = ThreadPriority::Os(ThreadPriorityOsValue::default());
        let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
        if let Err(error) = set_thread_priority_and_policy(thread_native_id(), nice, batch) {
            tracing::debug!(?error, "SCHED_BATCH refused");
        }
    }
}

/// Every state, into memory.
fn read_states(
    connection: &Connection,
    on_disk_only: &HashSet<&'static str>,
) -> Result<MemoryStore, StoreError> {
    let states = MemoryStore::new();
    let rows = query_all(connection, sql::SELECT_ALL_STATES, |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, i64>(4)?,
        ))
    })?;
    let mut known_types: HashMap<String, &'static str> = HashMap::new();
    for (state_type, id, version, body, schema_version) in rows {
        if on_disk_only.contains(state_type.as_str()) {
            continue;
        }
        // A state type is a `&'static str`: one leaked copy per type name.
        let state_type = *known_types
            .entry(state_type.clone())
            .or_insert_with(|| Box::leak(state_type.into_boxed_str()));
        states.restore(
            StateKey { state_type, id },
            stored(version, body, schema_version),
        );
    }
    Ok(states)
}

fn read_sessions(connection: &Connection) -> Result<Vec<(String, domain::UserId)>, StoreError> {
    sessions(query_all(connection, sql::SELECT_SESSIONS, |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?)
}

fn read_schedules(connection: &Connection) -> Result<Vec<Scheduled>, StoreError> {
    query_all(connection, sql::SELECT_SCHEDULES, |row| {
        Ok((
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
        ))
    })?
    .into_iter()
    .map(scheduled)
    .collect()
}

fn read_outbox(connection: &Connection) -> Result<Vec<PendingEntry>, StoreError> {
    let deliveries = query_all(connection, sql::SELECT_DELIVERIES, |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    })?;
    let entries = query_all(connection, sql::SELECT_OUTBOX, |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?;
    pending_entries(deliveries, entries)
}

/// WAL frames past which the checkpointer restarts the log (32 MiB of
/// 4 KiB pages).
const RESTART_FRAMES: i64 = 8192;

/// Copies committed WAL frames back into the database file once a second
/// (without blocking the writer), until the store is dropped.
///
/// Under steady writes a passive checkpoint never catches up with the end
/// of the log, and SQLite starts the log over only once every frame is
/// copied back: the WAL grew by about 170 MB a second at 1,000 games
/// (1.5 GB after 8 s), every frame a new block for the file system to
/// allocate. So once the log is past [`RESTART_FRAMES`], the passive pass
/// (which did most of the copying) is followed by a `RESTART` one: it
/// waits for the writer's transaction in progress, copies what is left
/// and makes the next transaction write from the start of the file again.
fn checkpoint_every_second(connection: &Connection, stopped: &std::sync::mpsc::Receiver<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(Duration::from_secs(1)) {
        let checkpointed = checkpoint(connection, "PASSIVE").and_then(|frames| {
            if frames > RESTART_FRAMES {
                checkpoint(connection, "RESTART")?;
            }
            Ok(())
        });
        if let Err(error) = checkpointed {
            tracing::warn!(%error, "WAL checkpoint failed");
        }
    }
}

/// Runs a checkpoint of the given kind; how many frames the log had.
fn checkpoint(connection: &Connection, kind: &str) -> rusqlite::Result<i64> {
    connection.query_row(&format!("PRAGMA wal_checkpoint({kind})"), [], |row| {
        row.get::<_, i64>(1)
    })
}

fn query_all<T>(
    connection: &Connection,
    statement: &str,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare(statement).map_err(sqlite)?;
    let rows = statement.query_map([], row).map_err(sqlite)?;
    rows.collect::<Result<_, _>>().map_err(sqlite)
}

impl Store for SqliteStore {
    fn load<'a>(&'a self, key: &'a StateKey) -> StoreFuture<'a, Option<Stored>> {
        if !self.on_disk_only.contains(key.state_type) {
            return self.states.load(key);
        }
        let (state_type, id) = (key.state_type, key.id.clone());
        Box::pin(self.read(move |connection| {
            connection
                .prepare_cached(sql::SELECT_STATE)
                .map_err(sqlite)?
                .query_row([state_type, id.as_str()], |row| {
                    Ok(stored(row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()
                .map_err(sqlite)
        }))
    }

    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>> {
        if !self.on_disk_only.contains(state_type) {
            return self.states.scan(state_type);
        }
        let state_type = state_type.to_owned();
        Box::pin(self.read(move |connection| {
            let mut statement = connection
                .prepare_cached(sql::SELECT_STATES_OF_TYPE)
                .map_err(sqlite)?;
            let rows = statement
                .query_map([state_type], |row| {
                    Ok((row.get(0)?, stored(row.get(1)?, row.get(2)?, row.get(3)?)))
                })
                .map_err(sqlite)?;
            rows.collect::<Result<_, _>>().map_err(sqlite)
        }))
    }

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        Box::pin(self.commit_now(commit))
    }

    fn pending_schedules(&self) -> StoreFuture<'_, Vec<Scheduled>> {
        Box::pin(self.read(read_schedules))
    }

    fn pending_outbox(&self) -> StoreFuture<'_, Vec<PendingEntry>> {
        Box::pin(self.read(read_outbox))
    }

    fn finish(&self, finished: Vec<Finished>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(Write::Finish(finished)))
    }

    fn set_aside(&self, unreadable: Vec<SetAside>) -> StoreFuture<'_, ()> {
        let at_ms = super::now_ms();
        Box::pin(self.write(Write::SetAside { unreadable, at_ms }))
    }
}

impl app::api::sessions::SessionStore for SqliteStore {
    fn save<'a>(
        &'a self,
        token: &'a str,
        user: domain::UserId,
    ) -> app::api::sessions::SessionFuture<'a, ()> {
        Box::pin(async move {
            self.write(Write::Session {
                token: token.to_owned(),
                user,
            })
            .await
            .map_err(|error| app::api::sessions::SessionStoreError(Box::new(error)))
        })
    }
}

/// The writer thread: takes whatever is queued (up to [`GROUP`]), commits
/// it in one transaction, answers each caller, and goes on until every
/// [`SqliteStore`] handle is gone.
fn write_in_groups(mut connection: Connection, mut queue: mpsc::UnboundedReceiver<Queued>) {
    let mut group = Vec::with_capacity(GROUP);
    while let Some(first) = queue.blocking_recv() {
        group.push(first);
        while group.len() < GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let results = match commit_group(&mut connection, &group) {
            Ok(results) => results,
            // Something other than a version conflict failed, and took the
            // whole group with it: each write again, on its own, so only
            // the one at fault fails.
            Err(error) => {
                tracing::warn!(%error, writes = group.len(), "group commit failed; writing one at a time");
                group
                    .iter()
                    .map(|queued| commit_one(&mut connection, &queued.write))
                    .collect()
            }
        };
        for (queued, result) in group.drain(..).zip(results) {
            let _ = queued.done.send(result);
        }
    }
}

/// One transaction for the group; a conflicting commit wrote nothing and
/// is answered with its conflict, the others with the transaction's fate.
fn commit_group(
    connection: &mut Connection,
    group: &[Queued],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let tx = connection.transaction().map_err(sqlite)?;
    let mut results = Vec::with_capacity(group.len());
    for queued in group {
        match apply(&tx, &queued.write) {
            Ok(()) => results.push(Ok(())),
            Err(conflict @ StoreError::Conflict { .. }) => results.push(Err(conflict)),
            Err(error) => return Err(error),
        }
    }
    tx.commit().map_err(sqlite)?;
    Ok(results)
}

fn commit_one(connection: &mut Connection, write: &Write) -> Result<(), StoreError> {
    let tx = connection.transaction().map_err(sqlite)?;
    apply(&tx, write)?;
    tx.commit().map_err(sqlite)
}

/// One write on an open transaction: the shared statements, run on this
/// thread. Every [`Executor`] call here is ready at once (rusqlite is
/// synchronous), so `block_on` only polls it.
fn apply(tx: &rusqlite::Transaction<'_>, write: &Write) -> Result<(), StoreError> {
    futures::executor::block_on(sql::apply(&mut OnTransaction(tx), write))
}

/// The writer's open transaction, as an [`Executor`].
struct OnTransaction<'a>(&'a rusqlite::Transaction<'a>);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Text(text) => text.to_sql(),
            Param::Int(number) => number.to_sql(),
            Param::MaybeInt(number) => number.to_sql(),
        }
    }
}

impl Executor for OnTransaction<'_> {
    async fn execute(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64, StoreError> {
        let mut statement = self.0.prepare_cached(sql).map_err(sqlite)?;
        let rows = statement
            .execute(rusqlite::params_from_iter(params))
            .map_err(sqlite)?;
        Ok(rows as u64)
    }

    async fn fetch_int(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Option<i64>, StoreError> {
        let mut statement = self.0.prepare_cached(sql).map_err(sqlite)?;
        statement
            .query_row(rusqlite::params_from_iter(params), |row| row.get(0))
            .optional()
            .map_err(sqlite)
    }
}
