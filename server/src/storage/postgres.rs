//! PostgreSQL, for `--database-url postgres://...`. Writers do not take
//! turns here: optimistic concurrency is in the SQL (a write names the
//! version it read), so concurrent writers, even on other nodes, never
//! overwrite each other.

use std::time::Duration;

use bus::runtime::store::StoreError;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{Write, backend, sql_store};

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

sql_store!(PostgresStore, sqlx::Postgres);
