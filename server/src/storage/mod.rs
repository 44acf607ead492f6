//! Durable stores for the bus: the embedded SQLite file (the default) and
//! PostgreSQL. Both keep the same tables (states, schedules, the outbox and
//! its deliveries, sessions) with migrations embedded in the binary and run
//! at start-up, and both run the same SQL, written once in [`sql_store!`].
//!
//! A handler's result is one transaction: the state written only if its
//! version is still the one the handler read (optimistic concurrency), the
//! schedule changes, the effects it emitted (an outbox entry) and the
//! delivery it handled. A process killed at any point loses no committed
//! transaction.

pub mod ephemeral;
pub mod fault;
mod postgres;
mod sqlite;

use bus::runtime::store::{Commit, Finished, OutboxEntry, ScheduleId, StoreError, StoredEffect};
use bus::state::{StateBody, Stored};

pub use postgres::PostgresStore;
pub use sqlite::{DATABASE_FILE, SqliteStore};

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// Ids (128-bit) as fixed-width hex text, the same in every database.
fn id_text(id: u128) -> String {
    format!("{id:032x}")
}

fn parse_id(text: &str) -> Result<ScheduleId, StoreError> {
    u128::from_str_radix(text, 16).map_err(|error| backend(format!("id {text:?}: {error}")))
}

fn stored(version: i64, body: String) -> Stored {
    Stored {
        version: version as u64,
        body: StateBody::Json(body.into()),
    }
}

/// An entry's effects as one JSON array of `{"type", "payload"}`.
fn effects_text(entry: &OutboxEntry) -> Result<String, StoreError> {
    let effects: Vec<String> = entry.effects.iter().map(|e| e.to_json_text()).collect();
    Ok(format!("[{}]", effects.join(",")))
}

fn effects_from_text(text: &str) -> Result<Vec<StoredEffect>, StoreError> {
    let effects: Vec<serde_json::Value> = serde_json::from_str(text).map_err(backend)?;
    effects
        .into_iter()
        .map(|effect| match (effect.get("type"), effect.get("payload")) {
            (Some(serde_json::Value::String(name)), Some(payload)) => Ok(StoredEffect::Json {
                event_type: name.clone(),
                payload: payload.to_string(),
            }),
            _ => Err(backend(format!("not a stored effect: {effect}"))),
        })
        .collect()
}

/// One write to a database: each is all or nothing.
#[derive(Debug)]
pub(crate) enum Write {
    /// A handler's result.
    Commit(Commit),
    /// Outbox entries and schedules the bus is done with.
    Finish(Vec<Finished>),
    /// A new session.
    Session { token: String, user: uuid::Uuid },
}

/// The `IN ($1, $2, ...)` list of `count` parameters.
fn parameters(count: usize) -> String {
    let list: Vec<String> = (1..=count).map(|n| format!("${n}")).collect();
    format!("({})", list.join(", "))
}

/// The [`Store`](bus::Store) and session store of a sqlx database `$db`,
/// written once for both backends (their SQL is the same, with `$n`
/// parameters). `$store` has a `pool` for reads and an
/// `async fn write(&self, Write) -> Result<(), StoreError>` that runs
/// [`apply`](Self::apply) in a transaction.
macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Applies one write on an open transaction. A commit whose
            /// version check fails returns `Conflict` having written nothing:
            /// the state write comes first and is the check.
            async fn apply(
                connection: &mut <$db as sqlx::Database>::Connection,
                write: &$crate::storage::Write,
            ) -> Result<(), bus::runtime::store::StoreError> {
                use $crate::storage::{Write, backend};
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
                connection: &mut <$db as sqlx::Database>::Connection,
                finished: &[bus::runtime::store::Finished],
            ) -> Result<(), bus::runtime::store::StoreError> {
                use bus::runtime::store::Finished;
                use $crate::storage::{backend, id_text, parameters};
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
                connection: &mut <$db as sqlx::Database>::Connection,
                commit: &bus::runtime::store::Commit,
            ) -> Result<(), bus::runtime::store::StoreError> {
                use bus::Change;
                use bus::runtime::store::{ScheduleOp, StoreError};
                use $crate::storage::{backend, effects_text, id_text};

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
                        .bind(effects_text(entry)?)
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
                use sqlx::Row;
                use $crate::storage::backend;
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

        impl bus::Store for $store {
            fn load<'a>(
                &'a self,
                key: &'a bus::state::StateKey,
            ) -> bus::runtime::store::StoreFuture<'a, Option<bus::state::Stored>> {
                use sqlx::Row;
                use $crate::storage::{backend, stored};
                Box::pin(async move {
                    let row = sqlx::query(
                        "SELECT version, body FROM states WHERE state_type = $1 AND id = $2",
                    )
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
                use sqlx::Row;
                use $crate::storage::{backend, stored};
                Box::pin(async move {
                    let rows =
                        sqlx::query("SELECT id, version, body FROM states WHERE state_type = $1")
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
                Box::pin(self.write($crate::storage::Write::Commit(commit)))
            }

            fn pending_schedules(
                &self,
            ) -> bus::runtime::store::StoreFuture<'_, Vec<bus::runtime::store::Scheduled>> {
                use bus::runtime::store::{Scheduled, StoredEffect};
                use sqlx::Row;
                use $crate::storage::{backend, parse_id};
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT id, schedule_key, due_at_ms, updates_every_ms, event_type, payload FROM schedules",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                    rows.into_iter()
                        .map(|row| {
                            let due: i64 = row.get("due_at_ms");
                            let period: Option<i64> = row.get("updates_every_ms");
                            Ok(Scheduled {
                                id: parse_id(row.get("id"))?,
                                key: row.get("schedule_key"),
                                due_at_ms: due as u64,
                                updates_every_ms: period.map(|period| period as u64),
                                event: StoredEffect::Json {
                                    event_type: row.get("event_type"),
                                    payload: row.get("payload"),
                                },
                            })
                        })
                        .collect()
                })
            }

            fn pending_outbox(
                &self,
            ) -> bus::runtime::store::StoreFuture<'_, Vec<bus::runtime::store::PendingEntry>> {
                use bus::runtime::store::PendingEntry;
                use sqlx::Row;
                use $crate::storage::{backend, effects_from_text, parse_id};
                Box::pin(async move {
                    let mut handled: std::collections::HashMap<u128, Vec<(u32, u32)>> =
                        Default::default();
                    let rows = sqlx::query("SELECT entry, position, handler FROM deliveries")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend)?;
                    for row in rows {
                        let position: i64 = row.get("position");
                        let handler: i64 = row.get("handler");
                        handled
                            .entry(parse_id(row.get("entry"))?)
                            .or_default()
                            .push((position as u32, handler as u32));
                    }
                    let rows = sqlx::query("SELECT id, effects FROM outbox ORDER BY seq")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend)?;
                    rows.into_iter()
                        .map(|row| {
                            let id = parse_id(row.get("id"))?;
                            Ok(PendingEntry {
                                id,
                                effects: effects_from_text(row.get("effects"))?,
                                handled: handled.remove(&id).unwrap_or_default(),
                            })
                        })
                        .collect()
                })
            }

            fn finish(
                &self,
                finished: Vec<bus::runtime::store::Finished>,
            ) -> bus::runtime::store::StoreFuture<'_, ()> {
                Box::pin(self.write($crate::storage::Write::Finish(finished)))
            }
        }

        impl app::api::ssr::SessionStore for $store {
            fn save<'a>(
                &'a self,
                token: &'a str,
                user: uuid::Uuid,
            ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>
            {
                Box::pin(async move {
                    self.write($crate::storage::Write::Session {
                        token: token.to_owned(),
                        user,
                    })
                    .await
                    .map_err(|error| error.to_string())
                })
            }
        }
    };
}

use sql_store;
