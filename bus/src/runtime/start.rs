//! [`Bus::start`]: reads what the store holds, starts the lanes, the task
//! that tells the store what is finished and the timer task, then
//! republishes what the outbox still holds.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::builder::Registry;
use crate::runtime::bus::{Bus, Inner};
use crate::runtime::error::BusError;
use crate::runtime::settings::Runtime;
use crate::runtime::stored_effects;

impl Bus {
    /// Starts a bus on the current tokio runtime: reloads the pending
    /// schedules that `runtime`'s store holds and republishes what its
    /// outbox still holds. A stored effect that no longer reads is set
    /// aside in the store (see [`Store::set_aside`](crate::Store::set_aside)),
    /// not a reason to stop.
    pub async fn start(registry: Registry, runtime: Runtime) -> Result<Self, BusError> {
        let now = runtime.clock.now_ms();
        let pending = stored_effects::read_pending(&registry, runtime.store.as_ref(), now).await?;

        let mut senders = Vec::with_capacity(runtime.lanes);
        let mut receivers = Vec::with_capacity(runtime.lanes);
        for _ in 0..runtime.lanes {
            let (sender, receiver) = mpsc::unbounded_channel();
            senders.push(sender);
            receivers.push(receiver);
        }
        let (finished_sender, finished) = mpsc::unbounded_channel();
        let bus = Self {
            inner: Arc::new(Inner {
                registry,
                store: runtime.store,
                clock: runtime.clock,
                hooks: runtime.hooks,
                conflict_retries: runtime.conflict_retries,
                shared_schedules: runtime.shared_schedules,
                unhandled_in_outbox: runtime.unhandled_in_outbox,
                lanes: senders,
                lane_hasher: Default::default(),
                in_flight: AtomicUsize::new(0),
                settled: Notify::new(),
                timers: Mutex::new(pending.timers),
                timers_changed: Notify::new(),
                finished: finished_sender,
                set_aside: pending.set_aside,
                closed: AtomicBool::new(false),
                stop: CancellationToken::new(),
            }),
        };
        for receiver in receivers {
            tokio::spawn(bus.clone().lane(receiver));
        }
        tokio::spawn(bus.clone().forget_finished(finished));
        bus.replay(pending.outbox);
        if runtime.drive_timers {
            tokio::spawn(bus.clone().drive_timers());
            if let Some(every) = runtime.shared_schedules {
                tokio::spawn(bus.clone().claim_shared_timers(every));
            }
        }
        Ok(bus)
    }
}
