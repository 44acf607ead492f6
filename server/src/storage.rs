//! The embedded database: the bus's states and pending schedules, and the
//! sessions, in one SQLite file (WAL mode) under the data directory.
//!
//! Each handler's result is one transaction. A process killed at any point
//! (even `kill -9`) loses no committed transaction: WAL with
//! `synchronous = NORMAL` is durable against process crashes (only a power
//! cut may lose the last moments).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use bus::Change;
use bus::runtime::store::{
    Commit, ScheduleId, ScheduleOp, Scheduled, ScheduledEvent, Store, StoreError, StoreFuture,
};
use bus::state::{StateBody, StateKey, Stored};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::Mutex;

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "tictactoe.db";

/// Migrations, embedded in the binary and run at start-up.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite-backed [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// SQLite has one writer at a time; taking turns here avoids lock
    /// upgrade failures between concurrent transactions.
    writer: Mutex<()>,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
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

    /// The pool, for the session table.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn commit_now(&self, commit: Commit) -> Result<(), StoreError> {
        let _turn = self.writer.lock().await;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        if let Some(key) = &commit.key {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT version FROM states WHERE state_type = ? AND id = ?")
                    .bind(key.state_type)
                    .bind(&key.id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
            let found = found.map(|version| version as u64);
            if found != commit.expected_version {
                return Err(StoreError::Conflict {
                    key: key.clone(),
                    expected: commit.expected_version,
                    found,
                });
            }
            match &commit.change {
                Change::Keep => {}
                Change::Set(body) => {
                    let version = found.map_or(1, |version| version + 1);
                    sqlx::query(
                        "INSERT INTO states (state_type, id, version, body) VALUES (?, ?, ?, ?) \
                         ON CONFLICT (state_type, id) DO UPDATE SET version = excluded.version, body = excluded.body",
                    )
                    .bind(key.state_type)
                    .bind(&key.id)
                    .bind(version as i64)
                    .bind(body.to_json_text().as_ref())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                }
                Change::Delete => {
                    sqlx::query("DELETE FROM states WHERE state_type = ? AND id = ?")
                        .bind(key.state_type)
                        .bind(&key.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                }
            }
        }
        for op in &commit.schedules {
            match op {
                ScheduleOp::Cancel { key } => {
                    sqlx::query("DELETE FROM schedules WHERE schedule_key = ?")
                        .bind(key)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                }
                ScheduleOp::Add(scheduled) => {
                    let (event_type, payload) = match &scheduled.event {
                        ScheduledEvent::Live(event) => (
                            event.type_name().to_owned(),
                            event.payload_json().to_string(),
                        ),
                        ScheduledEvent::Json {
                            event_type,
                            payload,
                        } => (event_type.clone(), payload.clone()),
                    };
                    sqlx::query(
                        "INSERT INTO schedules (id, schedule_key, due_at_ms, updates_every_ms, event_type, payload) \
                         VALUES (?, ?, ?, ?, ?, ?)",
                    )
                    .bind(format!("{:032x}", scheduled.id))
                    .bind(&scheduled.key)
                    .bind(scheduled.due_at_ms as i64)
                    .bind(scheduled.updates_every_ms.map(|period| period as i64))
                    .bind(event_type)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                }
            }
        }
        tx.commit().await.map_err(backend)
    }
}

fn stored(version: i64, body: String) -> Stored {
    Stored {
        version: version as u64,
        body: StateBody::Json(body.into()),
    }
}

impl Store for SqliteStore {
    fn load<'a>(&'a self, key: &'a StateKey) -> StoreFuture<'a, Option<Stored>> {
        Box::pin(async move {
            let row =
                sqlx::query("SELECT version, body FROM states WHERE state_type = ? AND id = ?")
                    .bind(key.state_type)
                    .bind(&key.id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
            Ok(row.map(|row| stored(row.get("version"), row.get("body"))))
        })
    }

    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT id, version, body FROM states WHERE state_type = ?")
                .bind(state_type)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
            Ok(rows
                .into_iter()
                .map(|row| (row.get("id"), stored(row.get("version"), row.get("body"))))
                .collect())
        })
    }

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        Box::pin(self.commit_now(commit))
    }

    fn pending_schedules(&self) -> StoreFuture<'_, Vec<Scheduled>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT id, schedule_key, due_at_ms, updates_every_ms, event_type, payload FROM schedules",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
            rows.into_iter()
                .map(|row| {
                    let id: String = row.get("id");
                    let id = ScheduleId::from_str_radix(&id, 16).map_err(backend)?;
                    let due: i64 = row.get("due_at_ms");
                    let period: Option<i64> = row.get("updates_every_ms");
                    Ok(Scheduled {
                        id,
                        key: row.get("schedule_key"),
                        due_at_ms: due as u64,
                        updates_every_ms: period.map(|period| period as u64),
                        event: ScheduledEvent::Json {
                            event_type: row.get("event_type"),
                            payload: row.get("payload"),
                        },
                    })
                })
                .collect()
        })
    }

    fn remove_schedule(&self, id: ScheduleId) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let _turn = self.writer.lock().await;
            sqlx::query("DELETE FROM schedules WHERE id = ?")
                .bind(format!("{id:032x}"))
                .execute(&self.pool)
                .await
                .map_err(backend)?;
            Ok(())
        })
    }
}

impl SqliteStore {
    /// Every session, to restore at start-up.
    pub async fn sessions(&self) -> Result<Vec<(String, uuid::Uuid)>, StoreError> {
        let rows = sqlx::query("SELECT token, user_id FROM sessions")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.into_iter()
            .map(|row| {
                let user: String = row.get("user_id");
                Ok((row.get("token"), user.parse().map_err(backend)?))
            })
            .collect()
    }
}

impl app::api::ssr::SessionStore for SqliteStore {
    fn save<'a>(
        &'a self,
        token: &'a str,
        user: uuid::Uuid,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let _turn = self.writer.lock().await;
            sqlx::query("INSERT INTO sessions (token, user_id) VALUES (?, ?)")
                .bind(token)
                .bind(user.to_string())
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(|error| error.to_string())
        })
    }
}
