//! The embedded database: one SQLite file (WAL mode) under the data
//! directory. WAL with `synchronous = NORMAL` is durable against process
//! crashes, even `kill -9` (only a power cut may lose the last moments).
//!
//! This process is the file's only writer, so the store keeps its states in
//! memory as well (read at start-up) and reads never touch the disk; only
//! the state types named "on disk only" (written once, seldom read, and
//! many: a history's old pages) are read from the file when asked for.
//! Each write takes the writer in turn ([`writer`]) and goes to a journal
//! (a file of its own, [`journal_file`]; its ops, [`journal`]) folded into
//! the tables every few seconds by a thread and a connection of their own
//! ([`fold`]); the writer updates the states in memory as each write is
//! taken into the journal, and the caller hears back once it is; its line
//! is written before anything leaves the process ([`SqliteStore::barrier`]).
//! Migrations are sqlx's, run at start-up before anything else.

mod fold;
mod journal;
mod journal_file;
mod journal_line;
mod on_disk_keys;
mod writer;

#[cfg(test)]
mod journal_tests;

use foldhash::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bus::{
    Commit, Finished, MemoryStore, PendingEntry, Scheduled, SetAside, StateKey, Store, StoreError,
    StoreFuture, Stored,
};
use rusqlite::{Connection, OptionalExtension};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use super::Barrier;
use super::rows::{pending_entries, scheduled, sessions, stored};
use super::sql::{self, Write};
use fold::Folder;
use writer::Writer;

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "tictactoe.db";

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
    /// Those of their states whose last change is not in the table yet.
    unwritten: Arc<journal::Unwritten>,
    /// Every state, as committed.
    states: Arc<MemoryStore>,
    /// The writer, which each write takes in turn (and the fold, to take
    /// what the journal holds). A thread's lock, held for one commit's
    /// few microseconds and never across an await: Tokio's lock hands
    /// itself to the next waiting task, which on a busy core waited its
    /// turn behind every task woken before it, holding the lock all that
    /// while: 40% of commits took 1 to 5 ms at 1,000 games, nearly all of
    /// it waiting (docs/performance.md, "The fold beside the writer").
    writer: Arc<Mutex<Writer>>,
    /// Commits are taken in whose lines are not written yet (see
    /// [`Self::barrier`]).
    unflushed: Arc<AtomicBool>,
    /// The fold, run by its own thread (and at once by [`Self::fold`]).
    folder: Arc<Mutex<Folder>>,
    /// Wakes the fold before its time; dropped with the store, it stops
    /// the fold's thread (the next start folds what is left).
    fold_now: std::sync::mpsc::SyncSender<()>,
}

pub(super) fn sqlite(error: rusqlite::Error) -> StoreError {
    StoreError::backend(format!("SQLite: {error}"), error)
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
        let dir = data_dir.to_owned();
        let (connection, journal, (states, unwritten)) = tokio::task::spawn_blocking(move || {
            let mut connection = connect(&opened)?;
            // What the last run journaled and did not fold, into the tables.
            let journal = fold::recover(&mut connection, &dir)?;
            let states = read_states(&connection, &skipped)?;
            Ok::<_, StoreError>((connection, journal, states))
        })
        .await
        .map_err(|error| StoreError::backend("the SQLite start-up read stopped", error))??;
        // The fold checkpoints (copies the WAL back into the database) as
        // SQLite does by default, after its transactions (the only ones that
        // write the WAL now, with the journal a file), so the log always
        // catches up and starts over; but after a commit that takes it past
        // 40,000 pages (160 MB) rather than 1,000. Each checkpoint held up the
        // writes queued meanwhile (when the fold ran under the writer's lock);
        // at 10 games (players waiting for each answer) the default's frequent
        // ones made p99 7.4 ms, 10,000 pages 1.5 ms (7,029 -> 7,329 moves/s).
        // Rarer, a page the folds rewrite many times goes back to the database
        // once: at 1,000 games 40,000 pages against 10,000 wrote a sixth fewer
        // bytes per move and cost a tenth less CPU (max wait at 10 games 76 ->
        // 201 ms, p99 unchanged; docs/performance.md, "The journal"). A thread
        // of its own beside the writer did worse: its passive checkpoints never
        // caught up with the writes (the log grew by 170 MB a second), and the
        // RESTART that bounded the log held the write lock while it waited for
        // its turn on a busy core (commits failed with "database is locked"
        // after 5 s).
        let folding = connect(&path)?;
        folding
            .pragma_update(None, "wal_autocheckpoint", 40_000)
            .map_err(sqlite)?;
        let (states, unwritten) = (Arc::new(states), Arc::new(unwritten));
        let folder = Arc::new(Mutex::new(Folder::new(
            folding,
            data_dir,
            on_disk_only.clone(),
            unwritten.clone(),
        )));
        let unflushed = Arc::new(AtomicBool::new(false));
        let writer = Arc::new(Mutex::new(Writer {
            connection,
            states: states.clone(),
            on_disk_only: on_disk_only.clone(),
            unwritten: unwritten.clone(),
            journal,
            unfolded: journal::Unfolded::fresh(),
            unflushed: unflushed.clone(),
        }));
        let (fold_now, wake) = std::sync::mpsc::sync_channel(1);
        let (to_take, to_fold) = (Arc::downgrade(&writer), Arc::downgrade(&folder));
        std::thread::Builder::new()
            .name("sqlite-fold".into())
            .spawn(move || fold::fold_in_background(to_take, to_fold, wake))
            .map_err(|error| StoreError::backend("cannot start the SQLite fold", error))?;
        let reader = Arc::new(Mutex::new(connect(&path)?));
        Ok(Self {
            reader,
            on_disk_only,
            unwritten,
            states,
            writer,
            unflushed,
            folder,
            fold_now,
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

    /// The barrier before anything leaves the process: it writes the
    /// journal's lines taken in since the last write, if any (a load of one
    /// flag when there are none).
    pub fn barrier(&self) -> Barrier {
        let (unflushed, writer) = (self.unflushed.clone(), self.writer.clone());
        Barrier::new(move || {
            if !unflushed.load(Ordering::Acquire) {
                return Ok(());
            }
            writer::lock(&writer).flush()
        })
    }

    /// Every session, to restore at start-up.
    pub async fn sessions(&self) -> Result<Vec<(String, domain::UserId)>, StoreError> {
        self.read(read_sessions).await
    }

    /// Commits a write on the calling thread, once the writer is free;
    /// helps the fold when it is behind.
    async fn write(&self, write: Write) -> Result<(), StoreError> {
        let (written, unfolded) = {
            let mut writer = writer::lock(&self.writer);
            (writer.commit(&write), writer.unfolded.len())
        };
        if unfolded >= fold::FOLD_OPS {
            // Refused when full: a wake-up is on its way already (or a
            // fold is under way: the next starts right after it).
            let _ = self.fold_now.try_send(());
        }
        if unfolded >= fold::FOLD_BACKLOG {
            fold::help(&self.writer, &self.folder);
        }
        written
    }

    /// Folds the journal into the tables, on a blocking thread.
    async fn fold(&self) -> Result<(), StoreError> {
        let (writer, folder) = (self.writer.clone(), self.folder.clone());
        tokio::task::spawn_blocking(move || {
            fold::lock(&folder).fold_all(|| writer::lock(&writer).take_for_fold())
        })
        .await
        .map_err(|error| StoreError::backend("the SQLite fold stopped", error))?
    }

    async fn commit_now(&self, commit: Commit) -> Result<(), StoreError> {
        if let Some(key) = &commit.key {
            if self.on_disk_only.contains(key.state_type) {
                // The version check is the writer's alone.
                return self.write(Write::Commit(commit)).await;
            }
            // A stale read fails here, before it waits for the writer;
            // the writer checks again, and changes the memory as it commits.
            let found = self.states.version(key);
            if found != commit.expected_version {
                return Err(StoreError::Conflict {
                    key: key.clone(),
                    expected: commit.expected_version,
                    found,
                });
            }
        }
        self.write(Write::Commit(commit)).await
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

/// Every state, into memory, but for those kept on disk only, whose keys
/// go into what is unwritten (which keys the table holds).
fn read_states(
    connection: &Connection,
    on_disk_only: &HashSet<&'static str>,
) -> Result<(MemoryStore, journal::Unwritten), StoreError> {
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
    let mut known_types: HashMap<String, &'static str> = HashMap::default();
    let mut on_disk = Vec::new();
    for (state_type, id, version, body, schema_version) in rows {
        if on_disk_only.contains(state_type.as_str()) {
            on_disk.push((state_type, id));
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
    let in_table = on_disk
        .iter()
        .map(|(state_type, id)| (state_type.as_str(), id.as_str()));
    Ok((states, journal::Unwritten::over(in_table)))
}

/// A state's row in the `states` table.
fn read_state(connection: &Connection, key: &StateKey) -> Result<Option<Stored>, StoreError> {
    connection
        .prepare_cached(sql::SELECT_STATE)
        .map_err(sqlite)?
        .query_row([key.state_type, key.id.as_str()], |row| {
            Ok(stored(row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()
        .map_err(sqlite)
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
        Box::pin(async move {
            // Unwritten, or known not to be in the table: every game's
            // end loads its record, absent until then (`OnDiskKeys`).
            if let Some(unwritten) = self.unwritten.get(key) {
                return Ok(unwritten);
            }
            // One row by its primary key, on the calling thread: about as
            // long as handing it to a blocking thread took, which on a
            // busy core also switched threads twice: those hand-offs were
            // 4.5% of the server's time at 1,000 games when every
            // record's load went to the table (docs/performance.md, "The
            // journal in a file"). It waits for the connection while a
            // blocking read holds it (the pending schedules and outbox,
            // read at start-up and resync).
            let connection = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
            read_state(&connection, key)
        })
    }

    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>> {
        if !self.on_disk_only.contains(state_type) {
            return self.states.scan(state_type);
        }
        let state_type = state_type.to_owned();
        Box::pin(async move {
            // Read before the table: a state folded meanwhile is in the
            // table by the time the table is read.
            let unwritten: HashMap<String, Option<Stored>> =
                self.unwritten.of_type(&state_type).into_iter().collect();
            let mut found: Vec<(String, Stored)> = self
                .read(move |connection| {
                    let mut statement = connection
                        .prepare_cached(sql::SELECT_STATES_OF_TYPE)
                        .map_err(sqlite)?;
                    let rows = statement
                        .query_map([state_type], |row| {
                            Ok((row.get(0)?, stored(row.get(1)?, row.get(2)?, row.get(3)?)))
                        })
                        .map_err(sqlite)?;
                    rows.collect::<Result<_, _>>().map_err(sqlite)
                })
                .await?;
            found.retain(|(id, _)| !unwritten.contains_key(id));
            found.extend(
                unwritten
                    .into_iter()
                    .filter_map(|(id, state)| Some((id, state?))),
            );
            Ok(found)
        })
    }

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        Box::pin(self.commit_now(commit))
    }

    fn pending_schedules(&self) -> StoreFuture<'_, Vec<Scheduled>> {
        Box::pin(async move {
            self.fold().await?;
            self.read(read_schedules).await
        })
    }

    fn pending_outbox(&self) -> StoreFuture<'_, Vec<PendingEntry>> {
        Box::pin(async move {
            self.fold().await?;
            self.read(read_outbox).await
        })
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
