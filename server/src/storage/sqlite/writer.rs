//! The embedded store's writer: one thread owns the write connection and
//! commits in groups. Every write queued while the previous group was
//! committing goes into the next transaction, each caller hears back once
//! its group is journaled (see [`journal`](super::journal)), folded into
//! the tables every
//! [`FOLD_EVERY`] or [`FOLD_OPS`] ops, whichever comes first, a few
//! statements at a time between groups.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use bus::{MemoryStore, StoreError};
use futures::FutureExt;
use rusqlite::{Connection, OptionalExtension, Transaction};
use tokio::sync::oneshot;

use super::journal::{self, Folding, Staged, Unfolded, Unwritten};
use super::journal_file::{self, JournalFile};
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
/// check), the state types kept on disk only (read from the table, or
/// from `unwritten` until a fold writes them), the journal's file and
/// what it holds.
pub(super) struct Writer {
    pub(super) connection: Connection,
    pub(super) states: Arc<MemoryStore>,
    pub(super) on_disk_only: HashSet<&'static str>,
    pub(super) unwritten: Arc<Unwritten>,
    pub(super) journal: JournalFile,
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
                folded_at = Instant::now();
                if let Err(error) = self.start_fold() {
                    tracing::warn!(%error, "cannot start the journal's fold; trying again in a second");
                }
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

    /// Starts folding what the journal holds, if anything: its file is
    /// closed, and the next groups go to a new one.
    pub(super) fn start_fold(&mut self) -> Result<(), StoreError> {
        if self.unfolded.len() == 0 {
            return Ok(());
        }
        let through = self.journal.rotate()?;
        self.folding = Some(std::mem::take(&mut self.unfolded).into_folding(through));
        Ok(())
    }

    /// Runs up to `budget` statements of the fold under way, if there is
    /// one, in a transaction; the states kept on disk only that it wrote
    /// are read from the table from then on. Once it is over, its journal
    /// file is deleted.
    pub(super) fn fold_some(&mut self, budget: usize) -> Result<(), StoreError> {
        let Some(folding) = &mut self.folding else {
            return Ok(());
        };
        let done = fold_step(&mut self.connection, folding, budget)?;
        let (written, over) = folding.ran(done);
        let on_disk_only = &self.on_disk_only;
        self.unwritten
            .folded(written.filter(|(state_type, _, _)| on_disk_only.contains(state_type)));
        if over {
            journal_file::remove_through(self.journal.dir(), folding.through);
            self.folding = None;
        }
        Ok(())
    }

    /// Finishes the fold under way, then folds everything since, each in
    /// one transaction: the tables then hold every committed write.
    pub(super) fn fold_all(&mut self) -> Result<(), StoreError> {
        self.fold_some(usize::MAX)?;
        self.start_fold()?;
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

    /// The writes checked, and their ops appended to the journal as one
    /// line (effects set aside are written in place first, in a
    /// transaction). A conflicting write changed nothing and is answered
    /// with its conflict, the others with the group's fate.
    pub(super) fn commit_group(
        &mut self,
        writes: &[&Write],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let mut staged = Staged::default();
        let mut in_place_writes = Vec::new();
        let mut results = Vec::with_capacity(writes.len());
        for write in writes {
            match self.stage(&mut staged, write) {
                Ok(()) => results.push(Ok(())),
                Err(conflict @ StoreError::Conflict { .. }) => results.push(Err(conflict)),
                Err(error) => return Err(error),
            }
            if let Write::SetAside { .. } = write {
                in_place_writes.push(*write);
            }
        }
        if !in_place_writes.is_empty() {
            let tx = self.connection.transaction().map_err(sqlite)?;
            for write in in_place_writes {
                in_place(&tx, write)?;
            }
            tx.commit().map_err(sqlite)?;
        }
        if !staged.ops.is_empty() {
            self.journal.append(&staged.ops)?;
        }
        for commit in staged.journaled(&mut self.unfolded, &self.unwritten) {
            // Checked above against these very versions: it cannot conflict.
            let remembered = bus::Store::commit(&*self.states, commit).now_or_never();
            if let Some(Err(error)) = remembered {
                tracing::error!(%error, "a committed state did not go into memory");
            }
        }
        Ok(results)
    }

    /// Stages one write's ops for the journal, its state checked against
    /// the version the writer knows.
    fn stage(&self, staged: &mut Staged, write: &Write) -> Result<(), StoreError> {
        match write {
            Write::Commit(commit) => match &commit.key {
                Some(key) if self.on_disk_only.contains(key.state_type) => {
                    let stored = |key: &_| match self.unwritten.version(key) {
                        Some(version) => Ok(version),
                        None => journal::table_version(&self.connection, key),
                    };
                    staged.commit(true, stored, commit)
                }
                _ => staged.commit(false, |key| Ok(self.states.version(key)), commit),
            },
            Write::Finish(finished) => {
                journal::finished_ops(finished, &mut staged.ops);
                Ok(())
            }
            Write::Session { token, user } => {
                staged.ops.push(journal::Op::Session {
                    token: token.clone(),
                    user: user.to_string(),
                });
                Ok(())
            }
            // Written in place too (the row aside, and the schedule out of
            // the table): through the journal, the schedule out of what it
            // holds.
            Write::SetAside { unreadable, .. } => {
                journal::set_aside_ops(unreadable, &mut staged.ops);
                Ok(())
            }
        }
    }
}

/// At start-up: folds what the last run journaled and did not fold (and
/// what an older release left in the `journal` table) into the tables,
/// in one transaction, deletes the folded files, and starts the next.
pub(super) fn recover(connection: &mut Connection, dir: &Path) -> Result<JournalFile, StoreError> {
    let mut unfolded = journal::read_table(connection)?;
    let folded_through = journal::folded_through(connection)?;
    let last = journal_file::read(dir, folded_through, &mut unfolded)?;
    fold_step(connection, &mut unfolded.into_folding(last), usize::MAX)?;
    journal_file::remove_through(dir, last);
    JournalFile::create(dir, last + 1)
}

/// Runs up to `budget` more statements of a fold in one transaction; how
/// many it has run then.
fn fold_step(
    connection: &mut Connection,
    folding: &mut Folding,
    budget: usize,
) -> Result<usize, StoreError> {
    let tx = connection.transaction().map_err(sqlite)?;
    let done = folding.run(&tx, budget)?;
    tx.commit().map_err(sqlite)?;
    Ok(done)
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
