//! PostgreSQL, for `--database-url postgres://...`. Writers do not take
//! turns here: optimistic concurrency is in the SQL (a write names the
//! version it read), so concurrent writers, even on other nodes, never
//! overwrite each other.

use std::time::Duration;

use bus::runtime::store::StoreError;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{Write, backend};

/// Migrations, embedded in the binary and run at start-up.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A PostgreSQL-backed [`Store`](bus::Store).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` and migrates the database.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|error| backend(format!("cannot connect to PostgreSQL: {error}")))?;
        MIGRATIONS.run(&pool).await.map_err(backend)?;
        Ok(Self { pool })
    }

    /// One write, one transaction: PostgreSQL takes concurrent writers.
    async fn write(&self, write: Write) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        Self::apply(&mut tx, &write).await?;
        tx.commit().await.map_err(backend)
    }
}

impl PostgresStore {
    /// Applies one write on an open transaction. A commit whose
    /// version check fails returns `Conflict` having written nothing:
    /// the state write comes first and is the check.
    async fn apply(
        connection: &mut <sqlx::Postgres as sqlx::Database>::Connection,
        write: &super::Write,
    ) -> Result<(), bus::runtime::store::StoreError> {
        use super::{Write, backend};
        match write {
            Write::Commit(commit) => Self::apply_commit(connection, commit).await,
            Write::Finish(finished) => Self::forget(connection, finished).await,
            Write::Session { token, user } => {
                sqlx::query("INSERT INTO sessions (token, user_id) VALUES ($1, $2)")
                    .bind(token)
                    .bind(user.to_string())
                    .execute(&mut *connection)
                    .await
                    .map(|_| ())
                    .map_err(backend)
            }
        }
    }

    /// Deletes finished entries with their deliveries, and fired
    /// schedules, a statement per table.
    async fn forget(
        connection: &mut <sqlx::Postgres as sqlx::Database>::Connection,
        finished: &[bus::runtime::store::Finished],
    ) -> Result<(), bus::runtime::store::StoreError> {
        use super::{backend, id_text, parameters};
        use bus::runtime::store::Finished;
        let entries: Vec<String> = finished
            .iter()
            .filter_map(|done| match done {
                Finished::Entry(id) => Some(id_text(*id)),
                Finished::Schedule(_) => None,
            })
            .collect();
        let schedules: Vec<String> = finished
            .iter()
            .filter_map(|done| match done {
                Finished::Schedule(id) => Some(id_text(*id)),
                Finished::Entry(_) => None,
            })
            .collect();
        let statements = [
            ("DELETE FROM deliveries WHERE entry IN ", &entries),
            ("DELETE FROM outbox WHERE id IN ", &entries),
            ("DELETE FROM schedules WHERE id IN ", &schedules),
        ];
        for (statement, ids) in statements {
            if ids.is_empty() {
                continue;
            }
            let sql = format!("{statement}{}", parameters(ids.len()));
            let mut query = sqlx::query(&sql);
            for id in ids {
                query = query.bind(id);
            }
            query.execute(&mut *connection).await.map_err(backend)?;
        }
        Ok(())
    }

    async fn apply_commit(
        connection: &mut <sqlx::Postgres as sqlx::Database>::Connection,
        commit: &bus::runtime::store::Commit,
    ) -> Result<(), bus::runtime::store::StoreError> {
        use super::{backend, effects_text, id_text};
        use bus::Change;
        use bus::runtime::store::{ScheduleOp, StoreError};

        let tx = connection;
        if let Some(key) = &commit.key {
            let (state_type, id) = (key.state_type, key.id.as_str());
            let expected = commit.expected_version.map(|version| version as i64);
            let body = match &commit.change {
                Change::Set(body) => body.to_json_text(),
                _ => Default::default(),
            };
            let written = match (&commit.change, expected) {
                (Change::Set(_), None) => Some(
                    sqlx::query(
                        "INSERT INTO states (state_type, id, version, body) VALUES ($1, $2, 1, $3) \
                         ON CONFLICT (state_type, id) DO NOTHING",
                    )
                    .bind(state_type)
                    .bind(id)
                    .bind(body.as_ref()),
                ),
                (Change::Set(_), Some(version)) => Some(
                    sqlx::query(
                        "UPDATE states SET version = $3 + 1, body = $4 \
                         WHERE state_type = $1 AND id = $2 AND version = $3",
                    )
                    .bind(state_type)
                    .bind(id)
                    .bind(version)
                    .bind(body.as_ref()),
                ),
                (Change::Delete, Some(version)) => Some(
                    sqlx::query(
                        "DELETE FROM states WHERE state_type = $1 AND id = $2 AND version = $3",
                    )
                    .bind(state_type)
                    .bind(id)
                    .bind(version),
                ),
                // Kept: the version is checked, and the row held
                // until the commit.
                (Change::Keep, Some(version)) => Some(
                    sqlx::query(
                        "UPDATE states SET version = version \
                         WHERE state_type = $1 AND id = $2 AND version = $3",
                    )
                    .bind(state_type)
                    .bind(id)
                    .bind(version),
                ),
                // Nothing read, nothing to write: it must still not exist.
                (Change::Keep | Change::Delete, None) => None,
            };
            let rows = match written {
                Some(query) => Some(
                    query
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?
                        .rows_affected(),
                ),
                None => None,
            };
            if rows != Some(1) {
                let found: Option<i64> = sqlx::query_scalar(
                    "SELECT version FROM states WHERE state_type = $1 AND id = $2",
                )
                .bind(state_type)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
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
                    sqlx::query("DELETE FROM schedules WHERE schedule_key = $1")
                        .bind(key)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                }
                ScheduleOp::Add(scheduled) => {
                    let (event_type, payload) = scheduled.event.to_json_text();
                    sqlx::query(
                        "INSERT INTO schedules (id, schedule_key, due_at_ms, updates_every_ms, event_type, payload) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(id_text(scheduled.id))
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
        if let Some(delivery) = &commit.delivery {
            sqlx::query(
                "INSERT INTO deliveries (entry, position, handler) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id_text(delivery.entry))
            .bind(i64::from(delivery.position))
            .bind(i64::from(delivery.handler))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        if let Some(entry) = &commit.outbox {
            sqlx::query("INSERT INTO outbox (id, effects) VALUES ($1, $2)")
                .bind(id_text(entry.id))
                .bind(effects_text(entry))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    /// Every session, to restore at start-up.
    pub async fn sessions(
        &self,
    ) -> Result<Vec<(String, uuid::Uuid)>, bus::runtime::store::StoreError> {
        use super::backend;
        use sqlx::Row;
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

impl bus::Store for PostgresStore {
    fn load<'a>(
        &'a self,
        key: &'a bus::state::StateKey,
    ) -> bus::runtime::store::StoreFuture<'a, Option<bus::state::Stored>> {
        use super::{backend, stored};
        use sqlx::Row;
        Box::pin(async move {
            let row =
                sqlx::query("SELECT version, body FROM states WHERE state_type = $1 AND id = $2")
                    .bind(key.state_type)
                    .bind(&key.id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
            Ok(row.map(|row| stored(row.get("version"), row.get("body"))))
        })
    }

    fn scan<'a>(
        &'a self,
        state_type: &'a str,
    ) -> bus::runtime::store::StoreFuture<'a, Vec<(String, bus::state::Stored)>> {
        use super::{backend, stored};
        use sqlx::Row;
        Box::pin(async move {
            let rows = sqlx::query("SELECT id, version, body FROM states WHERE state_type = $1")
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

    fn commit(
        &self,
        commit: bus::runtime::store::Commit,
    ) -> bus::runtime::store::StoreFuture<'_, ()> {
        Box::pin(self.write(super::Write::Commit(commit)))
    }

    fn pending_schedules(
        &self,
    ) -> bus::runtime::store::StoreFuture<'_, Vec<bus::runtime::store::Scheduled>> {
        use super::{ScheduleRow, backend, scheduled};
        Box::pin(async move {
            let rows: Vec<ScheduleRow> = sqlx::query_as(
                "SELECT id, schedule_key, due_at_ms, updates_every_ms, event_type, payload FROM schedules",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
            rows.into_iter().map(scheduled).collect()
        })
    }

    fn pending_outbox(
        &self,
    ) -> bus::runtime::store::StoreFuture<'_, Vec<bus::runtime::store::PendingEntry>> {
        use super::{backend, pending_entries};
        Box::pin(async move {
            let deliveries = sqlx::query_as("SELECT entry, position, handler FROM deliveries")
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
            let entries = sqlx::query_as("SELECT id, effects FROM outbox ORDER BY seq")
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
            pending_entries(deliveries, entries)
        })
    }

    fn finish(
        &self,
        finished: Vec<bus::runtime::store::Finished>,
    ) -> bus::runtime::store::StoreFuture<'_, ()> {
        Box::pin(self.write(super::Write::Finish(finished)))
    }
}

impl app::api::ssr::SessionStore for PostgresStore {
    fn save<'a>(
        &'a self,
        token: &'a str,
        user: uuid::Uuid,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.write(super::Write::Session {
                token: token.to_owned(),
                user,
            })
            .await
            .map_err(|error| error.to_string())
        })
    }
}
