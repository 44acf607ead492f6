//! The embedded store's writer: one thread owns the write connection and
//! commits in groups. Every write queued while the previous group was
//! committing goes into the next transaction, each caller hears back once
//! its group is on disk, and what a group changes goes to the journal
//! (see [`journal`](super::journal)), folded into the tables every
//! [`FOLD_EVERY`] or [`FOLD_OPS`] ops, whichever comes first, a few
//! statements at a time between groups.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use bus::{Commit, MemoryStore, StoreError};
use futures::FutureExt;
use rusqlite::{Connection, OptionalExtension, Transaction};
use tokio::sync::oneshot;

use super::journal::{self, Folding, Staged, Unfolded};
use super::sqlite;
use crate::storage::sql::{self, Executor, Param, Write};

/// The most writes one transaction takes.
const GROUP: usize = 256;

/// How long the journal's ops wait at most for their fold. A state
/// changed ten times in that time is written to its table once.
pub(super) const FOLD_EVERY: Duration = Duration::from_secs(1);

/// Ops past which the journal is folded before its time.
const FOLD_OPS: usize = 100_000;

/// Statements of a fold run between two groups of writes, in one
/// transaction. A whole second's fold at 1,000 games (50,000 to 65,000
/// ops, 70 to 140 ms in one transaction) held up every write queued
/// meanwhile; in steps of this many, a group waits a few milliseconds.
/// Each step writes every page it touches, so fewer, larger steps write
/// a page the second's statements share fewer times: 4,000 against 1,000
/// wrote 9% fewer bytes per move at 1,000 games, with the same p99 at
/// 10 and 100 games (docs/performance.md, "The journal").
const FOLD_STEPS: usize = 4_000;

/// What the writer is asked to do.
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every request is a write: boxing it would cost an allocation each"
)]
pub(super) enum Request {
    /// A write, and who waits for its result.
    Write {
        write: Write,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Fold the journal into the tables now (before reading them).
    Fold(oneshot::Sender<Result<(), StoreError>>),
}

/// The writer's thread: its connection, the states kept in memory (the
/// writer changes them as it commits, so their versions are the ones to
/// check), the state types whose rows are written in place (they are read
/// from the file), and what the journal holds.
pub(super) struct Writer {
    pub(super) connection: Connection,
    pub(super) states: Arc<MemoryStore>,
    pub(super) on_disk_only: HashSet<&'static str>,
    pub(super) unfolded: Unfolded,
    /// The fold under way, if any (what the journal held at its start).
    pub(super) folding: Option<Folding>,
}

impl Writer {
    /// Takes whatever is queued (up to [`GROUP`] writes), commits it in one
    /// transaction, answers each caller, goes on with a fold under way or
    /// starts one when it is time, and goes on until every handle on the
    /// queue is gone; then folds what is left.
    pub(super) fn run(mut self, queue: Receiver<Request>) {
        let mut group = Vec::with_capacity(GROUP);
        let mut folds = Vec::new();
        let mut folded_at = Instant::now();
        // A step of the fold failed: wait for the queue before the next.
        let mut stalled = false;
        loop {
            // While a fold is under way, only a look at the queue between
            // its steps; otherwise wait, up to the next fold's time.
            let first = match self.folding.is_some() && !stalled {
                true => match queue.try_recv() {
                    Ok(first) => Some(first),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => break,
                },
                false => match queue.recv_timeout(FOLD_EVERY) {
                    Ok(first) => Some(first),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            let mut next = first;
            while let Some(request) = next.take() {
                match request {
                    Request::Write { write, done } => group.push((write, done)),
                    Request::Fold(done) => folds.push(done),
                }
                if group.len() < GROUP {
                    next = queue.try_recv().ok();
                }
            }
            if !group.is_empty() {
                self.commit_and_answer(&mut group);
            }
            if !folds.is_empty() {
                let folded = self.fold_all();
                folded_at = Instant::now();
                for done in folds.drain(..) {
                    let _ = done.send(folded.clone());
                }
                continue;
            }
            if self.folding.is_none()
                && self.unfolded.len() > 0
                && (self.unfolded.len() >= FOLD_OPS || folded_at.elapsed() >= FOLD_EVERY)
            {
                self.folding = std::mem::take(&mut self.unfolded).into_folding();
                folded_at = Instant::now();
            }
            stalled = match self.fold_some(FOLD_STEPS) {
                Ok(()) => false,
                Err(error) => {
                    tracing::warn!(%error, "a step of the journal's fold failed; it stays in the journal");
                    true
                }
            };
        }
        if let Err(error) = self.fold_all() {
            tracing::warn!(%error, "the journal's last fold failed; it stays in the journal");
        }
    }

    /// Runs up to `budget` statements of the fold under way, if there is
    /// one, in a transaction.
    pub(super) fn fold_some(&mut self, budget: usize) -> Result<(), StoreError> {
        if let Some(folding) = &mut self.folding
            && fold_step(&mut self.connection, folding, budget)?
        {
            self.folding = None;
        }
        Ok(())
    }

    /// Finishes the fold under way, then folds everything since, each in
    /// one transaction: the tables then hold every committed write.
    pub(super) fn fold_all(&mut self) -> Result<(), StoreError> {
        self.fold_some(usize::MAX)?;
        self.folding = std::mem::take(&mut self.unfolded).into_folding();
        self.fold_some(usize::MAX)
    }

    fn commit_and_answer(
        &mut self,
        group: &mut Vec<(Write, oneshot::Sender<Result<(), StoreError>>)>,
    ) {
        let writes: Vec<&Write> = group.iter().map(|(write, _)| write).collect();
        let results = match self.commit_group(&writes) {
            Ok(results) => results,
            // Something other than a version conflict failed, and took the
            // whole group with it: each write again, on its own, so only
            // the one at fault fails.
            Err(error) => {
                tracing::warn!(%error, writes = writes.len(), "group commit failed; writing one at a time");
                writes
                    .iter()
                    .map(|write| {
                        self.commit_group(&[write])
                            .and_then(|mut one| one.remove(0))
                    })
                    .collect()
            }
        };
        for ((_, done), result) in group.drain(..).zip(results) {
            let _ = done.send(result);
        }
    }

    /// One transaction for the writes: each checked, its ops appended to
    /// the journal as one row. A conflicting write changed nothing and is
    /// answered with its conflict, the others with the transaction's fate.
    pub(super) fn commit_group(
        &mut self,
        writes: &[&Write],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let tx = self.connection.transaction().map_err(sqlite)?;
        let mut staged = Staged::default();
        let mut results = Vec::with_capacity(writes.len());
        for write in writes {
            match stage(&tx, &self.on_disk_only, &self.states, &mut staged, write) {
                Ok(()) => results.push(Ok(())),
                Err(conflict @ StoreError::Conflict { .. }) => results.push(Err(conflict)),
                Err(error) => return Err(error),
            }
        }
        let seq = match staged.ops.is_empty() {
            true => None,
            false => Some(journal::append(&tx, &staged.ops)?),
        };
        tx.commit().map_err(sqlite)?;
        if let Some(seq) = seq {
            self.unfolded.take(seq, staged.ops);
        }
        for commit in staged.in_memory {
            // Checked above against these very versions: it cannot conflict.
            let remembered = bus::Store::commit(&*self.states, commit).now_or_never();
            if let Some(Err(error)) = remembered {
                tracing::error!(%error, "a committed state did not go into memory");
            }
        }
        Ok(results)
    }
}

/// Folds everything `unfolded` holds in one transaction (at start-up).
pub(super) fn fold(connection: &mut Connection, unfolded: Unfolded) -> Result<(), StoreError> {
    match unfolded.into_folding() {
        Some(mut folding) => fold_step(connection, &mut folding, usize::MAX).map(drop),
        None => Ok(()),
    }
}

/// Runs up to `budget` statements of a fold in one transaction; whether
/// the fold is over.
fn fold_step(
    connection: &mut Connection,
    folding: &mut Folding,
    budget: usize,
) -> Result<bool, StoreError> {
    let tx = connection.transaction().map_err(sqlite)?;
    let done = folding.run(&tx, budget)?;
    tx.commit().map_err(sqlite)?;
    Ok(folding.ran(done))
}

/// One write on the group's open transaction: what changes the tables
/// read from the file (sessions, states kept on disk only, effects set
/// aside) is written in place; the rest is staged for the journal.
fn stage(
    tx: &Transaction<'_>,
    on_disk_only: &HashSet<&'static str>,
    memory: &MemoryStore,
    staged: &mut Staged,
    write: &Write,
) -> Result<(), StoreError> {
    match write {
        Write::Commit(commit) => match &commit.key {
            Some(key) if on_disk_only.contains(key.state_type) => {
                let state = Commit::state(
                    commit.key.clone(),
                    commit.expected_version,
                    commit.change.clone(),
                );
                in_place(tx, &Write::Commit(state))?;
                journal::commit_ops(commit, &mut staged.ops);
                Ok(())
            }
            _ => staged.commit(memory, commit),
        },
        Write::Finish(finished) => {
            journal::finished_ops(finished, &mut staged.ops);
            Ok(())
        }
        Write::Session { .. } => in_place(tx, write),
        Write::SetAside { unreadable, .. } => {
            // In place (the row aside, and the schedule out of the table),
            // and through the journal (the schedule out of what it holds).
            in_place(tx, write)?;
            journal::set_aside_ops(unreadable, &mut staged.ops);
            Ok(())
        }
    }
}

/// A write run as the shared statements say, on the open transaction.
/// Every [`Executor`] call here is ready at once (rusqlite is
/// synchronous), so `block_on` only polls it.
pub(super) fn in_place(tx: &Transaction<'_>, write: &Write) -> Result<(), StoreError> {
    futures::executor::block_on(sql::apply(&mut OnTransaction(tx), write))
}

/// The writer's open transaction, as an [`Executor`].
struct OnTransaction<'a>(&'a Transaction<'a>);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Text(text) => text.to_sql(),
            Param::Int(number) => number.to_sql(),
            Param::MaybeInt(number) => number.to_sql(),
        }
    }
}

impl Executor for OnTransaction<'_> {
    async fn execute(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64, StoreError> {
        let mut statement = self.0.prepare_cached(sql).map_err(sqlite)?;
        let rows = statement
            .execute(rusqlite::params_from_iter(params))
            .map_err(sqlite)?;
        Ok(rows as u64)
    }

    async fn fetch_int(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Option<i64>, StoreError> {
        let mut statement = self.0.prepare_cached(sql).map_err(sqlite)?;
        statement
            .query_row(rusqlite::params_from_iter(params), |row| row.get(0))
            .optional()
            .map_err(sqlite)
    }
}
