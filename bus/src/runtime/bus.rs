//! The running bus: lanes, dispatch, commits, timers.

use std::hash::{BuildHasher, Hash};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::builder::{DecodeError, Registry};
use crate::effect::{Command, Envelope, Event, Kind, Query};
use crate::framework::{
    BusHandlerFailed, CancelScheduledEvents, DeleteState, ScheduleEvent, ScheduledEventUpdate,
};
use crate::handler::{AnyAnswer, Handler, Loaded, Route};
use crate::outcome::{Change, Ctx};
use crate::runtime::clock::{Clock, SystemClock};
use crate::runtime::hooks::{HandlerReport, HandlerRun, Hook};
use crate::runtime::store::{
    Commit, Delivery, Finished, MemoryStore, OutboxEntry, ScheduleOp, Scheduled, Store, StoreError,
    StoredEffect,
};
use crate::runtime::timers::{Fired, Timer, TimerIndex};
use crate::state::{StateKey, Stored};

/// Why the bus refused or could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// Nothing handles this command or query.
    #[error("no handler for {0}")]
    NoHandler(&'static str),
    /// Only commands are sent, events published, queries asked.
    #[error("{effect} is a {kind:?}, not a {expected:?}")]
    WrongKind {
        /// The effect.
        effect: &'static str,
        /// What it is.
        kind: Kind,
        /// What the call takes.
        expected: Kind,
    },
    /// The bus is shutting down.
    #[error("the bus is shut down")]
    Closed,
    /// The query handler failed.
    #[error("query handler failed: {0}")]
    QueryFailed(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A JSON effect did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// How the bus runs: its store, clock, hooks and parallelism.
pub struct Runtime {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hooks: Vec<Arc<dyn Hook>>,
    lanes: usize,
    drive_timers: bool,
    conflict_retries: u32,
}

impl Default for Runtime {
    fn default() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(SystemClock),
            hooks: Vec::new(),
            lanes: 64,
            drive_timers: true,
            conflict_retries: 8,
        }
    }
}

impl Runtime {
    /// Memory store, system clock, 64 lanes, timers driven by a task.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps state in `store`.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = store;
        self
    }

    /// Reads time from `clock`. With a clock other than the system's, call
    /// [`Runtime::drive_timers`]`(false)` and fire timers with [`Bus::advance_to`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Adds a hook.
    pub fn hook(mut self, hook: Arc<dyn Hook>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// How many lanes run handlers in parallel (at least one). Effects on one
    /// state key always share a lane.
    pub fn lanes(mut self, lanes: usize) -> Self {
        self.lanes = lanes.max(1);
        self
    }

    /// Whether a task fires timers on the real clock (on by default).
    pub fn drive_timers(mut self, drive: bool) -> Self {
        self.drive_timers = drive;
        self
    }
}

/// One piece of work for a lane.
enum Job {
    Run {
        handler: Arc<dyn Handler>,
        route: Route,
        effect: Envelope,
        tracked: Option<Tracked>,
    },
    Delete {
        key: StateKey,
        request: Envelope,
        tracked: Option<Tracked>,
    },
}

/// Effects whose handler runs are counted: when the last has run, the store
/// forgets the outbox entry (or the fired schedule) they came from.
struct Batch {
    finished: Finished,
    /// Runs not done yet, plus one while the batch is being dispatched.
    remaining: AtomicUsize,
}

/// One run of a batch: which effect, which of its handlers.
struct Tracked {
    batch: Arc<Batch>,
    position: u32,
    handler: u32,
}

impl Tracked {
    /// The delivery to record with the run's commit (outbox entries only:
    /// a fired schedule is delivered at least once).
    fn delivery(&self) -> Option<Delivery> {
        match self.batch.finished {
            Finished::Entry(entry) => Some(Delivery {
                entry,
                position: self.position,
                handler: self.handler,
            }),
            Finished::Schedule(_) => None,
        }
    }
}

/// Where a dispatched effect sits in its batch, and which of its handlers
/// already ran (before a restart).
struct Source<'a> {
    batch: &'a Arc<Batch>,
    position: u32,
    handled: &'a [(u32, u32)],
}

struct Inner {
    registry: Registry,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hooks: Vec<Arc<dyn Hook>>,
    conflict_retries: u32,
    lanes: Vec<mpsc::UnboundedSender<Job>>,
    lane_hasher: std::collections::hash_map::RandomState,
    /// Jobs queued or running; the bus is settled when it is zero.
    in_flight: AtomicUsize,
    settled: Notify,
    timers: Mutex<TimerIndex>,
    timers_changed: Notify,
    /// Finished batches, for the store to forget (in groups).
    finished: mpsc::UnboundedSender<Finished>,
    closed: AtomicBool,
    stop: CancellationToken,
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
    inner: Arc<Inner>,
}

impl Bus {
    /// Starts a bus on the current tokio runtime, reloading the pending
    /// schedules that `runtime`'s store holds.
    pub async fn start(registry: Registry, runtime: Runtime) -> Result<Self, BusError> {
        let pending = runtime.store.pending_schedules().await?;
        let mut timers = TimerIndex::new();
        let now = runtime.clock.now_ms();
        for scheduled in pending {
            let event = decode_stored(&registry, &scheduled.event)?;
            timers.add(Timer::of(scheduled, event), now);
        }

        let outbox = runtime.store.pending_outbox().await?;
        let mut replay = Vec::with_capacity(outbox.len());
        for entry in outbox {
            let effects = entry
                .effects
                .iter()
                .map(|effect| decode_stored(&registry, effect))
                .collect::<Result<Vec<_>, _>>()?;
            replay.push((entry.id, effects, entry.handled));
        }

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
                timers: Mutex::new(timers),
                timers_changed: Notify::new(),
                finished: finished_sender,
                closed: AtomicBool::new(false),
                stop: CancellationToken::new(),
            }),
        };
        for receiver in receivers {
            tokio::spawn(bus.clone().lane(receiver));
        }
        tokio::spawn(bus.clone().forget_finished(finished));
        if !replay.is_empty() {
            tracing::info!(
                entries = replay.len(),
                "republishing effects committed before a stop"
            );
        }
        for (id, effects, handled) in replay {
            bus.dispatch_batch(Finished::Entry(id), effects, &handled);
        }
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
            .map_err(|_| BusError::QueryFailed(format!("{} answered with another type", Q::TYPE)))
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
        match answered {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(BusError::QueryFailed(error.0)),
            Err(panic) => Err(BusError::QueryFailed(panic_reason(panic.as_ref()))),
        }
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

    fn timers(&self) -> std::sync::MutexGuard<'_, TimerIndex> {
        self.inner
            .timers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Dispatches an effect nobody committed (sent, published, a failure
    /// report, a schedule update).
    fn dispatch(&self, effect: Envelope) {
        self.dispatch_from(effect, None);
    }

    /// Dispatches committed effects as one batch; the store forgets
    /// `finished` once every handler they reach has run. `handled` lists
    /// the (position, handler) runs done before a restart, skipped now.
    fn dispatch_batch(
        &self,
        finished: Finished,
        effects: impl IntoIterator<Item = Envelope>,
        handled: &[(u32, u32)],
    ) {
        let batch = Arc::new(Batch {
            finished,
            remaining: AtomicUsize::new(1),
        });
        let mut position = 0;
        for effect in effects {
            if is_schedule_change(&effect) {
                // Committed with the schedules, not in the outbox: for hooks.
                self.dispatch(effect);
                continue;
            }
            let source = Source {
                batch: &batch,
                position,
                handled,
            };
            self.dispatch_from(effect, Some(source));
            position += 1;
        }
        self.run_done(&batch);
    }

    fn dispatch_from(&self, effect: Envelope, source: Option<Source<'_>>) {
        for hook in &self.inner.hooks {
            hook.dispatched(&effect);
        }
        let registry = &self.inner.registry;
        match effect.kind() {
            Kind::Command => match registry.command_handler(effect.type_name()) {
                Some(handler) => self.route(handler.clone(), effect, source.as_ref(), 0),
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
                    );
                }
            }
            Kind::Framework => {
                if let Some(delete) = effect.downcast_ref::<DeleteState>() {
                    let key = delete.key();
                    if let Some(tracked) = track(source.as_ref(), 0) {
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
                }
                // Schedules and cancellations are applied with the commit of
                // the handler that emitted them; hooks have seen them above.
            }
            Kind::Query => self.fail("bus", &effect, "a query cannot be dispatched".to_owned()),
        }
    }

    fn route(
        &self,
        handler: Arc<dyn Handler>,
        effect: Envelope,
        source: Option<&Source<'_>>,
        index: u32,
    ) {
        let route = handler.route(&effect);
        let lane = match &route {
            Route::Skip => return,
            Route::Key(key) => self.lane_of(key),
            Route::Stateless => self.lane_of(handler.name()),
            Route::All(state_type) => self.lane_of(state_type),
        };
        let Some(tracked) = track(source, index) else {
            return;
        };
        self.enqueue(
            lane,
            Job::Run {
                handler,
                route,
                effect,
                tracked,
            },
        );
    }

    /// One run of `batch` is done (or its dispatch is): when none is left,
    /// the store may forget it.
    fn run_done(&self, batch: &Batch) {
        if batch.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
            if self.inner.finished.send(batch.finished).is_err() {
                self.finished_one();
            }
        }
    }

    /// Tells the store what is finished, a group at a time.
    async fn forget_finished(self, mut finished: mpsc::UnboundedReceiver<Finished>) {
        let mut group = Vec::new();
        loop {
            tokio::select! {
                () = self.inner.stop.cancelled() => return,
                count = finished.recv_many(&mut group, 256) => if count == 0 { return },
            }
            let count = group.len();
            if let Err(error) = self.inner.store.finish(std::mem::take(&mut group)).await {
                // Kept in the store: replayed at the next start, where every
                // delivery already handled is skipped.
                tracing::error!(%error, "cannot forget finished outbox entries");
            }
            for _ in 0..count {
                self.finished_one();
            }
        }
    }

    fn lane_of(&self, key: &(impl Hash + ?Sized)) -> usize {
        (self.inner.lane_hasher.hash_one(key) % self.inner.lanes.len() as u64) as usize
    }

    fn enqueue(&self, lane: usize, job: Job) {
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.inner.lanes[lane].send(job).is_err() {
            // The lanes are gone (shut down): the job is dropped, uncounted.
            self.finished_one();
        }
    }

    fn finished_one(&self) {
        if self.inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.settled.notify_waiters();
        }
    }

    async fn lane(self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        loop {
            let job = tokio::select! {
                () = self.inner.stop.cancelled() => return,
                job = jobs.recv() => match job {
                    Some(job) => job,
                    None => return,
                },
            };
            match job {
                Job::Run {
                    handler,
                    route,
                    effect,
                    tracked,
                } => {
                    let delivery = tracked.as_ref().and_then(Tracked::delivery);
                    self.run(handler.as_ref(), route, effect, delivery).await;
                    if let Some(tracked) = tracked {
                        self.run_done(&tracked.batch);
                    }
                }
                Job::Delete {
                    key,
                    request,
                    tracked,
                } => {
                    let delivery = tracked.as_ref().and_then(Tracked::delivery);
                    self.delete(key, &request, delivery).await;
                    if let Some(tracked) = tracked {
                        self.run_done(&tracked.batch);
                    }
                }
            }
            self.finished_one();
        }
    }

    async fn drive_timers(self) {
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

    async fn load(&self, route: &Route) -> Result<Loaded, StoreError> {
        Ok(match route {
            Route::Skip | Route::Stateless => Loaded::Nothing,
            Route::Key(key) => Loaded::One(self.inner.store.load(key).await?),
            Route::All(state_type) => Loaded::All(
                self.inner
                    .store
                    .scan(state_type)
                    .await?
                    .into_iter()
                    .map(|(_, stored)| stored)
                    .collect(),
            ),
        })
    }

    async fn run(
        &self,
        handler: &dyn Handler,
        route: Route,
        effect: Envelope,
        delivery: Option<Delivery>,
    ) {
        let key = match &route {
            Route::Key(key) => Some(key.clone()),
            _ => None,
        };
        let span = tracing::debug_span!(
            "bus.handle",
            effect = effect.type_name(),
            handler = handler.name(),
            key = key.as_ref().map(tracing::field::display),
        );
        async {
            for attempt in 0..=self.inner.conflict_retries {
                let loaded = match self.load(&route).await {
                    Ok(loaded) => loaded,
                    Err(error) => return self.fail(handler.name(), &effect, error.to_string()),
                };
                let expected_version = match &loaded {
                    Loaded::One(stored) => stored.as_ref().map(|stored: &Stored| stored.version),
                    _ => None,
                };
                let now = self.now_ms();
                let outcome = self.call(handler, key.as_ref(), loaded, &effect, now);
                let outcome = match outcome {
                    Ok(outcome) => outcome,
                    Err(reason) => return self.fail(handler.name(), &effect, reason),
                };
                let (commit, schedules, emitted) =
                    prepare(key.clone(), expected_version, outcome, delivery, now);
                let entry = commit.outbox.as_ref().map(|entry| entry.id);
                match self.inner.store.commit(commit).await {
                    Ok(()) => return self.after_commit(schedules, entry, emitted, now),
                    Err(StoreError::Conflict { .. }) if attempt < self.inner.conflict_retries => {
                        tracing::debug!(
                            attempt,
                            "state changed under the handler; running it again"
                        );
                    }
                    Err(error) => return self.fail(handler.name(), &effect, error.to_string()),
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Runs the handler function with hooks around it; a panic becomes an error.
    fn call(
        &self,
        handler: &dyn Handler,
        key: Option<&StateKey>,
        loaded: Loaded,
        effect: &Envelope,
        now: u64,
    ) -> Result<crate::handler::ErasedOutcome, String> {
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
            Ok(Err(error)) => Err(error.0),
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

    fn after_commit(
        &self,
        schedules: Vec<ScheduleOp>,
        entry: Option<crate::runtime::store::OutboxId>,
        emitted: Vec<Envelope>,
        now: u64,
    ) {
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

    async fn delete(&self, key: StateKey, request: &Envelope, delivery: Option<Delivery>) {
        for _ in 0..=self.inner.conflict_retries {
            let found = match self.inner.store.load(&key).await {
                Ok(found) => found,
                Err(error) => return self.fail("bus", request, error.to_string()),
            };
            let mut commit = match found {
                Some(stored) => {
                    Commit::state(Some(key.clone()), Some(stored.version), Change::Delete)
                }
                // Already gone: only the delivery is left to record.
                None if delivery.is_some() => Commit::state(None, None, Change::Keep),
                None => return,
            };
            commit.delivery = delivery;
            match self.inner.store.commit(commit).await {
                Ok(()) => return,
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return self.fail("bus", request, error.to_string()),
            }
        }
    }

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

/// Splits an outcome into the commit (with the outbox entry of the effects
/// to dispatch) and the schedule changes for the timer index.
fn prepare(
    key: Option<StateKey>,
    expected_version: Option<u64>,
    outcome: crate::handler::ErasedOutcome,
    delivery: Option<Delivery>,
    now: u64,
) -> (Commit, Vec<ScheduleOp>, Vec<Envelope>) {
    let mut schedules = Vec::new();
    let mut effects = Vec::new();
    for effect in &outcome.emitted {
        if let Some(schedule) = effect.downcast_ref::<ScheduleEvent>() {
            let scheduled = Scheduled {
                id: uuid::Uuid::new_v4().as_u128(),
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
        outbox: (!effects.is_empty()).then(|| OutboxEntry {
            id: uuid::Uuid::new_v4().as_u128(),
            effects,
        }),
        delivery,
    };
    (commit, schedules, outcome.emitted)
}

/// Schedules and cancellations are committed as schedule changes, not as
/// outbox effects.
fn is_schedule_change(effect: &Envelope) -> bool {
    effect.is::<ScheduleEvent>() || effect.is::<CancelScheduledEvents>()
}

/// A run of `source`'s effect by handler `index`: `None` when it ran before
/// a restart, `Some(None)` when the effect is not part of a batch.
fn track(source: Option<&Source<'_>>, index: u32) -> Option<Option<Tracked>> {
    let Some(source) = source else {
        return Some(None);
    };
    if source.handled.contains(&(source.position, index)) {
        return None;
    }
    source.batch.remaining.fetch_add(1, Ordering::SeqCst);
    Some(Some(Tracked {
        batch: source.batch.clone(),
        position: source.position,
        handler: index,
    }))
}

/// An effect as a store keeps it, decoded.
fn decode_stored(registry: &Registry, effect: &StoredEffect) -> Result<Envelope, DecodeError> {
    match effect {
        StoredEffect::Live(effect) => Ok(effect.clone()),
        StoredEffect::Json {
            event_type,
            payload,
        } => {
            let payload = serde_json::from_str(payload).map_err(|error| DecodeError::Payload {
                effect_type: event_type.clone(),
                reason: error.to_string(),
            })?;
            registry.decode(event_type, payload)
        }
    }
}

fn expect_kind(effect: &Envelope, expected: Kind) -> Result<(), BusError> {
    if effect.kind() == expected {
        Ok(())
    } else {
        Err(BusError::WrongKind {
            effect: effect.type_name(),
            kind: effect.kind(),
            expected,
        })
    }
}

fn panic_reason(panic: &(dyn std::any::Any + Send)) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned());
    format!("panicked: {message}")
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// Typed access to effects in the registry, for callers holding a `Bus`.
impl Bus {
    /// Decodes `{"type", "payload"}` into an effect the registry knows.
    pub fn decode(
        &self,
        effect_type: &str,
        payload: serde_json::Value,
    ) -> Result<Envelope, BusError> {
        Ok(self.inner.registry.decode(effect_type, payload)?)
    }
}
