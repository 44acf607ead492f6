//! Durable stores for the bus: the embedded SQLite file (the default) and
//! PostgreSQL. Both keep the same tables (states, schedules, the outbox and
//! its deliveries, sessions, effects set aside) with migrations embedded in
//! the binary and run at start-up, and run the same SQL ([`sql`]).
//!
//! A handler's result is one transaction: the state written only if its
//! version is still the one the handler read (optimistic concurrency), the
//! schedule changes, the effects it emitted (an outbox entry) and the
//! delivery it handled. A process killed at any point loses no committed
//! transaction.

pub mod ephemeral;
pub mod fault;
mod postgres;
mod postgres_cluster;
mod rows;
mod sql;
mod sqlite;

use std::sync::Arc;

/// Inside `impl Store for` a wrapper whose `commit` is its own: every
/// other method asks the store in field `$inner`.
macro_rules! delegate_all_but_commit {
    ($inner:ident) => {
        fn load<'a>(&'a self, key: &'a bus::StateKey) -> bus::StoreFuture<'a, Option<bus::Stored>> {
            self.$inner.load(key)
        }

        fn scan<'a>(
            &'a self,
            state_type: &'a str,
        ) -> bus::StoreFuture<'a, Vec<(String, bus::Stored)>> {
            self.$inner.scan(state_type)
        }

        fn pending_schedules(&self) -> bus::StoreFuture<'_, Vec<bus::Scheduled>> {
            self.$inner.pending_schedules()
        }

        fn pending_outbox(&self) -> bus::StoreFuture<'_, Vec<bus::PendingEntry>> {
            self.$inner.pending_outbox()
        }

        fn finish(&self, finished: Vec<bus::Finished>) -> bus::StoreFuture<'_, ()> {
            self.$inner.finish(finished)
        }

        fn set_aside(&self, unreadable: Vec<bus::SetAside>) -> bus::StoreFuture<'_, ()> {
            self.$inner.set_aside(unreadable)
        }

        fn ping(&self) -> bus::StoreFuture<'_, ()> {
            self.$inner.ping()
        }

        fn claim_schedule(&self, id: bus::ScheduleId, now_ms: u64) -> bus::StoreFuture<'_, bool> {
            self.$inner.claim_schedule(id, now_ms)
        }

        fn claim_due_schedules(&self, now_ms: u64) -> bus::StoreFuture<'_, Vec<bus::Scheduled>> {
            self.$inner.claim_due_schedules(now_ms)
        }
    };
}
pub(crate) use delegate_all_but_commit;

pub use postgres::PostgresStore;
pub use sqlite::{DATABASE_FILE, SqliteStore};

/// What anything leaving the process passes first: a socket's frames, an
/// HTTP answer, each part of a streamed page. The embedded store takes
/// commits into memory and writes their journal lines together
/// ([`SqliteStore::barrier`]); passing the barrier writes the lines taken
/// in so far, so that nothing a client is told can be lost by a crash.
/// The other stores write before a commit returns: their barrier is open.
#[derive(Clone, Default)]
pub struct Barrier(Option<Arc<Flush>>);

type Flush = dyn Fn() -> Result<(), bus::StoreError> + Send + Sync;

impl Barrier {
    /// A barrier that calls `flush`.
    pub(crate) fn new(
        flush: impl Fn() -> Result<(), bus::StoreError> + Send + Sync + 'static,
    ) -> Self {
        Self(Some(Arc::new(flush)))
    }

    /// Returns once every commit made so far is on disk; an error when the
    /// store cannot write them (nothing may be told, then).
    pub fn pass(&self) -> Result<(), bus::StoreError> {
        self.0.as_ref().map_or(Ok(()), |flush| flush())
    }
}

/// Now, for the rows that record when something happened.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
