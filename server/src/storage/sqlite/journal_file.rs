//! The journal's files, beside the database: `journal-<n>.log`, one line
//! per group of writes (its ops as a JSON list), appended with one `write`
//! each.
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
//! kernel's hands before any caller hears back, so a crashed or killed
//! process loses nothing acknowledged; a power cut may lose the last
//! moments. A process killed inside a `write` may leave a line cut short
//! at a file's end: nobody heard back about it, and the next start drops
//! it.
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

/// The file a group's ops are appended to.
#[derive(Debug)]
pub(crate) struct JournalFile {
    dir: PathBuf,
    number: u64,
    file: File,
    /// Bytes of whole lines: where a failed append is cut back to.
    len: u64,
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
        })
    }

    /// The folder the journal's files are in.
    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one group's ops as a line, with one `write`. One that fails
    /// is cut off again, so the next line starts where it would have.
    pub(crate) fn append(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(ops)
            .map_err(|error| StoreError::backend("cannot write a journal line", error))?;
        line.push(b'\n');
        if let Err(error) = self.file.write_all(&line) {
            // A line cut short in the middle of the file would stop the
            // next start; at its end, it is dropped.
            if let Err(cut) = self.file.set_len(self.len) {
                tracing::error!(%cut, "a failed journal line could not be cut off; starting a new file");
                if let Ok(next) = Self::create(&self.dir, self.number + 1) {
                    *self = next;
                }
            }
            return Err(StoreError::backend("cannot append to the journal", error));
        }
        self.len += line.len() as u64;
        Ok(())
    }

    /// Goes on in the next file: the number of the one it closes, whose
    /// lines are all the writer has taken in since the last fold started.
    pub(crate) fn rotate(&mut self) -> Result<u64, StoreError> {
        let next = Self::create(&self.dir, self.number + 1)?;
        Ok(std::mem::replace(self, next).number)
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
        let ops: Vec<Op> = serde_json::from_slice(line).map_err(|error| {
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
        let mut unfolded = Unfolded::default();
        assert_eq!(read(dir.path(), 0, &mut unfolded).expect("reads"), 2);
        assert_eq!(unfolded.len(), 2);
        let mut after_first = Unfolded::default();
        assert_eq!(read(dir.path(), 1, &mut after_first).expect("reads"), 2);
        assert_eq!(after_first.len(), 1, "file 1 is folded: skipped");
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
