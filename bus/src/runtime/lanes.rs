//! How an effect reaches its lane, and what a lane does with it.
//!
//! Every effect is routed by the state key its handler names (or by the
//! handler's name for a stateless one, or the state type for one over all
//! states). The key is hashed to one of the bus's lanes: a tokio task with
//! an unbounded queue that runs its jobs one at a time. So effects on one key
//! never run concurrently and run in dispatch order, while different keys
//! spread over the lanes and run in parallel. A command accepted by
//! [`Bus::send`] is on its lane's queue before `send` returns, which is what
//! orders two sends on one key.
//!
//! After a handler's commit its emitted effects are dispatched the same way,
//! as a [`Batch`] whose runs are counted until the store may forget them.

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::effect::{Command, Envelope, Event, Kind};
use crate::framework::{BusHandlerFailed, DeleteState};
use crate::handler::{Handler, Route};
use crate::runtime::batch::{Batch, Source, Tracked, Tracking};
use crate::runtime::bus::Bus;
use crate::runtime::conflict_retry::Ran;
use crate::runtime::error::{BusError, expect_kind};
use crate::runtime::handler_run::{Committed, is_schedule_change};
use crate::runtime::job::{Job, Waiting};
use crate::runtime::store::{Finished, ScheduleOp, StoredEffect};
use crate::runtime::timers::Timer;

impl Bus {
    /// Queues a command for its handler. `Ok` means accepted, not handled:
    /// outcomes arrive as events.
    pub fn send<C: Command>(&self, command: C) -> Result<(), BusError> {
        self.send_envelope(Envelope::new(command))
    }

    /// Queues a type-erased command (decoded from the wire, say).
    pub fn send_envelope(&self, command: Envelope) -> Result<(), BusError> {
        self.handler_of_command(&command)?;
        self.dispatch(command);
        Ok(())
    }

    /// The handler of `command`, if the bus takes it now.
    fn handler_of_command(&self, command: &Envelope) -> Result<Arc<dyn Handler>, BusError> {
        self.accepting()?;
        expect_kind(command, Kind::Command)?;
        let name = command.type_name();
        self.inner
            .registry
            .command_handler(name)
            .cloned()
            .ok_or(BusError::NoHandler(name))
    }

    /// Queues a command for its handler and waits until the handler's
    /// result is committed: `Ok` means applied (its state written, its
    /// events in the outbox), so a crash from then on loses nothing of it.
    /// A rule refusal is an `Ok` too (it is an event); a failed handler, or
    /// a state that kept changing under it, is
    /// [`BusError::CommandFailed`], with nothing applied.
    pub async fn send_committed(&self, command: Envelope) -> Result<(), BusError> {
        let handler = self.handler_of_command(&command)?;
        let name = command.type_name();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        for hook in &self.inner.hooks {
            hook.dispatched(&command);
        }
        self.route(handler, command, None, 0, Some(sender));
        match receiver.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(BusError::CommandFailed {
                command: name,
                reason,
            }),
            // Dropped unrun: the bus shut down.
            Err(_) => Err(BusError::Closed),
        }
    }

    /// Publishes an event to its subscribers (none is fine).
    pub fn publish<E: Event>(&self, event: E) -> Result<(), BusError> {
        self.publish_envelope(Envelope::new(event))
    }

    /// Publishes an event and resolves once every handler it reaches has
    /// committed its run (or says why one did not: its state kept changing
    /// under it, or the store failed). The runs that did commit stay.
    pub async fn publish_committed<E: Event>(&self, event: E) -> Result<(), BusError> {
        self.accepting()?;
        let event = Envelope::new(event);
        let name = event.type_name();
        for hook in &self.inner.hooks {
            hook.dispatched(&event);
        }
        let mut waiting = Vec::new();
        for (index, handler) in self.inner.registry.event_handlers(name).iter().enumerate() {
            let (sender, receiver) = tokio::sync::oneshot::channel();
            self.route(
                handler.clone(),
                event.clone(),
                None,
                index as u32,
                Some(sender),
            );
            waiting.push(receiver);
        }
        for receiver in waiting {
            match receiver.await {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => {
                    return Err(BusError::EventFailed {
                        event: name,
                        reason,
                    });
                }
                Err(_) => return Err(BusError::Closed),
            }
        }
        Ok(())
    }

    /// Publishes a type-erased event.
    pub fn publish_envelope(&self, event: Envelope) -> Result<(), BusError> {
        self.accepting()?;
        expect_kind(&event, Kind::Event)?;
        self.dispatch(event);
        Ok(())
    }

    /// Dispatches an effect nobody committed (sent, published, a failure
    /// report, a schedule update).
    pub(super) fn dispatch(&self, effect: Envelope) {
        self.dispatch_from(effect, None);
    }

    /// Dispatches committed effects as one batch; the store forgets
    /// `finished` once every handler they reach has run. `handled` lists
    /// the (position, handler) runs done before a restart, skipped now.
    pub(super) fn dispatch_batch(
        &self,
        finished: Finished,
        effects: impl IntoIterator<Item = Envelope>,
        handled: &[(u32, u32)],
    ) {
        let mut position = 0;
        let positioned = effects.into_iter().filter_map(|effect| {
            if is_schedule_change(&effect) {
                // Committed with the schedules, not in the outbox: for hooks.
                self.dispatch(effect);
                return None;
            }
            position += 1;
            Some((position - 1, effect))
        });
        self.dispatch_positioned(finished, positioned, handled);
    }

    /// As [`dispatch_batch`](Self::dispatch_batch), each effect at the
    /// position it has in its outbox entry.
    pub(super) fn dispatch_positioned(
        &self,
        finished: Finished,
        effects: impl IntoIterator<Item = (u32, Envelope)>,
        handled: &[(u32, u32)],
    ) {
        let batch = Batch::new(finished);
        for (position, effect) in effects {
            let source = Source {
                batch: &batch,
                position,
                handled,
            };
            self.dispatch_from(effect, Some(source));
        }
        self.run_done(&batch);
    }

    /// Hands `effect` to each handler it reaches, each on the lane of the
    /// key that handler routes it to. `source` is where it sits in a
    /// committed batch, if it is part of one.
    fn dispatch_from(&self, effect: Envelope, source: Option<Source<'_>>) {
        for hook in &self.inner.hooks {
            hook.dispatched(&effect);
        }
        let registry = &self.inner.registry;
        match effect.kind() {
            Kind::Command => match registry.command_handler(effect.type_name()) {
                Some(handler) => self.route(handler.clone(), effect, source.as_ref(), 0, None),
                None => self.fail(
                    "bus",
                    &effect,
                    format!("no handler for command {}", effect.type_name()),
                ),
            },
            Kind::Event => {
                for (index, handler) in registry
                    .event_handlers(effect.type_name())
                    .iter()
                    .enumerate()
                {
                    self.route(
                        handler.clone(),
                        effect.clone(),
                        source.as_ref(),
                        index as u32,
                        None,
                    );
                }
            }
            Kind::Framework => {
                if let Some(delete) = effect.downcast_ref::<DeleteState>() {
                    let key = delete.key();
                    let tracked = match Tracking::of(source.as_ref(), 0) {
                        Tracking::AlreadyHandled => return,
                        Tracking::Untracked => None,
                        Tracking::Tracked(tracked) => Some(tracked),
                    };
                    let lane = self.lane_of(&key);
                    self.enqueue(
                        lane,
                        Job::Delete {
                            key,
                            request: effect,
                            tracked,
                        },
                    );
                }
                // Schedules and cancellations are applied with the commit of
                // the handler that emitted them; hooks have seen them above.
            }
            Kind::Query => self.fail("bus", &effect, "a query cannot be dispatched".to_owned()),
        }
    }

    /// Queues `handler`'s run of `effect` on its key's lane; `committed`,
    /// if given, hears how the run ended.
    fn route(
        &self,
        handler: Arc<dyn Handler>,
        effect: Envelope,
        source: Option<&Source<'_>>,
        index: u32,
        committed: Option<Waiting>,
    ) {
        let route = handler.route(&effect);
        let lane = match &route {
            Route::Skip => {
                // The handler declined it: done, with nothing to apply.
                if let Some(committed) = committed {
                    let _ = committed.send(Ok(()));
                }
                return;
            }
            Route::Key(key) => self.lane_of(key),
            Route::Stateless => self.lane_of(handler.name()),
            Route::All(state_type) => self.lane_of(state_type),
        };
        let tracked = match Tracking::of(source, index) {
            Tracking::AlreadyHandled => return,
            Tracking::Untracked => None,
            Tracking::Tracked(tracked) => Some(tracked),
        };
        self.enqueue(
            lane,
            Job::Run {
                handler,
                route,
                effect,
                tracked,
                committed,
            },
        );
    }

    fn lane_of(&self, key: &(impl Hash + ?Sized)) -> usize {
        (self.inner.lane_hasher.hash_one(key) % self.inner.lanes.len() as u64) as usize
    }

    fn enqueue(&self, lane: usize, job: Job) {
        self.started_one();
        if self.inner.lanes[lane].send(job).is_err() {
            // The lanes are gone (shut down): the job is dropped, uncounted.
            self.finished_one();
        }
    }

    /// One run of `batch` is done (or its dispatch is): when none is left,
    /// the store may forget it.
    fn run_done(&self, batch: &Batch) {
        if batch.one_done() {
            self.started_one();
            if self.inner.finished.send(batch.finished).is_err() {
                self.finished_one();
            }
        }
    }

    /// A lane: runs its jobs one at a time until the bus stops.
    pub(super) async fn lane(self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        loop {
            let job = tokio::select! {
                () = self.inner.stop.cancelled() => return,
                job = jobs.recv() => match job {
                    Some(job) => job,
                    None => return,
                },
            };
            let tracked = match job {
                Job::Run {
                    handler,
                    route,
                    effect,
                    tracked,
                    committed: waiting,
                } => {
                    let delivery = tracked.as_ref().and_then(Tracked::delivery);
                    match self.run(handler.as_ref(), route, &effect, delivery).await {
                        Ran::Committed(committed) => {
                            if let Some(waiting) = waiting {
                                let _ = waiting.send(Ok(()));
                            }
                            self.after_commit(committed);
                        }
                        Ran::Failed(reason) => {
                            if let Some(waiting) = waiting {
                                let _ = waiting.send(Err(reason.clone()));
                            }
                            self.fail(handler.name(), &effect, reason);
                        }
                    }
                    tracked
                }
                Job::Delete {
                    key,
                    request,
                    tracked,
                } => {
                    let delivery = tracked.as_ref().and_then(Tracked::delivery);
                    if let Err(reason) = self.delete(key, delivery).await {
                        self.fail("bus", &request, reason);
                    }
                    tracked
                }
            };
            if let Some(tracked) = tracked {
                self.run_done(&tracked.batch);
            }
            self.finished_one();
        }
    }

    /// The commit went in: the timer index learns the schedule changes, and
    /// the emitted effects go out (as a batch when they are in the outbox).
    fn after_commit(&self, committed: Committed) {
        let Committed {
            schedules,
            entry,
            emitted,
            now,
        } = committed;
        if !schedules.is_empty() {
            let mut timers = self.timers();
            for op in schedules {
                match op {
                    ScheduleOp::Cancel { key } => {
                        timers.cancel(&key);
                    }
                    ScheduleOp::Add(scheduled) => {
                        // Made by this process: always live.
                        if let StoredEffect::Live(event) = &scheduled.event {
                            let event = event.clone();
                            timers.add(Timer::of(scheduled, event), now);
                        }
                    }
                }
            }
            drop(timers);
            self.inner.timers_changed.notify_one();
        }
        match entry {
            Some(entry) => self.dispatch_batch(Finished::Entry(entry), emitted, &[]),
            // Only schedule changes: for hooks.
            None => emitted.into_iter().for_each(|effect| self.dispatch(effect)),
        }
    }

    /// Reports a handler's failure as a [`BusHandlerFailed`] event.
    fn fail(&self, handler: &str, effect: &Envelope, reason: String) {
        tracing::warn!(handler, effect = effect.type_name(), %reason, "handler failed");
        // A failing subscriber of failures must not loop.
        if effect.is::<BusHandlerFailed>() {
            return;
        }
        self.dispatch(Envelope::new(BusHandlerFailed {
            handler: handler.to_owned(),
            effect: effect.to_json(),
            reason,
        }));
    }
}
