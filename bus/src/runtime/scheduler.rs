//! Firing schedules on time: a task sleeps until the next one is due (or
//! the index changes), fires what is due, and sleeps again. With a fake
//! clock the task is off and tests move time with [`Bus::advance_to`].

use std::time::Duration;

use crate::effect::Envelope;
use crate::framework::ScheduledEventUpdate;
use crate::runtime::bus::Bus;
use crate::runtime::store::Finished;
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
                    for hook in &self.inner.hooks {
                        hook.timer_fired(&timer.event);
                    }
                    // At least once: the store forgets the schedule when its
                    // handlers have run; a crash before that fires it again.
                    self.dispatch_batch(Finished::Schedule(timer.id), [timer.event], &[]);
                }
            }
        }
        fired
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
