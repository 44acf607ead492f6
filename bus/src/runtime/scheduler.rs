//! Firing schedules on time: a task sleeps until the next one is due (or
//! the index changes), fires what is due, and sleeps again. With a fake
//! clock the task is off and tests move time with [`Bus::advance_to`].
//!
//! When other processes share the store (a cluster), a schedule may be
//! made, cancelled or fired by any of them: each due one is claimed in the
//! store before it fires, so exactly one process fires it, and a second
//! task claims, every poll interval, the due schedules no process holds
//! (those others made, a dead process's among them), so a schedule fires
//! on time even when the process that made it is gone.

use std::time::Duration;

use crate::effect::Envelope;
use crate::framework::ScheduledEventUpdate;
use crate::runtime::bus::Bus;
use crate::runtime::store::{Finished, ScheduleId, SetAside, SetAsideSource};
use crate::runtime::stored_effects;
use crate::runtime::timers::Fired;

impl Bus {
    /// Schedules pending now.
    pub fn pending_timers(&self) -> usize {
        self.timers().len()
    }

    /// When the next schedule (or update) is due.
    pub fn next_timer_due(&self) -> Option<u64> {
        self.timers().next_due()
    }

    /// Fires everything due on the bus clock now; how many fired.
    pub async fn fire_due_timers(&self) -> usize {
        let now = self.now_ms();
        let mut fired = 0;
        loop {
            let next = self.timers().pop_due(now);
            let Some(next) = next else { break };
            fired += 1;
            match next {
                Fired::Update { timer, at_ms } => {
                    self.dispatch(Envelope::new(ScheduledEventUpdate {
                        key: timer.key,
                        event_type: timer.event.type_name().to_owned(),
                        due_at_ms: timer.due_at_ms,
                        remaining_ms: timer.due_at_ms.saturating_sub(at_ms),
                    }))
                }
                Fired::Due(timer) => {
                    if self.claimed(timer.id, now).await {
                        self.fire(timer.id, timer.event);
                    }
                }
            }
        }
        fired
    }

    /// Delivers schedule `id`'s event. At least once: the store forgets the
    /// schedule when its handlers have run; a crash before that fires it
    /// again.
    fn fire(&self, id: ScheduleId, event: Envelope) {
        for hook in &self.inner.hooks {
            hook.timer_fired(&event);
        }
        self.dispatch_batch(Finished::Schedule(id), [event], &[]);
    }

    /// Whether this process may fire schedule `id` (always, unless the
    /// store's schedules are shared and another has it, or it is gone).
    async fn claimed(&self, id: ScheduleId, now: u64) -> bool {
        if self.inner.shared_schedules.is_none() {
            return true;
        }
        match self.inner.store.claim_schedule(id, now).await {
            Ok(mine) => mine,
            Err(error) => {
                // The poll claims it once the store answers again.
                tracing::warn!(%error, "cannot claim a due schedule");
                false
            }
        }
    }

    /// Claims and fires the due schedules no process holds, every `every`.
    pub(super) async fn claim_shared_timers(self, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.inner.stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let now = self.now_ms();
            let due = match self.inner.store.claim_due_schedules(now).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "cannot claim due schedules");
                    continue;
                }
            };
            for scheduled in due {
                match stored_effects::decode(self.registry(), &scheduled.event) {
                    Ok(event) => self.fire(scheduled.id, event),
                    Err(reason) => {
                        let aside = SetAside {
                            source: SetAsideSource::Schedule(scheduled.id),
                            effect: scheduled.event.to_text(),
                            reason,
                        };
                        let store = self.inner.store.as_ref();
                        if let Err(error) = stored_effects::set_aside(store, vec![aside]).await {
                            tracing::error!(%error, "cannot set a schedule aside");
                        }
                    }
                }
            }
        }
    }

    /// For a fake clock: moves through every due time up to `target_ms` in
    /// order, firing and settling at each, so schedules made by what fires
    /// also fire when they fall inside the window. `set_clock` moves the
    /// clock (a [`FakeClock`](crate::FakeClock)'s `set`).
    pub async fn advance_to(&self, target_ms: u64, set_clock: impl Fn(u64)) {
        self.settle().await;
        while let Some(next) = self.next_timer_due().filter(|next| *next <= target_ms) {
            set_clock(next.max(self.now_ms()));
            self.fire_due_timers().await;
            self.settle().await;
        }
        set_clock(target_ms);
    }

    /// The timer task, on the real clock.
    pub(super) async fn drive_timers(self) {
        loop {
            let changed = self.inner.timers_changed.notified();
            let wait = self
                .next_timer_due()
                .map(|due| Duration::from_millis(due.saturating_sub(self.now_ms())));
            tokio::select! {
                () = self.inner.stop.cancelled() => return,
                () = changed => continue,
                () = sleep_or_forever(wait) => {
                    self.fire_due_timers().await;
                }
            }
        }
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}
