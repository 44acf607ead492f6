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
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use bus::runtime::store::{
    Commit, Finished, PendingEntry, ScheduleOp, Scheduled, Store, StoreError, StoreFuture,
};
use bus::state::{StateKey, Stored};
use bus::{Change, MemoryStore};
use rusqlite::{Connection, OptionalExtension, params};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tokio::sync::{mpsc, oneshot};

use super::{Write, backend, effects_text, id_text, pending_entries, scheduled, stored};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "tictactoe.db";

/// The most writes one transaction takes.
const GROUP: usize = 256;

/// Migrations, embedded in the binary and run at start-up.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite-backed [`Store`].
pub struct SqliteStore {
    path: PathBuf,
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

fn sql(error: rusqlite::Error) -> StoreError {
    backend(error)
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
        std::fs::create_dir_all(data_dir)
            .map_err(|error| backend(format!("{}: {error}", data_dir.display())))?;
        let path = data_dir.join(DATABASE_FILE);
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(backend)?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let migrations = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(backend)?;
        MIGRATIONS.run(&migrations).await.map_err(backend)?;
        migrations.close().await;

        let opened = path.clone();
        let skipped = on_disk_only.clone();
        let (connection, states) = tokio::task::spawn_blocking(move || {
            let connection = connect(&opened)?;
            let states = read_states(&connection, &skipped)?;
            Ok::<_, StoreError>((connection, states))
        })
        .await
        .map_err(backend)??;
        // The writer never checkpoints (copies the WAL back into the
        // database) itself: a thread of its own does, beside it.
        connection
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sql)?;
        let (writes, queue) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_in_groups(connection, queue))
            .map_err(backend)?;
        let checkpoints = connect(&path)?;
        let (stop_checkpoints, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_every_second(&checkpoints, &stopped))
            .map_err(backend)?;
        Ok(Self {
            path,
            on_disk_only,
            states,
            writes,
            _stop_checkpoints: stop_checkpoints,
        })
    }

    /// Reads from the file on a connection of its own (WAL lets it run
    /// beside the writer): what start-up reads once.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || read(&connect(&path)?))
            .await
            .map_err(backend)?
    }

    /// Every session, to restore at start-up.
    pub async fn sessions(&self) -> Result<Vec<(String, uuid::Uuid)>, StoreError> {
        self.read(read_sessions).await
    }

    /// Queues a write for the writer and waits until it is committed.
    async fn write(&self, write: Write) -> Result<(), StoreError> {
        let (done, result) = oneshot::channel();
        let stopped = || backend("the database writer has stopped");
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
    let connection = Connection::open(path).map_err(sql)?;
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql)?;
    connection
        .busy_timeout(Duration::from_secs(5))
        .map_err(sql)?;
    Ok(connection)
}

/// Every state, into memory.
fn read_states(
    connection: &Connection,
    on_disk_only: &HashSet<&'static str>,
) -> Result<MemoryStore, StoreError> {
    let states = MemoryStore::new();
    let rows = query_all(
        connection,
        "SELECT state_type, id, version, body FROM states",
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, String>(3)?,
            ))
        },
    )?;
    let mut known_types: HashMap<String, &'static str> = HashMap::new();
    for (state_type, id, version, body) in rows {
        if on_disk_only.contains(state_type.as_str()) {
            continue;
        }
        // A state type is a `&'static str`: one leaked copy per type name.
        let state_type = *known_types
            .entry(state_type.clone())
            .or_insert_with(|| Box::leak(state_type.into_boxed_str()));
        states.restore(StateKey { state_type, id }, stored(version, body));
    }
    Ok(states)
}

fn read_sessions(connection: &Connection) -> Result<Vec<(String, uuid::Uuid)>, StoreError> {
    query_all(connection, "SELECT token, user_id FROM sessions", |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?
    .into_iter()
    .map(|(token, user)| Ok((token, user.parse().map_err(backend)?)))
    .collect()
}

fn read_schedules(connection: &Connection) -> Result<Vec<Scheduled>, StoreError> {
    query_all(
        connection,
        "SELECT id, schedule_key, due_at_ms, updates_every_ms, event_type, payload FROM schedules",
        |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        },
    )?
    .into_iter()
    .map(scheduled)
    .collect()
}

fn read_outbox(connection: &Connection) -> Result<Vec<PendingEntry>, StoreError> {
    let deliveries = query_all(
        connection,
        "SELECT entry, position, handler FROM deliveries",
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    let entries = query_all(
        connection,
        "SELECT id, effects FROM outbox ORDER BY seq",
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    pending_entries(deliveries, entries)
}

/// Copies committed WAL frames back into the database file once a second
/// (without blocking the writer), until the store is dropped.
fn checkpoint_every_second(connection: &Connection, stopped: &std::sync::mpsc::Receiver<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(Duration::from_secs(1)) {
        let done = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(0)
        });
        if let Err(error) = done {
            tracing::warn!(%error, "WAL checkpoint failed");
        }
    }
}

fn query_all<T>(
    connection: &Connection,
    statement: &str,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare(statement).map_err(sql)?;
    let rows = statement.query_map([], row).map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

impl Store for SqliteStore {
    fn load<'a>(&'a self, key: &'a StateKey) -> StoreFuture<'a, Option<Stored>> {
        if !self.on_disk_only.contains(key.state_type) {
            return self.states.load(key);
        }
        let (state_type, id) = (key.state_type, key.id.clone());
        Box::pin(self.read(move |connection| {
            connection
                .query_row(
                    "SELECT version, body FROM states WHERE state_type = ?1 AND id = ?2",
                    params![state_type, id],
                    |row| Ok(stored(row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(sql)
        }))
    }

    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>> {
        if !self.on_disk_only.contains(state_type) {
            return self.states.scan(state_type);
        }
        let state_type = state_type.to_owned();
        Box::pin(self.read(move |connection| {
            let mut statement = connection
                .prepare("SELECT id, version, body FROM states WHERE state_type = ?1")
                .map_err(sql)?;
            let rows = statement
                .query_map([state_type], |row| {
                    Ok((row.get(0)?, stored(row.get(1)?, row.get(2)?)))
                })
                .map_err(sql)?;
            rows.collect::<Result<_, _>>().map_err(sql)
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
}

impl app::api::ssr::SessionStore for SqliteStore {
    fn save<'a>(
        &'a self,
        token: &'a str,
        user: uuid::Uuid,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.write(Write::Session {
                token: token.to_owned(),
                user,
            })
            .await
            .map_err(|error| error.to_string())
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
    let tx = connection.transaction().map_err(sql)?;
    let mut results = Vec::with_capacity(group.len());
    for queued in group {
        match apply(&tx, &queued.write) {
            Ok(()) => results.push(Ok(())),
            Err(conflict @ StoreError::Conflict { .. }) => results.push(Err(conflict)),
            Err(error) => return Err(error),
        }
    }
    tx.commit().map_err(sql)?;
    Ok(results)
}

fn commit_one(connection: &mut Connection, write: &Write) -> Result<(), StoreError> {
    let tx = connection.transaction().map_err(sql)?;
    apply(&tx, write)?;
    tx.commit().map_err(sql)
}

/// One write on an open transaction. A commit whose version check fails
/// returns `Conflict` having written nothing: the state write comes first
/// and is the check.
fn apply(tx: &rusqlite::Transaction<'_>, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::Commit(commit) => apply_commit(tx, commit),
        Write::Finish(finished) => {
            for done in finished {
                let statements: &[&str] = match done {
                    Finished::Entry(_) => &[
                        "DELETE FROM deliveries WHERE entry = ?1",
                        "DELETE FROM outbox WHERE id = ?1",
                    ],
                    Finished::Schedule(_) => &["DELETE FROM schedules WHERE id = ?1"],
                };
                let (Finished::Entry(id) | Finished::Schedule(id)) = done;
                for statement in statements {
                    tx.prepare_cached(statement)
                        .and_then(|mut statement| statement.execute([id_text(*id)]))
                        .map_err(sql)?;
                }
            }
            Ok(())
        }
        Write::Session { token, user } => tx
            .prepare_cached("INSERT INTO sessions (token, user_id) VALUES (?1, ?2)")
            .and_then(|mut statement| statement.execute(params![token, user.to_string()]))
            .map(|_| ())
            .map_err(sql),
    }
}

fn apply_commit(tx: &rusqlite::Transaction<'_>, commit: &Commit) -> Result<(), StoreError> {
    let run = |statement: &str, values: &[&dyn rusqlite::ToSql]| -> Result<usize, StoreError> {
        tx.prepare_cached(statement)
            .and_then(|mut statement| statement.execute(values))
            .map_err(sql)
    };
    if let Some(key) = &commit.key {
        let (state_type, id) = (key.state_type, key.id.as_str());
        let expected = commit.expected_version.map(|version| version as i64);
        let rows = match (&commit.change, expected) {
            (Change::Set(body), None) => Some(run(
                "INSERT INTO states (state_type, id, version, body) VALUES (?1, ?2, 1, ?3) \
                 ON CONFLICT (state_type, id) DO NOTHING",
                &[&state_type, &id, &body.to_json_text().as_ref()],
            )?),
            (Change::Set(body), Some(version)) => Some(run(
                "UPDATE states SET version = ?3 + 1, body = ?4 \
                 WHERE state_type = ?1 AND id = ?2 AND version = ?3",
                &[&state_type, &id, &version, &body.to_json_text().as_ref()],
            )?),
            (Change::Delete, Some(version)) => Some(run(
                "DELETE FROM states WHERE state_type = ?1 AND id = ?2 AND version = ?3",
                &[&state_type, &id, &version],
            )?),
            // Kept: the version is checked.
            (Change::Keep, Some(version)) => Some(run(
                "UPDATE states SET version = version \
                 WHERE state_type = ?1 AND id = ?2 AND version = ?3",
                &[&state_type, &id, &version],
            )?),
            // Nothing read, nothing to write: it must still not exist.
            (Change::Keep | Change::Delete, None) => None,
        };
        if rows != Some(1) {
            let found: Option<i64> = tx
                .prepare_cached("SELECT version FROM states WHERE state_type = ?1 AND id = ?2")
                .and_then(|mut statement| {
                    statement
                        .query_row([state_type, id], |row| row.get(0))
                        .optional()
                })
                .map_err(sql)?;
            if rows.is_some() || found.is_some() {
                return Err(StoreError::Conflict {
                    key: key.clone(),
                    expected: commit.expected_version,
                    found: found.map(|version| version as u64),
                });
            }
        }
    }
    for op in &commit.schedules {
        match op {
            ScheduleOp::Cancel { key } => {
                run("DELETE FROM schedules WHERE schedule_key = ?1", &[key])?;
            }
            ScheduleOp::Add(scheduled) => {
                let (event_type, payload) = scheduled.event.to_json_text();
                run(
                    "INSERT INTO schedules (id, schedule_key, due_at_ms, updates_every_ms, event_type, payload) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    &[
                        &id_text(scheduled.id),
                        &scheduled.key,
                        &(scheduled.due_at_ms as i64),
                        &scheduled.updates_every_ms.map(|period| period as i64),
                        &event_type,
                        &payload,
                    ],
                )?;
            }
        }
    }
    if let Some(delivery) = &commit.delivery {
        run(
            "INSERT INTO deliveries (entry, position, handler) VALUES (?1, ?2, ?3) \
             ON CONFLICT DO NOTHING",
            &[
                &id_text(delivery.entry),
                &i64::from(delivery.position),
                &i64::from(delivery.handler),
            ],
        )?;
    }
    if let Some(entry) = &commit.outbox {
        run(
            "INSERT INTO outbox (id, effects) VALUES (?1, ?2)",
            &[&id_text(entry.id), &effects_text(entry)],
        )?;
    }
    Ok(())
}
