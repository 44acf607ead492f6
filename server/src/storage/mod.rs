//! Durable stores for the bus: the embedded SQLite file (the default) and
//! PostgreSQL. Both keep the same tables (states, schedules, the outbox and
//! its deliveries, sessions) with migrations embedded in the binary and run
//! at start-up.
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
