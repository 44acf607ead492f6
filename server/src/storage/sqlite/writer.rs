//! The embedded store's writer: the write connection, the journal's file
//! and what it holds, behind one lock. Each caller commits on its own
//! thread, one at a time ([`Writer::commit`]: its ops appended to the
//! journal as one line, see [`journal`](super::journal)), and hears back
//! once the line is taken in; the lines taken in are written together
//! ([`Writer::flush`]) when anything leaves the process (the store's
//! [`Barrier`](crate::storage::Barrier)) or a fold starts. The
//! [`fold`](super::fold) takes what the journal holds now and then, and
//! writes it into the tables beside.
//!
//! Each commit was a `write` of its own line: about 1.5 a move at 1,000
//! games, 7.8% of the server's samples. Written at the barrier, a moment's
//! commits (a move's, and the handlers' it sets off) share one
//! (docs/performance.md, "Commits written together").
//!
//! It was a thread that owned the connection, took the writes queued
//! meanwhile and committed them in groups: on a busy core each group woke
//! it and then each caller, two thread switches for a few writes. With
//! the journal a file, a commit is one `write`, cheaper than the
//! hand-off: at 1,000 games, 84 to 86 µs of server CPU per move against
//! 87 to 101, with 2.4 times the write calls and a sixth of the thread
//! switches (docs/performance.md, "The writer on the caller's thread").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bus::{MemoryStore, StoreError};
use foldhash::HashSet;
use futures::FutureExt;
use rusqlite::{Connection, OptionalExtension, Transaction};

use super::journal::{self, Folding, Staged, Unfolded, Unwritten};
use super::journal_file::JournalFile;
use super::sqlite;
use crate::storage::sql::{self, Executor, Param, Write};

/// The writer: its connection, the states kept in memory (the writer
/// changes them as it commits, so their versions are the ones to check),
/// the state types kept on disk only (read from the table, or from
/// `unwritten` until a fold writes them), the journal's file and what it
/// holds since it was last handed to the fold.
pub(super) struct Writer {
    pub(super) connection: Connection,
    pub(super) states: Arc<MemoryStore>,
    pub(super) on_disk_only: HashSet<&'static str>,
    pub(super) unwritten: Arc<Unwritten>,
    pub(super) journal: JournalFile,
    pub(super) unfolded: Unfolded,
    /// Lines are taken in and not written yet: set as a commit takes its
    /// line in, cleared once a flush wrote them, both under the lock; the
    /// barrier reads it without the lock.
    pub(super) unflushed: Arc<AtomicBool>,
}

/// Locks `writer`. A commit that panicked (a bug: nothing a client sends
/// is unwrapped) does not stop the writes after it, as with Tokio's lock
/// before.
pub(super) fn lock(writer: &Mutex<Writer>) -> MutexGuard<'_, Writer> {
    writer.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Writer {
    /// What the journal holds, to fold, if anything: its file is closed,
    /// and the next writes go to a new one.
    pub(super) fn take_for_fold(&mut self) -> Result<Option<Folding>, StoreError> {
        self.flush()?;
        if self.unfolded.len() == 0 {
            return Ok(None);
        }
        let through = self.journal.rotate()?;
        let unfolded = std::mem::replace(&mut self.unfolded, Unfolded::fresh());
        Ok(Some(unfolded.into_folding(through)))
    }

    /// Writes the lines taken in since the last flush.
    pub(super) fn flush(&mut self) -> Result<(), StoreError> {
        self.journal.flush()?;
        self.unflushed.store(false, Ordering::Release);
        Ok(())
    }

    /// One write, checked, its ops appended to the journal as one line:
    /// its conflict, or whether the line was taken in.
    pub(super) fn commit(&mut self, write: &Write) -> Result<(), StoreError> {
        self.commit_group(&[write])?
            .pop()
            .unwrap_or_else(|| Err(StoreError::backend_says("a write went unanswered")))
    }

    /// The writes checked, and their ops appended to the journal as one
    /// line (effects set aside are written in place first, in a
    /// transaction). A conflicting write changed nothing and is answered
    /// with its conflict, the others with the group's fate. While the
    /// journal's last write failed, nothing more is taken in until a
    /// write succeeds.
    pub(super) fn commit_group(
        &mut self,
        writes: &[&Write],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        if self.journal.failing() {
            self.flush()?;
        }
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
            self.unflushed.store(true, Ordering::Release);
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
