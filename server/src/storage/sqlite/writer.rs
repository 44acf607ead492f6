//! The embedded store's writer: the write connection, the journal's file
//! and what it holds, behind one lock. Each caller commits on its own
//! thread, one at a time ([`Writer::commit`]: its ops appended to the
//! journal as one line, see [`journal`](super::journal)), and hears back
//! once the line is written; a thread of its own ([`fold_in_background`])
//! folds the journal into the tables every [`FOLD_EVERY`], or sooner past
//! [`FOLD_OPS`] ops, a few statements at a time, taking the lock for each
//! step.
//!
//! It was a thread that owned the connection, took the writes queued
//! meanwhile and committed them in groups: on a busy core each group woke
//! it and then each caller, two thread switches for a few writes. With
//! the journal a file, a commit is one `write`, cheaper than the
//! hand-off: at 1,000 games, 84 to 86 µs of server CPU per move against
//! 87 to 101, with 2.4 times the write calls and a sixth of the thread
//! switches (docs/performance.md, "The writer on the caller's thread").

use foldhash::HashSet;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bus::{MemoryStore, StoreError};
use futures::FutureExt;
use rusqlite::{Connection, OptionalExtension, Transaction};

use super::journal::{self, Folding, Staged, Unfolded, Unwritten};
use super::journal_file::{self, JournalFile};
use super::sqlite;
use crate::storage::sql::{self, Executor, Param, Write};

/// How long the journal's ops wait at most for their fold. A state
/// changed ten times in that time is written to its table once.
const FOLD_EVERY: Duration = Duration::from_secs(1);

/// Ops past which the journal is folded before its time.
pub(super) const FOLD_OPS: usize = 100_000;

/// Statements of a fold run in one transaction, holding the writer's
/// lock. A whole second's fold at 1,000 games (50,000 to 65,000 ops, 70
/// to 140 ms in one transaction) held up every write meanwhile; in steps
/// of this many, a write waits a few milliseconds. Each step writes every
/// page it touches, so fewer, larger steps write a page the second's
/// statements share fewer times: 4,000 against 1,000 wrote 9% fewer bytes
/// per move at 1,000 games, with the same p99 at 10 and 100 games
/// (docs/performance.md, "The journal").
const FOLD_STEPS: usize = 4_000;

/// The writer: its connection, the states kept in memory (the writer
/// changes them as it commits, so their versions are the ones to check),
/// the state types kept on disk only (read from the table, or from
/// `unwritten` until a fold writes them), the journal's file and what it
/// holds.
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

/// Folds the journal every [`FOLD_EVERY`], or when woken (past
/// [`FOLD_OPS`]), one step a lock, so that commits come in between. It
/// stops once the store is gone (its end of `wake` dropped), between two
/// steps at the latest: what the journal holds then is folded at the next
/// start, and a store opened again on the same folder meanwhile finds no
/// other writer at work.
pub(super) fn fold_in_background(writer: Weak<tokio::sync::Mutex<Writer>>, wake: Receiver<()>) {
    let gone = |wake: &Receiver<()>| matches!(wake.try_recv(), Err(TryRecvError::Disconnected));
    loop {
        if let Err(RecvTimeoutError::Disconnected) = wake.recv_timeout(FOLD_EVERY) {
            return;
        }
        let Some(writer) = writer.upgrade() else {
            return;
        };
        if let Err(error) = writer.blocking_lock().start_fold() {
            tracing::warn!(%error, "cannot start the journal's fold; trying again in a second");
        }
        loop {
            let mut writer = writer.blocking_lock();
            if writer.folding.is_none() || gone(&wake) {
                break;
            }
            if let Err(error) = writer.fold_some(FOLD_STEPS) {
                tracing::warn!(%error, "a step of the journal's fold failed; it stays in the journal");
                break;
            }
        }
    }
}

impl Writer {
    /// Starts folding what the journal holds, if anything: its file is
    /// closed, and the next writes go to a new one.
    pub(super) fn start_fold(&mut self) -> Result<(), StoreError> {
        if self.folding.is_some() || self.unfolded.len() == 0 {
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

    /// One write, checked, its ops appended to the journal as one line:
    /// its conflict, or whether the line was written.
    pub(super) fn commit(&mut self, write: &Write) -> Result<(), StoreError> {
        self.commit_group(&[write])?
            .pop()
            .unwrap_or_else(|| Err(StoreError::backend_says("a write went unanswered")))
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
