//! PostgreSQL, for `--database-url postgres://...`. Writers do not take
//! turns here: optimistic concurrency is in the SQL (a write names the
//! version it read), so concurrent writers, even on other nodes, never
//! overwrite each other.

use std::time::Duration;

use bus::{
    Commit, Finished, PendingEntry, Scheduled, SetAside, StateKey, Store, StoreError, StoreFuture,
    Stored,
};
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};

use super::rows::{ScheduleRow, pending_entries, scheduled, sessions, stored};
use super::sql::{self, Executor, Param, Write};

/// Migrations, embedded in the binary and run at start-up.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per node: a write holds one for its transaction, and
/// group-free writes from many lanes run side by side.
const POOL_SIZE: u32 = 8;

/// A PostgreSQL-backed [`Store`].
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(super) pool: PgPool,
    /// This node, in a cluster (see `postgres_cluster.rs`).
    pub(super) node: Option<u64>,
}

pub(super) fn postgres(error: sqlx::Error) -> StoreError {
    StoreError::backend("PostgreSQL", error)
}

impl PostgresStore {
    /// Connects to `url` and migrates the database.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|error| StoreError::backend("cannot connect to PostgreSQL", error))?;
        MIGRATIONS.run(&pool).await.map_err(|error| {
            StoreError::backend("cannot migrate the PostgreSQL database", error)
        })?;
        Ok(Self { pool, node: None })
    }

    /// One write, one transaction: PostgreSQL takes concurrent writers.
    async fn write(&self, write: Write) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(postgres)?;
        let node = self.node.map_or(0, |node| node as i64);
        sql::apply(&mut OnConnection(&mut tx, node), &write).await?;
        tx.commit().await.map_err(postgres)
    }

    /// Every session, to restore at start-up.
    pub async fn sessions(&self) -> Result<Vec<(String, domain::UserId)>, StoreError> {
        let rows = sqlx::query_as(sql::SELECT_SESSIONS)
            .fetch_all(&self.pool)
            .await
            .map_err(postgres)?;
        sessions(rows)
    }
}

/// A connection with a transaction open on it, as an [`Executor`], and
/// the node it writes for.
struct OnConnection<'a>(&'a mut PgConnection, i64);

fn bound<'q>(
    sql: &'q str,
    params: &[Param<'q>],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    params
        .iter()
        .fold(sqlx::query(sql), |query, param| match *param {
            Param::Text(text) => query.bind(text),
            Param::Int(number) => query.bind(number),
            Param::MaybeInt(number) => query.bind(number),
        })
}

impl Executor for OnConnection<'_> {
    fn node(&self) -> i64 {
        self.1
    }

    async fn execute(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64, StoreError> {
        let done = bound(sql, params)
            .execute(&mut *self.0)
            .await
            .map_err(postgres)?;
        Ok(done.rows_affected())
    }

    async fn fetch_int(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Option<i64>, StoreError> {
        use sqlx::Row;
        let row = bound(sql, params)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(postgres)?;
        row.map(|row| row.try_get(0)).transpose().map_err(postgres)
    }
}

impl Store for PostgresStore {
    fn load<'a>(&'a self, key: &'a StateKey) -> StoreFuture<'a, Option<Stored>> {
        Box::pin(async move {
            let row: Option<(i64, String, i64)> = sqlx::query_as(sql::SELECT_STATE)
                .bind(key.state_type)
                .bind(&key.id)
                .fetch_optional(&self.pool)
                .await
                .map_err(postgres)?;
            Ok(row.map(|(version, body, schema_version)| stored(version, body, schema_version)))
        })
    }

    fn scan<'a>(&'a self, state_type: &'a str) -> StoreFuture<'a, Vec<(String, Stored)>> {
        Box::pin(async move {
            let rows: Vec<(String, i64, String, i64)> = sqlx::query_as(sql::SELECT_STATES_OF_TYPE)
                .bind(state_type)
                .fetch_all(&self.pool)
                .await
                .map_err(postgres)?;
            Ok(rows
                .into_iter()
                .map(|(id, version, body, schema_version)| {
                    (id, stored(version, body, schema_version))
                })
                .collect())
        })
    }

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        Box::pin(self.write(Write::Commit(commit)))
    }

    fn pending_schedules(&self) -> StoreFuture<'_, Vec<Scheduled>> {
        Box::pin(async move {
            let rows: Vec<ScheduleRow> = sqlx::query_as(sql::SELECT_SCHEDULES)
                .fetch_all(&self.pool)
                .await
                .map_err(postgres)?;
            rows.into_iter().map(scheduled).collect()
        })
    }

    /// A cluster's node starts with nothing of its own: what dead nodes
    /// left is taken over while it runs (`postgres_cluster.rs`).
    fn pending_outbox(&self) -> StoreFuture<'_, Vec<PendingEntry>> {
        Box::pin(async move {
            if self.node.is_some() {
                return Ok(Vec::new());
            }
            let deliveries = sqlx::query_as(sql::SELECT_DELIVERIES)
                .fetch_all(&self.pool)
                .await
                .map_err(postgres)?;
            let entries = sqlx::query_as(sql::SELECT_OUTBOX)
                .fetch_all(&self.pool)
                .await
                .map_err(postgres)?;
            pending_entries(deliveries, entries)
        })
    }

    fn finish(&self, finished: Vec<Finished>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(Write::Finish(finished)))
    }

    fn set_aside(&self, unreadable: Vec<SetAside>) -> StoreFuture<'_, ()> {
        let at_ms = super::now_ms();
        Box::pin(self.write(Write::SetAside { unreadable, at_ms }))
    }

    fn claim_schedule(&self, id: bus::ScheduleId, now_ms: u64) -> StoreFuture<'_, bool> {
        Box::pin(self.claim_one(id, now_ms))
    }

    fn claim_due_schedules(&self, now_ms: u64) -> StoreFuture<'_, Vec<Scheduled>> {
        Box::pin(self.claim_due(now_ms))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .map_err(postgres)?;
            Ok(())
        })
    }
}

impl app::api::sessions::SessionStore for PostgresStore {
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

    fn find<'a>(
        &'a self,
        token: &'a str,
    ) -> app::api::sessions::SessionFuture<'a, Option<domain::UserId>> {
        Box::pin(async move {
            let row: Option<(String,)> = sqlx::query_as(sql::SELECT_SESSION_USER)
                .bind(token)
                .fetch_optional(&self.pool)
                .await
                .map_err(|error| app::api::sessions::SessionStoreError(Box::new(error)))?;
            row.map(|(user,)| {
                user.parse::<domain::UserId>()
                    .map_err(|error| app::api::sessions::SessionStoreError(Box::new(error)))
            })
            .transpose()
        })
    }
}
