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

use std::collections::HashMap;

use bus::runtime::store::{
    Commit, Finished, OutboxEntry, PendingEntry, ScheduleId, Scheduled, StoreError, StoredEffect,
};
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
fn effects_text(entry: &OutboxEntry) -> String {
    let effects: Vec<String> = entry.effects.iter().map(|e| e.to_json_text()).collect();
    format!("[{}]", effects.join(","))
}

/// A `schedules` row (id, key, due, period, event type, payload), as read
/// by either database.
type ScheduleRow = (String, String, i64, Option<i64>, String, String);

fn scheduled(
    (id, key, due, period, event_type, payload): ScheduleRow,
) -> Result<Scheduled, StoreError> {
    Ok(Scheduled {
        id: parse_id(&id)?,
        key,
        due_at_ms: due as u64,
        updates_every_ms: period.map(|period| period as u64),
        event: StoredEffect::Json {
            event_type,
            payload,
        },
    })
}

/// The pending outbox from its rows: `deliveries` (entry, position,
/// handler) and `entries` (id, effects) in commit order.
fn pending_entries(
    deliveries: Vec<(String, i64, i64)>,
    entries: Vec<(String, String)>,
) -> Result<Vec<PendingEntry>, StoreError> {
    let mut handled: HashMap<u128, Vec<(u32, u32)>> = HashMap::new();
    for (entry, position, handler) in deliveries {
        handled
            .entry(parse_id(&entry)?)
            .or_default()
            .push((position as u32, handler as u32));
    }
    entries
        .into_iter()
        .map(|(id, effects)| {
            let id = parse_id(&id)?;
            Ok(PendingEntry {
                id,
                effects: effects_from_text(&effects)?,
                handled: handled.remove(&id).unwrap_or_default(),
            })
        })
        .collect()
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
