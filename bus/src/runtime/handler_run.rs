//! One run of a handler: the hooks around it, a panic turned into an
//! error, and its outcome split into what the store commits and what the
//! bus dispatches afterwards.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use crate::effect::Envelope;
use crate::framework::{CancelScheduledEvents, ScheduleEvent};
use crate::handler::{ErasedOutcome, Handler, Loaded};
use crate::outcome::Ctx;
use crate::runtime::bus::Bus;
use crate::runtime::hooks::{HandlerReport, HandlerRun};
use crate::runtime::store::{
    Commit, Delivery, OutboxEntry, OutboxId, ScheduleOp, Scheduled, StoredEffect,
};
use crate::state::StateKey;

/// A handler's outcome, ready to commit.
pub(super) struct Prepared {
    /// What the store writes, all or nothing.
    pub(super) commit: Commit,
    /// What to do once it is committed.
    pub(super) then: Committed,
}

/// What follows a commit: the timer index learns the schedule changes, the
/// emitted effects go out.
pub(super) struct Committed {
    /// The schedule changes, in order.
    pub(super) schedules: Vec<ScheduleOp>,
    /// The outbox entry the effects were committed as, if any.
    pub(super) entry: Option<OutboxId>,
    /// Everything the handler emitted, in order.
    pub(super) emitted: Vec<Envelope>,
    /// When the handler ran.
    pub(super) now: u64,
}

impl Bus {
    /// Runs the handler function with hooks around it; a panic becomes an error.
    pub(super) fn call(
        &self,
        handler: &dyn Handler,
        key: Option<&StateKey>,
        loaded: Loaded,
        effect: &Envelope,
        now: u64,
    ) -> Result<ErasedOutcome, String> {
        let hooks = &self.inner.hooks;
        let run = HandlerRun {
            handler: handler.name(),
            effect,
            key,
        };
        for hook in hooks {
            hook.before_handler(&run);
        }
        let started = (!hooks.is_empty()).then(Instant::now);
        let result = catch_unwind(AssertUnwindSafe(|| {
            handler.run(loaded, effect, &Ctx::at(now))
        }));
        let result = match result {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(error)) => Err(error.to_string()),
            Err(panic) => Err(panic_reason(panic.as_ref())),
        };
        if let Some(started) = started {
            let report = HandlerReport {
                elapsed: started.elapsed(),
                failure: result.as_ref().err().map(String::as_str),
            };
            for hook in hooks {
                hook.after_handler(&run, &report);
            }
        }
        result
    }

    /// Whether `effects`, emitted together, go into an outbox entry: when
    /// a handler takes one of them, or the bus keeps even those no
    /// handler takes ([`Runtime::unhandled_in_outbox`](crate::Runtime::unhandled_in_outbox)).
    pub(super) fn needs_outbox(&self, effects: &[Envelope]) -> bool {
        !effects.is_empty()
            && (self.inner.unhandled_in_outbox
                || effects
                    .iter()
                    .any(|effect| self.inner.registry.has_handler_for(effect)))
    }
}

/// Splits an outcome into the commit (with the outbox entry of the effects
/// to dispatch, when `needs_outbox` says they need one) and the schedule
/// changes for the timer index.
pub(super) fn prepare(
    key: Option<StateKey>,
    expected_version: Option<u64>,
    outcome: ErasedOutcome,
    delivery: Option<Delivery>,
    now: u64,
    needs_outbox: impl FnOnce(&[Envelope]) -> bool,
) -> Prepared {
    let mut schedules = Vec::new();
    let mut effects = Vec::new();
    for effect in &outcome.emitted {
        if let Some(schedule) = effect.downcast_ref::<ScheduleEvent>() {
            let scheduled = Scheduled {
                id: stored_id(),
                key: schedule.key.clone(),
                due_at_ms: now.saturating_add(schedule.after_ms),
                updates_every_ms: schedule.updates_every_ms,
                event: StoredEffect::Live(schedule.event.clone()),
            };
            schedules.push(ScheduleOp::Add(scheduled));
        } else if let Some(cancel) = effect.downcast_ref::<CancelScheduledEvents>() {
            schedules.push(ScheduleOp::Cancel {
                key: cancel.key.clone(),
            });
        } else {
            effects.push(effect.clone());
        }
    }
    let commit = Commit {
        key,
        expected_version,
        change: outcome.change,
        schedules: schedules.clone(),
        outbox: needs_outbox(&effects).then(|| OutboxEntry {
            id: stored_id(),
            effects,
        }),
        delivery,
    };
    let entry = commit.outbox.as_ref().map(|entry| entry.id);
    Prepared {
        commit,
        then: Committed {
            schedules,
            entry,
            emitted: outcome.emitted,
            now,
        },
    }
}

/// A new id for a stored schedule or outbox entry: time-ordered (UUID v7),
/// so a database's index of them grows at its end (one page touched per
/// group of new rows) instead of at a random page per row (v4).
fn stored_id() -> u128 {
    uuid::Uuid::now_v7().as_u128()
}

/// Schedules and cancellations are committed as schedule changes, not as
/// outbox effects.
pub(super) fn is_schedule_change(effect: &Envelope) -> bool {
    effect.is::<ScheduleEvent>() || effect.is::<CancelScheduledEvents>()
}

/// What a panic said, as a failure reason.
pub(super) fn panic_reason(panic: &(dyn std::any::Any + Send)) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned());
    format!("panicked: {message}")
}
