//! The journal's files, beside the database: `journal-<n>.log`, one line
//! per group of writes (its ops as a JSON list). Lines are appended to a
//! buffer and written together ([`JournalFile::flush`]) before anything
//! that depends on them leaves the process (the store's
//! [`Barrier`](crate::storage::Barrier)).
//!
//! Kept in a table of the database, each group's row cost a transaction
//! and about ten WAL pages (40 KB written for a few KB of ops: the row's
//! overflow pages, the page list and the freelist rewritten as each new
//! row took the pages the last fold freed). Appended to a file, a group
//! writes its own bytes and nothing else: at 1,000 games, half the bytes
//! written per move and a tenth of the server's CPU (docs/performance.md,
//! "The journal in a file").
//!
//! Durability is the WAL's at `synchronous = NORMAL`: a line is in the
//! kernel's hands before any client hears back, so a crashed or killed
//! process loses nothing acknowledged; a power cut may lose the last
//! moments. A process killed before a flush, or inside its `write`, loses
//! lines nobody heard back about (a line cut short at a file's end is
//! dropped by the next start).
//!
//! Each fold starts a new file and folds the one before; its last step
//! records the file's number in the `journal_folded` table in the same
//! transaction, so a file up to that number is done with whether or not
//! it was deleted. At start-up, the files after it are folded in.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use bus::StoreError;

use super::journal::{Op, Unfolded};
use super::journal_line;

/// The file a group's ops are appended to.
#[derive(Debug)]
pub(crate) struct JournalFile {
    dir: PathBuf,
    number: u64,
    file: File,
    /// Bytes of whole lines written: where a failed write is cut back to.
    len: u64,
    /// Whole lines appended and not written yet.
    pending: Vec<u8>,
    /// The last write failed (its lines are still pending).
    failing: bool,
}

fn path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("journal-{number:010}.log"))
}

/// The number in a journal file's name.
fn number_of(name: &str) -> Option<u64> {
    name.strip_prefix("journal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> StoreError {
    move |error| StoreError::backend(what, error)
}

impl JournalFile {
    /// Starts journal file `number` in `dir`, empty.
    pub(crate) fn create(dir: &Path, number: u64) -> Result<Self, StoreError> {
        let at = path(dir, number);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&at)
            .map_err(io_error(format!("cannot create {}", at.display())))?;
        Ok(Self {
            dir: dir.to_owned(),
            number,
            file,
            len: 0,
            pending: Vec::new(),
            failing: false,
        })
    }

    /// The folder the journal's files are in.
    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one group's ops as a line, written at the next
    /// [`flush`](Self::flush).
    pub(crate) fn append(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        let start = self.pending.len();
        if let Err(error) = journal_line::write(ops, &mut self.pending) {
            self.pending.truncate(start);
            return Err(StoreError::backend("cannot write a journal line", error));
        }
        self.pending.push(b'\n');
        Ok(())
    }

    /// Whether the last write failed, its lines still pending.
    pub(crate) fn failing(&self) -> bool {
        self.failing
    }

    /// Writes the pending lines, with one `write`. On failure they are cut
    /// off the file again, so that the next try writes them whole where
    /// they would have been, and stay pending.
    pub(crate) fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Err(error) = self.file.write_all(&self.pending) {
            self.failing = true;
            // A line cut short in the middle of the file would stop the
            // next start; at its end, it is dropped.
            if let Err(cut) = self.file.set_len(self.len) {
                tracing::error!(%cut, "a failed journal write could not be cut off; starting a new file");
                if let Ok(mut next) = Self::create(&self.dir, self.number + 1) {
                    next.pending = std::mem::take(&mut self.pending);
                    next.failing = true;
                    *self = next;
                }
            }
            return Err(StoreError::backend("cannot append to the journal", error));
        }
        self.len += self.pending.len() as u64;
        self.pending.clear();
        self.failing = false;
        Ok(())
    }

    /// Goes on in the next file, once the pending lines are written: the
    /// number of the one it closes, whose lines are all the writer has
    /// taken in since the last fold started.
    pub(crate) fn rotate(&mut self) -> Result<u64, StoreError> {
        self.flush()?;
        let next = Self::create(&self.dir, self.number + 1)?;
        Ok(std::mem::replace(self, next).number)
    }
}

#[cfg(test)]
impl JournalFile {
    /// The process dies: what was taken in and not written is gone.
    pub(crate) fn lose_unwritten(&mut self) {
        self.pending.clear();
    }
}

impl Drop for JournalFile {
    /// A store closed (or a server stopping) writes what it took in.
    fn drop(&mut self) {
        if let Err(error) = self.flush() {
            tracing::error!(%error, "the journal's last lines were not written");
        }
    }
}

/// The journal files in `dir` numbered after `folded_through`, read into
/// `unfolded` in order; the highest number there is (or `folded_through`).
pub(crate) fn read(
    dir: &Path,
    folded_through: u64,
    unfolded: &mut Unfolded,
) -> Result<u64, StoreError> {
    let mut numbers = numbers(dir)?;
    numbers.sort_unstable();
    let mut last = folded_through;
    for number in numbers {
        last = last.max(number);
        if number <= folded_through {
            continue;
        }
        let at = path(dir, number);
        let text = std::fs::read(&at).map_err(io_error(format!("cannot read {}", at.display())))?;
        read_lines(&text, &at, unfolded)?;
    }
    Ok(last)
}

/// Takes in a file's lines; a last one cut short is dropped.
fn read_lines(text: &[u8], at: &Path, unfolded: &mut Unfolded) -> Result<(), StoreError> {
    let mut lines = text.split_inclusive(|byte| *byte == b'\n').enumerate();
    for (index, line) in &mut lines {
        let Some(line) = line.strip_suffix(b"\n") else {
            tracing::warn!(file = %at.display(), bytes = line.len(), "dropped a journal line cut short");
            break;
        };
        let ops = journal_line::read(line).map_err(|error| {
            StoreError::backend(
                format!("line {} of {} does not read", index + 1, at.display()),
                error,
            )
        })?;
        unfolded.take(ops);
    }
    Ok(())
}

/// Deletes the journal files numbered up to `through` (folded).
pub(crate) fn remove_through(dir: &Path, through: u64) {
    let numbers = match numbers(dir) {
        Ok(numbers) => numbers,
        Err(error) => {
            tracing::warn!(%error, "cannot list the journal's files");
            return;
        }
    };
    for number in numbers.into_iter().filter(|number| *number <= through) {
        if let Err(error) = std::fs::remove_file(path(dir, number)) {
            tracing::warn!(%error, number, "cannot delete a folded journal file");
        }
    }
}

fn numbers(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let entries =
        std::fs::read_dir(dir).map_err(io_error(format!("cannot list {}", dir.display())))?;
    let mut numbers = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error(format!("cannot list {}", dir.display())))?;
        if let Some(number) = entry.file_name().to_str().and_then(number_of) {
            numbers.push(number);
        }
    }
    Ok(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(id: u128) -> Vec<Op> {
        vec![Op::EntryDone { id }]
    }

    #[test]
    fn lines_appended_read_back_in_order_across_files() {
        let dir = tempfile::tempdir().expect("a folder");
        let mut file = JournalFile::create(dir.path(), 1).expect("creates");
        file.append(&ops(1)).expect("appends");
        assert_eq!(file.rotate().expect("rotates"), 1);
        file.append(&ops(2)).expect("appends");
        file.flush().expect("writes");
        let mut unfolded = Unfolded::default();
        assert_eq!(read(dir.path(), 0, &mut unfolded).expect("reads"), 2);
        assert_eq!(unfolded.len(), 2);
        let mut after_first = Unfolded::default();
        assert_eq!(read(dir.path(), 1, &mut after_first).expect("reads"), 2);
        assert_eq!(after_first.len(), 1, "file 1 is folded: skipped");
    }

    #[test]
    fn lines_are_written_at_the_flush_and_a_failed_write_keeps_them_for_the_next() {
        let dir = tempfile::tempdir().expect("a folder");
        let mut file = JournalFile::create(dir.path(), 1).expect("creates");
        file.append(&ops(1)).expect("appends");
        file.append(&ops(2)).expect("appends");
        let first = path(dir.path(), 1);
        assert_eq!(
            std::fs::read(&first).expect("reads").len(),
            0,
            "taken in only"
        );
        file.flush().expect("writes");
        let written = std::fs::read(&first).expect("reads");
        assert_eq!(written.iter().filter(|byte| **byte == b'\n').count(), 2);

        // The file can no longer be written (nor cut back): the line stays
        // pending, and the next flush writes it whole, in the next file.
        file.append(&ops(3)).expect("appends");
        file.file = File::open(&first).expect("opens read-only");
        assert!(file.flush().is_err());
        assert!(file.failing());
        file.flush().expect("writes on the second try");
        assert!(!file.failing());
        assert_eq!(std::fs::read(&first).expect("reads"), written, "untouched");
        let mut unfolded = Unfolded::default();
        assert_eq!(read(dir.path(), 0, &mut unfolded).expect("reads"), 2);
        assert_eq!(unfolded.len(), 3, "each line once");
    }

    #[test]
    fn a_last_line_cut_short_is_dropped_and_a_broken_whole_line_refused() {
        let dir = tempfile::tempdir().expect("a folder");
        let mut file = JournalFile::create(dir.path(), 3).expect("creates");
        file.append(&ops(1)).expect("appends");
        drop(file);
        let at = path(dir.path(), 3);
        let mut torn = std::fs::read(&at).expect("reads");
        torn.extend_from_slice(br#"[{"op":"entryDo"#);
        std::fs::write(&at, &torn).expect("writes");
        let mut unfolded = Unfolded::default();
        assert_eq!(read(dir.path(), 0, &mut unfolded).expect("reads"), 3);
        assert_eq!(unfolded.len(), 1, "the whole line, not the torn one");

        torn.extend_from_slice(b"\n");
        std::fs::write(&at, &torn).expect("writes");
        let error = read(dir.path(), 0, &mut Unfolded::default()).expect_err("refused");
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    #[test]
    fn folded_files_are_deleted_and_others_left() {
        let dir = tempfile::tempdir().expect("a folder");
        let mut file = JournalFile::create(dir.path(), 1).expect("creates");
        file.rotate().expect("rotates");
        file.rotate().expect("rotates");
        std::fs::write(dir.path().join("journal-notes.txt"), "x").expect("writes");
        remove_through(dir.path(), 2);
        let mut left = numbers(dir.path()).expect("lists");
        left.sort_unstable();
        assert_eq!(left, vec![3]);
        assert!(dir.path().join("journal-notes.txt").exists());
    }
}
