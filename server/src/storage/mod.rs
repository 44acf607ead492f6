//! Durable stores for the bus: the embedded SQLite file (the default) and
//! PostgreSQL. Both keep the same tables (states, schedules, the outbox and
//! its deliveries, sessions, effects set aside) with migrations embedded in
//! the binary and run at start-up, and run the same SQL ([`sql`]).
//!
//! A handler's result is one transaction: the state written only if its
//! version is still the one the handler read (optimistic concurrency), the
//! schedule changes, the effects it emitted (an outbox entry) and the
//! delivery it handled. A process killed at any point loses no committed
//! transaction.

pub mod ephemeral;
pub mod fault;
mod postgres;
mod rows;
mod sql;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::{DATABASE_FILE, SqliteStore};

/// Now, for the rows that record when something happened.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
