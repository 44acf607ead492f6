//! How an effect reaches its lane, and how a lane runs it.
//!
//! Every effect is routed by the state key its handler names (or by the
//! handler's name for a stateless one, or the state type for one over all
//! states). The key is hashed to one of the bus's lanes: a tokio task with
//! an unbounded queue that runs its jobs one at a time. So effects on one key
//! never run concurrently and run in dispatch order, while different keys
//! spread over the lanes and run in parallel. A command accepted by
//! [`Bus::send`](crate::Bus::send) is on its lane's queue before `send`
//! returns, which is what orders two sends on one key.

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use crate::effect::{Envelope, Kind};
use crate::framework::DeleteState;
use crate::handler::{Handler, Loaded, Route};
use crate::runtime::bus::Bus;
use crate::runtime::outbox_replay::{Source, Tracked, Tracking};
use crate::runtime::store::StoreError;
use crate::state::StateKey;

/// One piece of work for a lane.
pub(super) enum Job {
    /// Run a handler on an effect.
    Run {
        handler: Arc<dyn Handler>,
        route: Route,
        effect: Envelope,
        tracked: Option<Tracked>,
    },
    /// Delete a state ([`DeleteState`]).
    Delete {
        key: StateKey,
        request: Envelope,
        tracked: Option<Tracked>,
    },
}

impl Bus {
    /// Dispatches an effect nobody committed (sent, published, a failure
    /// report, a schedule update).
    pub(super) fn dispatch(&self, effect: Envelope) {
        self.dispatch_from(effect, None);
    }

    /// Hands `effect` to each handler it reaches, each on the lane of the
    /// key that handler routes it to. `source` is where it sits in a
    /// committed batch, if it is part of one.
    pub(super) fn dispatch_from(&self, effect: Envelope, source: Option<Source<'_>>) {
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
            },
        );
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

    /// One job (or one store write of finished work) is done.
    pub(super) fn finished_one(&self) {
        if self.inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.settled.notify_waiters();
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
                } => {
                    let delivery = tracked.as_ref().and_then(Tracked::delivery);
                    self.run(handler.as_ref(), route, effect, delivery).await;
                    tracked
                }
                Job::Delete {
                    key,
                    request,
                    tracked,
                } => {
                    let delivery = tracked.as_ref().and_then(Tracked::delivery);
                    self.delete(key, &request, delivery).await;
                    tracked
                }
            };
            if let Some(tracked) = tracked {
                self.run_done(&tracked.batch);
            }
            self.finished_one();
        }
    }

    /// The state a route names, as committed.
    pub(super) async fn load(&self, route: &Route) -> Result<Loaded, StoreError> {
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
}
