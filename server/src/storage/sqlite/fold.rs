//! The fold: what the journal holds, written into the tables by a
//! connection and a thread of their own ([`fold_in_background`]) every
//! [`FOLD_EVERY`], or sooner past [`FOLD_OPS`] ops, a few statements per
//! transaction. The writer is taken only to close the journal's file and
//! hand over what it held ([`Writer::take_for_fold`]); the fold then runs
//! beside the commits.
//!
//! It ran on the writer's connection, holding the writer's lock for each
//! step: every commit waited for the step under way, 8 to 45 ms at 1,000
//! games, about a tenth of the time in all, which was most of the moves'
//! p95 and p99 (docs/performance.md, "The fold beside the writer").
//! SQLite lets the two connections be: the writer's only reads the tables
//! (the versions of states kept on disk only, after [`Unwritten`]) and
//! writes in place for the rare effects set aside, which then waits for
//! the step under way (the busy timeout); a state's row is forgotten from
//! `Unwritten` only once the step that wrote it has committed, so a read
//! never misses it.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use bus::StoreError;
use foldhash::HashSet;
use rusqlite::Connection;

use super::journal::{self, Folding, Unwritten};
use super::journal_file::{self, JournalFile};
use super::sqlite;
use super::writer::{self, Writer};

/// How long the journal's ops wait at most for their fold. A state
/// changed ten times in that time is written to its table once: a game
/// moves about twice a second at 5,000 games, and against one second,
/// three wrote 11% fewer bytes a move and kept the p99 of its moves under
/// 50 ms in seven runs of eight (19 to 65 ms) against two of ten (19 to
/// 236); at 1,000 games 12% fewer bytes, p99 and CPU within noise
/// (docs/performance.md, "The fold every three seconds"). The journal's
/// files then hold a few more seconds of ops for a start-up to fold, and
/// the memory their net result.
const FOLD_EVERY: Duration = Duration::from_secs(3);

/// Ops past which the journal is folded before its time.
pub(super) const FOLD_OPS: usize = 100_000;

/// Ops the journal may hold besides the fold under way before each write
/// helps the fold with [`HELP_STEPS`] statements of its own (see [`help`]).
pub(super) const FOLD_BACKLOG: usize = 2 * FOLD_OPS;

/// Statements of a fold a write runs when the fold is behind: a
/// millisecond or two.
const HELP_STEPS: usize = 256;

/// Statements of a fold run in one transaction. Each step writes every
/// page it touches, so fewer, larger steps write a page the fold's
/// statements share fewer times: 4,000 against 1,000 wrote 9% fewer bytes
/// per move at 1,000 games (docs/performance.md, "The journal").
const FOLD_STEPS: usize = 4_000;

/// The fold's connection, and the fold under way if any.
pub(super) struct Folder {
    connection: Connection,
    /// Where the journal's files are.
    dir: PathBuf,
    on_disk_only: HashSet<&'static str>,
    unwritten: Arc<Unwritten>,
    /// The fold under way, if any (what the journal held at its start).
    folding: Option<Folding>,
}

impl Folder {
    /// A fold of the journal in `dir` on `connection`, which forgets from
    /// `unwritten` the rows of the `on_disk_only` states it writes.
    pub(super) fn new(
        connection: Connection,
        dir: &Path,
        on_disk_only: HashSet<&'static str>,
        unwritten: Arc<Unwritten>,
    ) -> Self {
        Self {
            connection,
            dir: dir.to_owned(),
            on_disk_only,
            unwritten,
            folding: None,
        }
    }

    /// Whether a fold is under way.
    pub(super) fn is_folding(&self) -> bool {
        self.folding.is_some()
    }

    /// Starts folding what `take` hands over (the writer's
    /// [`Writer::take_for_fold`]), unless a fold is under way.
    pub(super) fn start(
        &mut self,
        take: impl FnOnce() -> Result<Option<Folding>, StoreError>,
    ) -> Result<(), StoreError> {
        if self.folding.is_none() {
            self.folding = take()?;
        }
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
            journal_file::remove_through(&self.dir, folding.through);
            self.folding = None;
        }
        Ok(())
    }

    /// Finishes the fold under way, then folds what `take` hands over,
    /// each in one transaction: the tables then hold every write committed
    /// before `take` ran.
    pub(super) fn fold_all(
        &mut self,
        take: impl FnOnce() -> Result<Option<Folding>, StoreError>,
    ) -> Result<(), StoreError> {
        self.fold_some(usize::MAX)?;
        self.start(take)?;
        self.fold_some(usize::MAX)
    }
}

/// Locks `folder`; a step that panicked left nothing half done (its
/// transaction rolled back).
pub(super) fn lock(folder: &Mutex<Folder>) -> std::sync::MutexGuard<'_, Folder> {
    folder.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Folds the journal every [`FOLD_EVERY`], or when woken (past
/// [`FOLD_OPS`]), a step per transaction, on the core's idle time (see
/// [`schedule`]). It stops once the store is gone (its end of `wake`
/// dropped), between two steps at the latest: what the journal holds then
/// is folded at the next start, and a store opened again on the same
/// folder meanwhile finds no other writer at work.
pub(super) fn fold_in_background(
    writer: Weak<Mutex<Writer>>,
    folder: Weak<Mutex<Folder>>,
    wake: Receiver<()>,
) {
    let gone = |wake: &Receiver<()>| matches!(wake.try_recv(), Err(TryRecvError::Disconnected));
    let mut behind = false;
    loop {
        if let Err(RecvTimeoutError::Disconnected) = wake.recv_timeout(FOLD_EVERY) {
            return;
        }
        // Idle work again, unless the last fold ran over its interval.
        schedule(behind);
        let started = std::time::Instant::now();
        let (Some(writer), Some(folder)) = (writer.upgrade(), folder.upgrade()) else {
            return;
        };
        if let Err(error) = lock(&folder).start(|| writer::lock(&writer).take_for_fold()) {
            tracing::warn!(%error, "cannot start the journal's fold; trying again at the next interval");
        }
        drop(writer);
        behind = false;
        // The lock a step at a time: a write helping the fold takes it
        // between two.
        while !gone(&wake) {
            if !behind && started.elapsed() > FOLD_EVERY {
                // The core is never idle long enough: meanwhile the
                // journal's next interval piles up in memory.
                behind = true;
                schedule(behind);
            }
            let mut folder = lock(&folder);
            if !folder.is_folding() {
                break;
            }
            if let Err(error) = folder.fold_some(FOLD_STEPS) {
                tracing::warn!(%error, "a step of the journal's fold failed; it stays in the journal");
                break;
            }
        }
    }
}

/// A write's help to a fold that is behind (past [`FOLD_BACKLOG`] ops
/// journaled besides the fold under way): a few statements of it, on the
/// writing thread, starting it if none is under way. Without it, the
/// writes of a full core outran a fold that only gets the core's idle
/// time, or a fair share of a core asked for more than it has, and the
/// journal grew in memory without bound (250 MB in 12 s at 5,000 games
/// offered 20,000 moves/s); helping, the writes go only as fast as the
/// fold, as they did when the fold held the writer's lock.
pub(super) fn help(writer: &Mutex<Writer>, folder: &Mutex<Folder>) {
    // Failures at debug level: a fold that fails, fails for every write
    // past the backlog, and the fold's thread warns of it every interval.
    let mut folder = lock(folder);
    if let Err(error) = folder.start(|| writer::lock(writer).take_for_fold()) {
        tracing::debug!(%error, "a write could not start the journal's fold");
        return;
    }
    if let Err(error) = folder.fold_some(HELP_STEPS) {
        tracing::debug!(%error, "a write's step of the journal's fold failed");
    }
}

/// Tells the kernel's scheduler how the fold's thread takes the core: as
/// idle work (`SCHED_IDLE`), which runs only when nothing else would, or,
/// `behind` (the fold under way, or the last one, has taken longer than
/// its interval: the core is never idle long enough), as batch work
/// (`SCHED_BATCH`) with a fair share (and the writes help it past a
/// backlog: see [`help`]). A fold is 60 to 100 ms of a second's CPU at
/// 1,000 games; taken at once beside the requests, the requests behind it
/// waited: idle, the moves' p50 went from 3 to 6 ms to 0.8 ms and p99
/// from 98 to 124 ms to 42 to 85 (docs/performance.md, "The fold beside
/// the writer"). Elsewhere than Linux, nothing.
fn schedule(behind: bool) {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadPriorityOsValue,
            ThreadSchedulePolicy, set_thread_priority_and_policy, thread_native_id,
        };
        let policy = match behind {
            true => NormalThreadSchedulePolicy::Batch,
            false => NormalThreadSchedulePolicy::Idle,
        };
        // Nice 0: only the policy changes.
        let nice = ThreadPriority::Os(ThreadPriorityOsValue::default());
        let policy = ThreadSchedulePolicy::Normal(policy);
        if let Err(error) = set_thread_priority_and_policy(thread_native_id(), nice, policy) {
            tracing::debug!(?error, "the fold's scheduling policy was refused");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = behind;
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
