//! [`Bus`]: the handle callers hold, and what [`Bus::start`] sets up.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::builder::Registry;
use crate::effect::{Command, Envelope, Event, Kind, Query};
use crate::handler::AnyAnswer;
use crate::runtime::clock::Clock;
use crate::runtime::error::{BusError, expect_kind};
use crate::runtime::handler_run::panic_reason;
use crate::runtime::hooks::Hook;
use crate::runtime::lanes::Job;
use crate::runtime::settings::Runtime;
use crate::runtime::store::{Finished, Store};
use crate::runtime::stored_effects;
use crate::runtime::timers::TimerIndex;

/// What every clone of a [`Bus`] shares.
pub(super) struct Inner {
    pub(super) registry: Registry,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) hooks: Vec<Arc<dyn Hook>>,
    pub(super) conflict_retries: u32,
    pub(super) lanes: Vec<mpsc::UnboundedSender<Job>>,
    pub(super) lane_hasher: std::collections::hash_map::RandomState,
    /// Jobs queued or running; the bus is settled when it is zero.
    pub(super) in_flight: AtomicUsize,
    pub(super) settled: Notify,
    pub(super) timers: Mutex<TimerIndex>,
    pub(super) timers_changed: Notify,
    /// Finished batches, for the store to forget (in groups).
    pub(super) finished: mpsc::UnboundedSender<Finished>,
    /// Stored effects found unreadable at start and set aside.
    pub(super) set_aside: usize,
    pub(super) closed: AtomicBool,
    pub(super) stop: CancellationToken,
}

/// A handle on a running bus; clones share it.
///
/// # Ordering
///
/// - Effects routed to one state key are handled one at a time, in the order
///   they were dispatched: a command accepted by [`Bus::send`] before another
///   on the same key is handled before it.
/// - Effects on different keys run in parallel, on up to
///   [`Runtime::lanes`] tokio tasks (a key always maps to the same lane).
/// - A handler's effects are dispatched in the order it emitted them, after
///   its state change and schedule changes are committed. Two effects it
///   emits towards one key are handled in that order.
/// - Queries read committed state directly; they never wait behind commands.
/// - A scheduled event can be already on its way when a handler cancels its
///   key: a handler of scheduled events checks that the event still applies
///   (a turn timeout names the turn it was for).
#[derive(Clone)]
pub struct Bus {
    pub(super) inner: Arc<Inner>,
}

impl Bus {
    /// Starts a bus on the current tokio runtime: reloads the pending
    /// schedules that `runtime`'s store holds and republishes what its
    /// outbox still holds. A stored effect that no longer reads is set
    /// aside in the store (see [`Store::set_aside`]), not a reason to stop.
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
        }
        Ok(bus)
    }

    /// The handler table.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The bus clock.
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// How many stored effects were unreadable at start and set aside.
    pub fn set_aside_at_start(&self) -> usize {
        self.inner.set_aside
    }

    /// Queues a command for its handler. `Ok` means accepted, not handled:
    /// outcomes arrive as events.
    pub fn send<C: Command>(&self, command: C) -> Result<(), BusError> {
        self.send_envelope(Envelope::new(command))
    }

    /// Queues a type-erased command (decoded from the wire, say).
    pub fn send_envelope(&self, command: Envelope) -> Result<(), BusError> {
        self.accepting()?;
        expect_kind(&command, Kind::Command)?;
        if self
            .inner
            .registry
            .command_handler(command.type_name())
            .is_none()
        {
            return Err(BusError::NoHandler(command.type_name()));
        }
        self.dispatch(command);
        Ok(())
    }

    /// Publishes an event to its subscribers (none is fine).
    pub fn publish<E: Event>(&self, event: E) -> Result<(), BusError> {
        self.publish_envelope(Envelope::new(event))
    }

    /// Publishes a type-erased event.
    pub fn publish_envelope(&self, event: Envelope) -> Result<(), BusError> {
        self.accepting()?;
        expect_kind(&event, Kind::Event)?;
        self.dispatch(event);
        Ok(())
    }

    /// Answers a query from committed state.
    pub async fn query<Q: Query>(&self, query: Q) -> Result<Q::Answer, BusError> {
        let answer = self.query_envelope(Envelope::new(query)).await?;
        answer
            .into_any()
            .downcast::<Q::Answer>()
            .map(|answer| *answer)
            .map_err(|_| BusError::QueryFailed {
                query: Q::TYPE,
                reason: "answered with another type".to_owned(),
            })
    }

    /// Answers a type-erased query; the answer serialises with `to_json`.
    pub async fn query_envelope(&self, query: Envelope) -> Result<Box<dyn AnyAnswer>, BusError> {
        expect_kind(&query, Kind::Query)?;
        let handler = self
            .inner
            .registry
            .query_handler(query.type_name())
            .ok_or(BusError::NoHandler(query.type_name()))?;
        let loaded = self.load(&handler.route(&query)).await?;
        let answered = catch_unwind(AssertUnwindSafe(|| handler.answer(loaded, &query)));
        let failed = |reason| BusError::QueryFailed {
            query: query.type_name(),
            reason,
        };
        match answered {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(failed(error.to_string())),
            Err(panic) => Err(failed(panic_reason(panic.as_ref()))),
        }
    }

    /// Decodes `{"type", "payload"}` from a client into an effect the
    /// registry knows, strictly: an unknown field is an error.
    pub fn decode(
        &self,
        effect_type: &str,
        payload: serde_json::Value,
    ) -> Result<crate::Envelope, BusError> {
        Ok(self.inner.registry.decode(effect_type, payload)?)
    }

    /// Waits until every dispatched effect has been handled, including the
    /// effects those handlers emitted.
    pub async fn settle(&self) {
        loop {
            let settled = self.inner.settled.notified();
            if self.inner.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            settled.await;
        }
    }

    /// Stops accepting, lets queued work finish, then stops the lanes and
    /// the timer task.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.settle().await;
        self.inner.stop.cancel();
    }

    fn accepting(&self) -> Result<(), BusError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            Err(BusError::Closed)
        } else {
            Ok(())
        }
    }
}
