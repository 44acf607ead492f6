//! Reading back the effects a store holds at start: pending schedules and
//! the outbox.
//!
//! They may have been written by an older release. Each is read leniently
//! at the schema version it was written at ([`Registry::decode_stored`]):
//! unknown fields are ignored, new fields take their defaults, older shapes
//! are upcast. One that still does not read (its type is gone, its payload
//! no longer fits) must not keep the server from starting, and must not be
//! dropped either: it is set aside in the store with the reason
//! ([`Store::set_aside`]), logged with where it was, and counted
//! ([`Bus::set_aside_at_start`](crate::Bus::set_aside_at_start)).

use crate::builder::Registry;
use crate::effect::Envelope;
use crate::runtime::batch::Replay;
use crate::runtime::store::{
    PendingEntry, SetAside, SetAsideSource, Store, StoreError, StoredEffect,
};
use crate::runtime::timers::{Timer, TimerIndex};

/// What the store held at start, decoded.
pub(super) struct Pending {
    /// The pending schedules that read.
    pub(super) timers: TimerIndex,
    /// The outbox entries to republish, with their readable effects.
    pub(super) outbox: Vec<Replay>,
    /// How many effects were set aside.
    pub(super) set_aside: usize,
}

/// Reads the pending schedules and outbox, and sets aside what does not read.
pub(super) async fn read_pending(
    registry: &Registry,
    store: &dyn Store,
    now_ms: u64,
) -> Result<Pending, StoreError> {
    let mut unreadable = Vec::new();
    let mut timers = TimerIndex::new();
    for scheduled in store.pending_schedules().await? {
        match decode(registry, &scheduled.event) {
            Ok(event) => timers.add(Timer::of(scheduled, event), now_ms),
            Err(reason) => unreadable.push(SetAside {
                source: SetAsideSource::Schedule(scheduled.id),
                effect: scheduled.event.to_text(),
                reason,
            }),
        }
    }

    let outbox = read_entries(registry, store.pending_outbox().await?, &mut unreadable);
    let set_aside = set_aside(store, unreadable).await?;
    Ok(Pending {
        timers,
        outbox,
        set_aside,
    })
}

/// Decodes outbox entries to republish; what does not read goes to
/// `unreadable`.
pub(super) fn read_entries(
    registry: &Registry,
    entries: Vec<PendingEntry>,
    unreadable: &mut Vec<SetAside>,
) -> Vec<Replay> {
    let mut outbox = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut effects = Vec::with_capacity(entry.effects.len());
        for (position, effect) in (0u32..).zip(&entry.effects) {
            match decode(registry, effect) {
                Ok(decoded) => effects.push((position, decoded)),
                Err(reason) => unreadable.push(SetAside {
                    source: SetAsideSource::Outbox {
                        entry: entry.id,
                        position,
                    },
                    effect: effect.to_text(),
                    reason,
                }),
            }
        }
        outbox.push(Replay {
            id: entry.id,
            effects,
            handled: entry.handled,
        });
    }
    outbox
}

/// Logs and sets aside what does not read; how many.
pub(super) async fn set_aside(
    store: &dyn Store,
    unreadable: Vec<SetAside>,
) -> Result<usize, StoreError> {
    let set_aside = unreadable.len();
    for item in &unreadable {
        tracing::error!(
            source = ?item.source,
            effect = item.effect.effect_type,
            schema_version = item.effect.schema_version,
            reason = item.reason,
            "a stored effect does not read in this release: set aside"
        );
    }
    if !unreadable.is_empty() {
        store.set_aside(unreadable).await?;
    }
    Ok(set_aside)
}

/// An effect as a store keeps it, decoded; the reason when it does not.
pub(super) fn decode(registry: &Registry, effect: &StoredEffect) -> Result<Envelope, String> {
    match effect {
        StoredEffect::Live(effect) => Ok(effect.clone()),
        StoredEffect::Json(text) => {
            let payload = serde_json::from_str(&text.payload)
                .map_err(|error| format!("the payload is not JSON: {error}"))?;
            registry
                .decode_stored(&text.effect_type, text.schema_version, payload)
                .map_err(|error| error.to_string())
        }
    }
}
