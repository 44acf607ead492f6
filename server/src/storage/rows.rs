//! Rows as both databases return them, read into the bus's types, and the
//! few values written as text (ids, an outbox entry's effects).

use foldhash::HashMap;

use bus::{
    EffectText, OutboxEntry, PendingEntry, Scheduled, StateBody, StoreError, Stored, StoredEffect,
};

/// Ids (128-bit) as fixed-width hex text, the same in every database.
pub(crate) fn id_text(id: u128) -> String {
    format!("{id:032x}")
}

pub(crate) fn parse_id(text: &str) -> Result<u128, StoreError> {
    u128::from_str_radix(text, 16)
        .map_err(|error| StoreError::backend(format!("a stored id is not hex: {text:?}"), error))
}

/// A `states` row's version, body and schema version.
pub(crate) fn stored(version: i64, body: String, schema_version: i64) -> Stored {
    Stored {
        version: version as u64,
        body: StateBody::json(body, schema_version as u32),
    }
}

/// An entry's effects as one JSON array of `{"type", "schemaVersion",
/// "payload"}`.
pub(crate) fn effects_text(entry: &OutboxEntry) -> String {
    use std::fmt::Write as _;
    // Written into one string: each effect's own, collected and joined,
    // was five allocations an effect on every commit's path.
    let mut text = String::with_capacity(128 * entry.effects.len() + 2);
    text.push('[');
    for (n, effect) in entry.effects.iter().enumerate() {
        if n > 0 {
            text.push(',');
        }
        // Wire names are Rust identifiers: nothing to escape.
        let _ = write!(
            text,
            r#"{{"type":"{}","schemaVersion":{},"payload":"#,
            effect.type_name(),
            effect.schema_version()
        );
        text.push_str(&effect.payload_text());
        text.push('}');
    }
    text.push(']');
    text
}

/// The effects of an outbox row; an effect written before schema versions
/// were stored is version 1.
fn effects_from_text(text: &str) -> Result<Vec<StoredEffect>, StoreError> {
    let effects: Vec<serde_json::Value> = serde_json::from_str(text)
        .map_err(|error| StoreError::backend("an outbox entry is not a JSON list", error))?;
    effects
        .into_iter()
        .map(|effect| match (effect.get("type"), effect.get("payload")) {
            (Some(serde_json::Value::String(name)), Some(payload)) => {
                let schema_version = effect
                    .get("schemaVersion")
                    .and_then(serde_json::Value::as_u64)
                    .map_or(1, |version| version as u32);
                Ok(StoredEffect::Json(EffectText {
                    effect_type: name.clone(),
                    schema_version,
                    payload: payload.to_string(),
                }))
            }
            _ => Err(StoreError::backend_says(format!(
                "not a stored effect: {effect}"
            ))),
        })
        .collect()
}

/// A `schedules` row (id, key, due, period, event type, payload, schema
/// version), as read by either database.
pub(crate) type ScheduleRow = (String, String, i64, Option<i64>, String, String, i64);

pub(crate) fn scheduled(
    (id, key, due, period, effect_type, payload, schema_version): ScheduleRow,
) -> Result<Scheduled, StoreError> {
    Ok(Scheduled {
        id: parse_id(&id)?,
        key,
        due_at_ms: due as u64,
        updates_every_ms: period.map(|period| period as u64),
        event: StoredEffect::Json(EffectText {
            effect_type,
            schema_version: schema_version as u32,
            payload,
        }),
    })
}

/// The pending outbox from its rows: `deliveries` (entry, position,
/// handler) and `entries` (id, effects) in commit order.
pub(crate) fn pending_entries(
    deliveries: Vec<(String, i64, i64)>,
    entries: Vec<(String, String)>,
) -> Result<Vec<PendingEntry>, StoreError> {
    let mut handled: HashMap<u128, Vec<(u32, u32)>> = HashMap::default();
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

/// Session rows (token, user id).
pub(crate) fn sessions(
    rows: Vec<(String, String)>,
) -> Result<Vec<(String, domain::UserId)>, StoreError> {
    rows.into_iter()
        .map(|(token, user)| {
            let user = user
                .parse()
                .map_err(|error| StoreError::backend("a session's user id", error))?;
            Ok((token, user))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entrys_effects_are_one_json_list_that_reads_back() {
        let game_id = domain::GameId::from_u128(9);
        let entry = OutboxEntry {
            id: 1,
            effects: vec![
                bus::Envelope::new(domain::GameCreated {
                    game_id,
                    creator: domain::UserId::from_u128(1),
                    version: 1,
                }),
                bus::Envelope::new(domain::WaitingGameClosed {
                    game_id,
                    creator: domain::UserId::from_u128(1),
                }),
            ],
        };
        let text = effects_text(&entry);
        let list: Vec<serde_json::Value> = serde_json::from_str(&text).expect("a JSON list");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["type"], "GameCreated");
        assert_eq!(list[0]["schemaVersion"], 1);
        assert_eq!(list[0]["payload"]["version"], 1);
        assert_eq!(list[1]["type"], "WaitingGameClosed");
        let read = effects_from_text(&text).expect("reads back");
        assert_eq!(read.len(), 2);
        assert_eq!(
            effects_text(&OutboxEntry {
                id: 2,
                effects: vec![]
            }),
            "[]"
        );
    }
}
