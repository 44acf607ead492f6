//! How a version conflict is retried.
//!
//! A handler decides on the state it loaded, and its commit names the
//! version it read. When another writer committed that state in between
//! (another node, or a state written outside its lane), the store refuses
//! the commit with [`StoreError::Conflict`] and has written nothing: the
//! handler runs again on the fresh state, up to
//! [`Runtime`](crate::Runtime)'s retry limit, after which the effect is
//! reported failed ([`BusHandlerFailed`](crate::BusHandlerFailed)). A
//! handler is a pure function of (state, effect, time), so running it again
//! is safe: only the committed run's effects are ever dispatched.

use tracing::Instrument;

use crate::effect::Envelope;
use crate::handler::{Handler, Loaded, Route};
use crate::outcome::Change;
use crate::runtime::bus::Bus;
use crate::runtime::handler_run::{Committed, prepare};
use crate::runtime::store::{Commit, Delivery, StoreError};
use crate::state::{StateKey, Stored};

/// How a handler's run ended.
pub(super) enum Ran {
    /// Its result is committed: this follows.
    Committed(Committed),
    /// It failed (or kept conflicting), for this reason.
    Failed(String),
}

impl Bus {
    /// Runs `handler` on `effect` until its commit goes in, or fails for a
    /// reason other than a conflict, or conflicts too often.
    pub(super) async fn run(
        &self,
        handler: &dyn Handler,
        route: Route,
        effect: &Envelope,
        delivery: Option<Delivery>,
    ) -> Ran {
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
            let mut attempt = 0;
            loop {
                let loaded = match self.load(&route).await {
                    Ok(loaded) => loaded,
                    Err(error) => return Ran::Failed(error.to_string()),
                };
                let expected_version = match &loaded {
                    Loaded::One(stored) => stored.as_ref().map(|stored: &Stored| stored.version),
                    _ => None,
                };
                let now = self.now_ms();
                let outcome = match self.call(handler, key.as_ref(), loaded, effect, now) {
                    Ok(outcome) => outcome,
                    Err(reason) => return Ran::Failed(reason),
                };
                let prepared = prepare(
                    key.clone(),
                    expected_version,
                    outcome,
                    delivery,
                    now,
                    |effects| self.needs_outbox(effects),
                );
                match self.inner.store.commit(prepared.commit).await {
                    Ok(()) => return Ran::Committed(prepared.then),
                    Err(StoreError::Conflict { .. }) if attempt < self.inner.conflict_retries => {
                        attempt += 1;
                        tracing::debug!(
                            attempt,
                            "state changed under the handler; running it again"
                        );
                    }
                    Err(error) => return Ran::Failed(error.to_string()),
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Deletes the state at `key` ([`DeleteState`](crate::DeleteState)),
    /// again on the fresh version when someone wrote it in between.
    pub(super) async fn delete(
        &self,
        key: StateKey,
        delivery: Option<Delivery>,
    ) -> Result<(), String> {
        for _ in 0..=self.inner.conflict_retries {
            let found = self
                .inner
                .store
                .load(&key)
                .await
                .map_err(|error| error.to_string())?;
            let mut commit = match found {
                Some(stored) => {
                    Commit::state(Some(key.clone()), Some(stored.version), Change::Delete)
                }
                // Already gone: only the delivery is left to record.
                None if delivery.is_some() => Commit::state(None, None, Change::Keep),
                None => return Ok(()),
            };
            commit.delivery = delivery;
            match self.inner.store.commit(commit).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.to_string()),
            }
        }
        Ok(())
    }
}
