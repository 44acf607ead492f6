//! The journal changes how the tables are written, never what they hold:
//! any sequence of writes, grouped any way, folded a few statements at a
//! time between groups (or left in the journal by a crash, a fold cut
//! short included, and folded at the next start), leaves the same rows as
//! each write run in place, answers each write the same, and reads of the
//! states kept on disk only see every write before the fold does.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use bus::{
    Change, Commit, Delivery, EffectText, Envelope, Finished, MemoryStore, OutboxEntry, ScheduleOp,
    Scheduled, StateBody, StateKey, StoreError, StoredEffect,
};
use proptest::prelude::*;
use rusqlite::Connection;

use super::fold::{Folder, help, recover};
use super::writer::{Writer, in_place};
use super::{journal, sqlite};
use crate::storage::sql::Write;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Happened {
    n: u32,
}
bus::events!(Happened);

/// A state type the writer keeps in memory, and one it writes in place.
const KEPT: &str = "Kept";
const ON_DISK: &str = "OnDisk";

#[derive(Debug, Clone)]
enum Step {
    /// A state set (its version as the test expects it, or a stale one).
    Set {
        on_disk: bool,
        id: u8,
        stale: bool,
    },
    Delete {
        on_disk: bool,
        id: u8,
    },
    /// A schedule added under one of a few keys.
    Schedule {
        key: u8,
    },
    Cancel {
        key: u8,
    },
    /// The nth latest schedule added so far fired.
    ScheduleDone {
        nth: usize,
    },
    /// An outbox entry, with a delivery of an earlier one.
    Outbox {
        delivers: Option<(usize, u32, u32)>,
    },
    EntryDone {
        nth: usize,
    },
    /// A session made for a new user.
    Session,
    /// The writer starts a fold if none is under way, and runs this many
    /// of its statements (the writes after it come between its steps).
    Fold {
        steps: usize,
    },
    /// The writes so far end their group here.
    EndGroup,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (any::<bool>(), 0..3u8, prop::bool::weighted(0.1))
            .prop_map(|(on_disk, id, stale)| Step::Set { on_disk, id, stale }),
        (any::<bool>(), 0..3u8).prop_map(|(on_disk, id)| Step::Delete { on_disk, id }),
        (0..3u8).prop_map(|key| Step::Schedule { key }),
        (0..3u8).prop_map(|key| Step::Cancel { key }),
        (0..4usize).prop_map(|nth| Step::ScheduleDone { nth }),
        prop::option::of((0..8usize, 0..2u32, 0..2u32))
            .prop_map(|delivers| Step::Outbox { delivers }),
        (0..4usize).prop_map(|nth| Step::EntryDone { nth }),
        Just(Step::Session),
        (1..6usize).prop_map(|steps| Step::Fold { steps }),
        Just(Step::EndGroup),
        Just(Step::EndGroup),
    ]
}

/// The migrations' SQL, in order, read once.
fn migrations() -> &'static [String] {
    static MIGRATIONS: OnceLock<Vec<String>> = OnceLock::new();
    MIGRATIONS.get_or_init(|| {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let mut files: Vec<_> = std::fs::read_dir(folder)
            .expect("the migrations")
            .map(|file| file.expect("a migration").path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|file| std::fs::read_to_string(file).expect("a migration reads"))
            .collect()
    })
}

/// An empty database with every migration's tables, in `folder`.
fn fresh_database(folder: &Path) -> Connection {
    let connection = Connection::open(folder.join(super::DATABASE_FILE)).expect("opens");
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .expect("as the store sets it");
    for migration in migrations() {
        connection.execute_batch(migration).expect("migrates");
    }
    connection
}

/// What the writer is given: a write, the end of a group, or steps of a
/// fold.
enum Given {
    Write(Write),
    EndGroup,
    Fold(usize),
}

/// The writes the steps make, with the versions a correct caller would
/// expect.
fn writes(steps: &[Step]) -> Vec<Given> {
    let mut versions: std::collections::HashMap<(bool, u8), u64> = Default::default();
    let (mut schedules, mut entries) = (Vec::new(), Vec::new());
    let mut next_id = 1u128;
    let mut out = Vec::new();
    let key = |on_disk: bool, id: u8| StateKey {
        state_type: if on_disk { ON_DISK } else { KEPT },
        id: format!("state-{id}"),
    };
    let latest = |ids: &[u128], nth: usize| ids.iter().rev().nth(nth).copied();
    for (at, step) in steps.iter().enumerate() {
        next_id += 1;
        let given = match step {
            Step::Set { on_disk, id, stale } => {
                let expected = versions.get(&(*on_disk, *id)).copied();
                let expected = if *stale {
                    Some(expected.map_or(7, |version| version + 1))
                } else {
                    expected
                };
                if !stale {
                    versions.insert((*on_disk, *id), expected.map_or(1, |v| v + 1));
                }
                let body = StateBody::json(format!("{{\"step\":{at},\"quote\":\"\\\"\"}}"), 2);
                let set = Commit::state(Some(key(*on_disk, *id)), expected, Change::Set(body));
                Given::Write(Write::Commit(set))
            }
            Step::Delete { on_disk, id } => {
                let expected = versions.remove(&(*on_disk, *id));
                let delete = Commit::state(Some(key(*on_disk, *id)), expected, Change::Delete);
                Given::Write(Write::Commit(delete))
            }
            Step::Schedule { key } => {
                schedules.push(next_id);
                let mut commit = Commit::state(None, None, Change::Keep);
                commit.schedules.push(ScheduleOp::Add(Scheduled {
                    id: next_id,
                    key: format!("timer-{key}"),
                    due_at_ms: 1_000 + at as u64,
                    updates_every_ms: (key % 2 == 0).then_some(250),
                    event: StoredEffect::Json(EffectText {
                        effect_type: "Happened".into(),
                        schema_version: 1,
                        payload: format!("{{\"n\":{at}}}"),
                    }),
                }));
                Given::Write(Write::Commit(commit))
            }
            Step::Cancel { key } => {
                let mut commit = Commit::state(None, None, Change::Keep);
                let key = format!("timer-{key}");
                commit.schedules.push(ScheduleOp::Cancel { key });
                Given::Write(Write::Commit(commit))
            }
            Step::ScheduleDone { nth } => {
                out.extend(
                    latest(&schedules, *nth)
                        .map(|id| Given::Write(Write::Finish(vec![Finished::Schedule(id)]))),
                );
                continue;
            }
            Step::Outbox { delivers } => {
                entries.push(next_id);
                let mut commit = Commit::state(None, None, Change::Keep);
                commit.outbox = Some(OutboxEntry {
                    id: next_id,
                    effects: vec![Envelope::new(Happened { n: at as u32 })],
                });
                commit.delivery = delivers.and_then(|(nth, position, handler)| {
                    entries.get(nth).map(|entry| Delivery {
                        entry: *entry,
                        position,
                        handler,
                    })
                });
                Given::Write(Write::Commit(commit))
            }
            Step::EntryDone { nth } => {
                out.extend(
                    latest(&entries, *nth)
                        .map(|id| Given::Write(Write::Finish(vec![Finished::Entry(id)]))),
                );
                continue;
            }
            Step::Session => Given::Write(session(at as u128)),
            Step::Fold { steps } => Given::Fold(*steps),
            Step::EndGroup => Given::EndGroup,
        };
        out.push(given);
    }
    out
}

/// Every row of the tables a write changes, in a comparable order.
fn rows(connection: &Connection) -> Vec<String> {
    let mut all = Vec::new();
    for query in [
        "SELECT state_type, id, version, body, schema_version FROM states ORDER BY 1, 2",
        "SELECT id, schedule_key, due_at_ms, updates_every_ms, event_type, payload, \
         schema_version FROM schedules ORDER BY id",
        "SELECT id, effects, node FROM outbox ORDER BY seq",
        "SELECT entry, position, handler FROM deliveries ORDER BY 1, 2, 3",
        "SELECT token, user_id FROM sessions ORDER BY 1",
    ] {
        let mut statement = connection.prepare(query).expect("a query");
        let columns = statement.column_count();
        let found = statement
            .query_map([], |row| {
                (0..columns)
                    .map(|at| row.get::<_, rusqlite::types::Value>(at))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|values| format!("{query:.20}: {values:?}"))
            })
            .expect("rows")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        all.extend(found);
    }
    all
}

fn outcome(result: &Result<(), StoreError>) -> String {
    match result {
        Ok(()) => "ok".into(),
        Err(StoreError::Conflict {
            key,
            expected,
            found,
        }) => format!("conflict {key} {expected:?} {found:?}"),
        Err(error) => format!("failed: {error}"),
    }
}

/// Each write on its own transaction, in place.
fn in_place_each(connection: &mut Connection, writes: &[Given]) -> Vec<String> {
    let mut results = Vec::new();
    let writes = writes.iter().filter_map(|given| match given {
        Given::Write(write) => Some(write),
        _ => None,
    });
    for write in writes {
        let tx = connection
            .transaction()
            .map_err(sqlite)
            .expect("a transaction");
        let result = in_place(&tx, write);
        if result.is_ok() {
            tx.commit().expect("commits");
        }
        results.push(outcome(&result));
    }
    results
}

/// A writer on the database in `folder`, its journal recovered as at a
/// start, and its fold on a connection of its own.
fn writer_on(folder: &Path, mut connection: Connection) -> (Writer, Folder) {
    let journal = recover(&mut connection, folder).expect("the journal folds");
    // Seeded as a store opening seeds it, so that reads and the writer's
    // checks skip the table for the keys never written.
    let in_table: Vec<String> = connection
        .prepare("SELECT id FROM states WHERE state_type = ?1")
        .and_then(|mut ids| ids.query_map([ON_DISK], |row| row.get(0))?.collect())
        .expect("reads the keys");
    let unwritten = Arc::new(journal::Unwritten::over(
        in_table.iter().map(|id| (ON_DISK, id.as_str())),
    ));
    let on_disk_only: foldhash::HashSet<&'static str> = [ON_DISK].into_iter().collect();
    let folding = Connection::open(folder.join(super::DATABASE_FILE)).expect("opens");
    let fold = Folder::new(folding, folder, on_disk_only.clone(), unwritten.clone());
    let writer = Writer {
        connection,
        states: Arc::new(MemoryStore::new()),
        on_disk_only,
        unwritten,
        journal,
        unfolded: journal::Unfolded::fresh(),
        unflushed: Arc::default(),
    };
    (writer, fold)
}

/// Through the writer's groups and journal, folds run a few steps at a
/// time between groups; `crash`: what is not folded at the end (a fold
/// cut short included) stays in the journal's files, and a new start
/// folds it. Also what reads of the states kept on disk only saw before
/// the last fold.
fn journaled(
    folder: &Path,
    connection: Connection,
    writes: &[Given],
    crash: bool,
) -> (Vec<String>, Vec<String>, Connection) {
    let (mut writer, mut fold) = writer_on(folder, connection);
    let (mut results, mut group) = (Vec::new(), Vec::new());
    let mut commit = |writer: &mut Writer, group: &mut Vec<&Write>| {
        if !group.is_empty() {
            let answers = writer.commit_group(group).expect("the group commits");
            results.extend(answers.iter().map(outcome));
            group.clear();
        }
    };
    for given in writes {
        match given {
            Given::Write(write) => group.push(write),
            Given::Fold(steps) => {
                commit(&mut writer, &mut group);
                fold.start(|| writer.take_for_fold())
                    .expect("starts a fold");
                fold.fold_some(*steps).expect("folds");
            }
            Given::EndGroup => commit(&mut writer, &mut group),
        }
    }
    commit(&mut writer, &mut group);
    let reads = on_disk_reads(&writer);
    if !crash {
        fold.fold_all(|| writer.take_for_fold()).expect("folds");
        return (results, reads, writer.connection);
    }
    // Every result was told, so it passed the barrier.
    writer.flush().expect("writes");
    writer.journal.lose_unwritten();
    drop((writer, fold));
    let mut connection = Connection::open(folder.join(super::DATABASE_FILE)).expect("reopens");
    recover(&mut connection, folder).expect("folds what the journal holds");
    (results, reads, connection)
}

/// The states kept on disk only as a read sees them: what the writer has
/// not folded yet, else the table.
fn on_disk_reads(writer: &Writer) -> Vec<String> {
    on_disk(|key| match writer.unwritten.get(key) {
        Some(unwritten) => unwritten,
        None => super::read_state(&writer.connection, key).expect("reads"),
    })
}

/// The same from the table, once everything is in it.
fn on_disk_rows(connection: &Connection) -> Vec<String> {
    on_disk(|key| super::read_state(connection, key).expect("reads"))
}

/// Each state kept on disk only the steps may write, as `read` finds it.
fn on_disk(read: impl Fn(&StateKey) -> Option<bus::Stored>) -> Vec<String> {
    (0..3u8)
        .filter_map(|id| {
            let key = StateKey {
                state_type: ON_DISK,
                id: format!("state-{id}"),
            };
            read(&key).map(|stored| format!("{key} {} {:?}", stored.version, stored.body))
        })
        .collect()
}

/// Session `n`, written by the writer.
fn session(n: u128) -> Write {
    Write::Session {
        token: format!("token-{n}"),
        user: domain::UserId::from_u128(n),
    }
}

/// The sessions' tokens in the table, in order.
fn session_tokens(connection: &Connection) -> Vec<String> {
    connection
        .prepare("SELECT token FROM sessions ORDER BY token")
        .expect("a query")
        .query_map([], |row| row.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// Ops the journal's files hold after the last fold.
fn left_in_journal(folder: &Path, connection: &Connection) -> usize {
    let folded = journal::folded_through(connection).expect("reads");
    let mut unfolded = journal::Unfolded::default();
    super::journal_file::read(folder, folded, &mut unfolded).expect("reads");
    let in_table: i64 = connection
        .query_row("SELECT count(*) FROM journal", [], |row| row.get(0))
        .expect("counts");
    unfolded.len() + in_table as usize
}

/// An older release's journal rows are folded in at the first start,
/// and the table emptied.
#[test]
fn rows_an_older_release_journaled_are_folded_in() {
    let folder = tempfile::tempdir().expect("a folder");
    let mut connection = fresh_database(folder.path());
    let ops = r#"[{"op":"session","token":"t1","user":"00000000-0000-0000-0000-000000000001"}]"#;
    connection
        .execute("INSERT INTO journal (changes) VALUES ($1)", [ops])
        .expect("inserts");
    let journal = recover(&mut connection, folder.path()).expect("folds");
    drop(journal);
    let sessions: i64 = connection
        .query_row("SELECT count(*) FROM sessions", [], |row| row.get(0))
        .expect("counts");
    assert_eq!(sessions, 1);
    assert_eq!(left_in_journal(folder.path(), &connection), 0);
}

/// A process killed inside a line's `write` leaves it cut short at the
/// end of the journal's last file: the next start folds every whole line
/// before it and drops the rest, and the journal goes on in a new file.
#[test]
fn a_line_cut_short_by_a_kill_is_dropped_and_the_lines_before_it_kept() {
    let folder = tempfile::tempdir().expect("a folder");
    let (mut writer, fold) = writer_on(folder.path(), fresh_database(folder.path()));
    for n in 1..=2 {
        writer.commit_group(&[&session(n)]).expect("journaled");
    }
    drop((writer, fold));
    let file = folder.path().join("journal-0000000001.log");
    let mut text = std::fs::read(&file).expect("the journal file");
    text.extend_from_slice(br#"[{"op":"session","token":"token-3","us"#);
    std::fs::write(&file, text).expect("cut short");

    let mut connection = Connection::open(folder.path().join(super::DATABASE_FILE)).expect("opens");
    let next = recover(&mut connection, folder.path()).expect("starts despite the torn line");
    assert_eq!(session_tokens(&connection), ["token-1", "token-2"]);
    assert!(!file.exists(), "the folded file is deleted");
    assert!(
        next.dir().join("journal-0000000002.log").exists(),
        "the next file"
    );
    assert_eq!(left_in_journal(folder.path(), &connection), 0);
}

/// A commit is on disk once the barrier is passed: a process that dies
/// before loses it (nobody was told of it: what tells waits for the
/// barrier), one that dies after keeps it.
#[test]
fn commits_are_written_at_the_barrier_and_lost_only_before_it() {
    let folder = tempfile::tempdir().expect("a folder");
    let (mut writer, fold) = writer_on(folder.path(), fresh_database(folder.path()));
    let flag = |writer: &Writer| writer.unflushed.load(std::sync::atomic::Ordering::Acquire);
    assert!(!flag(&writer));
    for n in 1..=2 {
        writer.commit_group(&[&session(n)]).expect("taken in");
    }
    let file = folder.path().join("journal-0000000001.log");
    assert!(flag(&writer), "the barrier has lines to write");
    assert_eq!(std::fs::read(&file).expect("reads").len(), 0);
    writer.flush().expect("writes");
    assert!(!flag(&writer), "and none after");
    writer.commit_group(&[&session(3)]).expect("taken in");
    writer.journal.lose_unwritten();
    drop((writer, fold));

    let mut connection = Connection::open(folder.path().join(super::DATABASE_FILE)).expect("opens");
    recover(&mut connection, folder.path()).expect("starts");
    assert_eq!(session_tokens(&connection), ["token-1", "token-2"]);
}

/// A write that finds the fold behind starts it if need be and runs a
/// few of its statements; enough such writes finish it.
#[test]
fn a_write_helping_the_fold_starts_it_and_runs_a_few_statements() {
    let folder = tempfile::tempdir().expect("a folder");
    let (mut writer, fold) = writer_on(folder.path(), fresh_database(folder.path()));
    for n in 1..=300 {
        writer.commit_group(&[&session(n)]).expect("journaled");
    }
    let (writer, fold) = (std::sync::Mutex::new(writer), std::sync::Mutex::new(fold));
    let sessions = |writer: &std::sync::Mutex<Writer>| -> i64 {
        let writer = writer.lock().expect("the writer");
        writer
            .connection
            .query_row("SELECT count(*) FROM sessions", [], |row| row.get(0))
            .expect("counts")
    };
    help(&writer, &fold);
    assert!(
        fold.lock().expect("the fold").is_folding(),
        "started, not over"
    );
    assert_eq!(writer.lock().expect("the writer").unfolded.len(), 0);
    assert_eq!(sessions(&writer), 256, "a step of the help's size");
    help(&writer, &fold);
    assert!(!fold.lock().expect("the fold").is_folding(), "over");
    assert_eq!(sessions(&writer), 300);
}

/// The net result folds no statement for an entry or a schedule added and
/// done since the live journal's last fold (no fold can have written it);
/// it deletes those added before, and whatever a start-up reads back from
/// the journal's files (a fold a crash cut short may have written them).
#[test]
fn an_entry_or_schedule_added_and_done_since_the_last_fold_costs_it_nothing() {
    let ops = |text: &str| serde_json::from_str::<Vec<journal::Op>>(text).expect("ops");
    let added = ops(&format!(
        r#"[{{"op":"outbox","id":"{one:032x}","effects":"[]"}},
            {{"op":"delivery","entry":"{one:032x}","position":0,"handler":0}},
            {{"op":"schedule","id":"{two:032x}","key":"k","dueAtMs":5,"updatesEveryMs":null,
              "eventType":"Happened","payload":"{{}}","schemaVersion":1}}]"#,
        one = 1,
        two = 2
    ));
    let done = |entry: u128, schedule: u128| {
        ops(&format!(
            r#"[{{"op":"entryDone","id":"{entry:032x}"}},{{"op":"scheduleDone","id":"{schedule:032x}"}}]"#
        ))
    };
    let statements = |mut unfolded: journal::Unfolded, groups: [Vec<journal::Op>; 2]| {
        for ops in groups {
            unfolded.take(ops);
        }
        unfolded.into_folding(1).len()
    };
    let fresh = journal::Unfolded::fresh;
    assert_eq!(statements(fresh(), [added.clone(), done(1, 2)]), 0);
    assert_eq!(
        statements(fresh(), [added.clone(), done(3, 4)]),
        2 + 1 + 2,
        "the entry, its delivery and the schedule added; the two done before"
    );
    assert_eq!(
        statements(journal::Unfolded::default(), [added, done(1, 2)]),
        2,
        "read back at a start: deleted, in case"
    );
}

/// Ids are numbers in memory and the tables' hex text in a line, so the
/// lines (and an older release's rows) read as they did.
#[test]
fn ids_in_a_line_are_the_tables_hex_text() {
    let op = journal::Op::Delivery {
        entry: 0xff,
        position: 1,
        handler: 2,
    };
    let text = serde_json::to_string(&op).expect("writes");
    assert_eq!(
        text,
        r#"{"op":"delivery","entry":"000000000000000000000000000000ff","position":1,"handler":2}"#
    );
    let back: journal::Op = serde_json::from_str(&text).expect("reads");
    assert!(matches!(back, journal::Op::Delivery { entry: 0xff, .. }));
    let not_hex = r#"{"op":"entryDone","id":"not hex"}"#;
    assert!(serde_json::from_str::<journal::Op>(not_hex).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_journal_leaves_the_rows_writing_in_place_does(
        steps in prop::collection::vec(step(), 0..60),
        crash in any::<bool>(),
    ) {
        let writes = writes(&steps);
        let (in_place_folder, journal_folder) = (tempfile::tempdir()?, tempfile::tempdir()?);
        let mut expected_db = fresh_database(in_place_folder.path());
        let expected_results = in_place_each(&mut expected_db, &writes);
        let (results, reads, journaled_db) = journaled(
            journal_folder.path(),
            fresh_database(journal_folder.path()),
            &writes,
            crash,
        );
        prop_assert_eq!(results, expected_results);
        prop_assert_eq!(rows(&journaled_db), rows(&expected_db));
        prop_assert_eq!(reads, on_disk_rows(&expected_db), "reads see every write");
        prop_assert_eq!(
            left_in_journal(journal_folder.path(), &journaled_db),
            0,
            "folded: the journal is empty"
        );
    }
}
