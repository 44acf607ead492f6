//! The embedded store's journal: what a group of writes changes, appended
//! as one row, and folded into the tables now and then.
//!
//! Written in place, a move changed about seven pages of the file (its
//! game's row, the turn timer's rows and their index, the outbox and its
//! deliveries at a game's end), each a 4 KiB frame in the WAL, and most
//! changes are undone soon after (a timer cancelled by the next move, an
//! outbox entry finished once its handlers ran). So the writer appends
//! each group's changes to the `journal` table as one row (a few pages
//! for a whole group), keeps them in memory too ([`Unfolded`]), and every
//! second (or sooner when many have gathered) writes what they come to
//! into the tables ([`Folding`]): each state once, at its last version; a
//! timer set and cancelled inside the second not at all. The fold runs a
//! few thousand statements at a time between the writer's groups, each
//! step a transaction, and deletes its journal rows with the last.
//!
//! A crash loses nothing: the journal is committed before any caller
//! hears back, and at start-up what it holds is folded in before the
//! tables are read. Every statement of a fold is idempotent (an upsert, a
//! delete, an insert that leaves a row already there), and a fold
//! deletes every timer and outbox entry finished in its second, even one
//! added in it, so a fold cut short by a crash and done again over its
//! own first steps ends where it would have. The tables alone are the
//! truth only after a fold; the store folds before it reads schedules or
//! the outbox.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bus::{Change, Commit, Delivery, Finished, MemoryStore, ScheduleOp, SetAside, StoreError};
use rusqlite::{Connection, Transaction};
use serde::{Deserialize, Serialize};

use super::sqlite;
use crate::storage::rows::{effects_text, id_text};
use crate::storage::sql;

/// Appends one group's changes.
const INSERT_JOURNAL: &str = "INSERT INTO journal (changes) VALUES ($1)";
const SELECT_JOURNAL: &str = "SELECT seq, changes FROM journal ORDER BY seq";
const DELETE_JOURNAL: &str = "DELETE FROM journal WHERE seq <= $1";
/// A state at its last version, whatever the table had.
const UPSERT_STATE: &str = "INSERT INTO states (state_type, id, body, schema_version, version) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (state_type, id) DO UPDATE \
     SET body = excluded.body, schema_version = excluded.schema_version, \
     version = excluded.version";
const DELETE_STATE: &str = "DELETE FROM states WHERE state_type = $1 AND id = $2";
/// A schedule, whether or not a fold cut short wrote it already.
const REPLACE_SCHEDULE: &str = "INSERT OR REPLACE INTO schedules \
     (id, schedule_key, due_at_ms, updates_every_ms, event_type, payload, schema_version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
/// An outbox entry, likewise (one written already keeps its place).
const INSERT_ENTRY: &str =
    "INSERT INTO outbox (id, effects, node) VALUES ($1, $2, 0) ON CONFLICT (id) DO NOTHING";

/// One change to the tables, as the journal keeps it. Ids are the tables'
/// hex text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub(crate) enum Op {
    /// A state's new body, at this version.
    #[serde(rename_all = "camelCase")]
    Set {
        state_type: Arc<str>,
        id: Arc<str>,
        #[serde(flatten)]
        row: StateRow,
    },
    /// A state removed.
    #[serde(rename_all = "camelCase")]
    Delete { state_type: Arc<str>, id: Arc<str> },
    /// Every pending schedule under this key dropped.
    Cancel { key: String },
    /// A schedule added.
    Schedule {
        id: String,
        #[serde(flatten)]
        row: ScheduleRow,
    },
    /// A schedule that fired and was handled.
    ScheduleDone { id: String },
    /// An outbox entry (its effects as `rows::effects_text` writes them).
    Outbox { id: String, effects: String },
    /// One effect of an entry handled by one handler.
    Delivery {
        entry: String,
        position: u32,
        handler: u32,
    },
    /// An entry every handler has run.
    EntryDone { id: String },
}

/// The changes of a commit after its state's (checked by the caller).
pub(crate) fn commit_ops(commit: &Commit, ops: &mut Vec<Op>) {
    for op in &commit.schedules {
        ops.push(match op {
            ScheduleOp::Cancel { key } => Op::Cancel { key: key.clone() },
            ScheduleOp::Add(scheduled) => {
                let event = scheduled.event.to_text();
                Op::Schedule {
                    id: id_text(scheduled.id),
                    row: ScheduleRow {
                        key: scheduled.key.clone(),
                        due_at_ms: scheduled.due_at_ms,
                        updates_every_ms: scheduled.updates_every_ms,
                        event_type: event.effect_type,
                        payload: event.payload,
                        schema_version: event.schema_version,
                    },
                }
            }
        });
    }
    if let Some(Delivery {
        entry,
        position,
        handler,
    }) = commit.delivery
    {
        ops.push(Op::Delivery {
            entry: id_text(entry),
            position,
            handler,
        });
    }
    if let Some(entry) = &commit.outbox {
        ops.push(Op::Outbox {
            id: id_text(entry.id),
            effects: effects_text(entry),
        });
    }
}

pub(crate) fn finished_ops(finished: &[Finished], ops: &mut Vec<Op>) {
    for done in finished {
        ops.push(match done {
            Finished::Entry(id) => Op::EntryDone { id: id_text(*id) },
            Finished::Schedule(id) => Op::ScheduleDone { id: id_text(*id) },
        });
    }
}

/// The state change of a commit to a state kept in memory, checked
/// against its version as the writer knows it (`found`): the op, or the
/// conflict. `None`: nothing to write (a kept state).
fn state_op(commit: &Commit, found: Option<u64>) -> Result<Option<Op>, StoreError> {
    let Some(key) = &commit.key else {
        return Ok(None);
    };
    if found != commit.expected_version {
        return Err(StoreError::Conflict {
            key: key.clone(),
            expected: commit.expected_version,
            found,
        });
    }
    let (state_type, id): (Arc<str>, Arc<str>) = (key.state_type.into(), key.id.as_str().into());
    Ok(match &commit.change {
        Change::Keep => None,
        Change::Delete if found.is_none() => None,
        Change::Delete => Some(Op::Delete { state_type, id }),
        Change::Set(body) => Some(Op::Set {
            state_type,
            id,
            row: StateRow {
                version: found.map_or(1, |version| version + 1),
                body: body.to_json_text(),
                schema_version: body.schema_version(),
            },
        }),
    })
}

/// A stored state's row, as the journal keeps it and the next fold
/// writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StateRow {
    version: u64,
    body: Arc<str>,
    schema_version: u32,
}

/// A schedule's row, as the journal keeps it and the next fold writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduleRow {
    key: String,
    due_at_ms: u64,
    updates_every_ms: Option<u64>,
    event_type: String,
    payload: String,
    schema_version: u32,
}

/// What the journal holds that the tables do not yet: its ops, folded
/// into their net result as they come.
#[derive(Debug, Default)]
pub(crate) struct Unfolded {
    /// The journal's last row taken in.
    last_seq: Option<i64>,
    /// Ops taken in since the last fold.
    ops: usize,
    /// Each changed state's last row (`None`: removed), by type, then id.
    states: HashMap<Arc<str>, HashMap<Arc<str>, Option<StateRow>>>,
    /// Keys whose rows in the table are all dropped.
    cancelled_keys: HashSet<String>,
    /// Schedules in the table that fired and were handled.
    schedules_done: HashSet<String>,
    /// Schedules added (by id) and not dropped since.
    schedules: HashMap<String, ScheduleRow>,
    /// Added schedules' ids by key.
    schedules_by_key: HashMap<String, Vec<String>>,
    /// Entries in the table that are done.
    entries_done: HashSet<String>,
    /// Entries added and not done, in the order they were committed (the
    /// outbox is read in that order); a done one is `None`.
    entries: Vec<Option<(String, String)>>,
    /// Where each added entry is in `entries`.
    entry_at: HashMap<String, usize>,
    /// Deliveries of entries not done, by entry.
    deliveries: HashMap<String, HashSet<(u32, u32)>>,
}

impl Unfolded {
    /// How many ops were taken in since the last fold.
    pub(crate) fn len(&self) -> usize {
        self.ops
    }

    /// Takes in a committed journal row's ops.
    pub(crate) fn take(&mut self, seq: i64, ops: Vec<Op>) {
        self.last_seq = Some(seq);
        self.ops += ops.len();
        for op in ops {
            self.apply(op);
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Set {
                state_type,
                id,
                row,
            } => {
                self.states
                    .entry(state_type)
                    .or_default()
                    .insert(id, Some(row));
            }
            Op::Delete { state_type, id } => {
                self.states.entry(state_type).or_default().insert(id, None);
            }
            Op::Cancel { key } => {
                for id in self.schedules_by_key.remove(&key).unwrap_or_default() {
                    self.schedules.remove(&id);
                }
                self.cancelled_keys.insert(key);
            }
            Op::Schedule { id, row } => {
                self.schedules_by_key
                    .entry(row.key.clone())
                    .or_default()
                    .push(id.clone());
                self.schedules.insert(id, row);
            }
            Op::ScheduleDone { id } => {
                if let Some(row) = self.schedules.remove(&id)
                    && let Some(ids) = self.schedules_by_key.get_mut(&row.key)
                {
                    ids.retain(|added| *added != id);
                    if ids.is_empty() {
                        self.schedules_by_key.remove(&row.key);
                    }
                }
                // Deleted from the table even if added since the last
                // fold: a fold cut short may have written it.
                self.schedules_done.insert(id);
            }
            Op::Outbox { id, effects } => {
                self.entry_at.insert(id.clone(), self.entries.len());
                self.entries.push(Some((id, effects)));
            }
            Op::Delivery {
                entry,
                position,
                handler,
            } => {
                self.deliveries
                    .entry(entry)
                    .or_default()
                    .insert((position, handler));
            }
            Op::EntryDone { id } => {
                self.deliveries.remove(&id);
                if let Some(at) = self.entry_at.remove(&id) {
                    self.entries[at] = None;
                }
                // As for schedules: a fold cut short may have written it.
                self.entries_done.insert(id);
            }
        }
    }

    /// The statements that write the net result into the tables, in the
    /// order they must run (`None`: nothing to fold).
    pub(crate) fn into_folding(self) -> Option<Folding> {
        let last_seq = self.last_seq?;
        let mut steps = Vec::new();
        for (state_type, rows) in self.states {
            for (id, row) in rows {
                steps.push(match row {
                    Some(row) => Step::Upsert(state_type.clone(), id, row),
                    None => Step::DeleteState(state_type.clone(), id),
                });
            }
        }
        steps.extend(self.cancelled_keys.into_iter().map(Step::CancelKey));
        steps.extend(self.schedules_done.into_iter().map(Step::ScheduleDone));
        steps.extend(
            self.schedules
                .into_iter()
                .map(|(id, row)| Step::Schedule(id, row)),
        );
        steps.extend(self.entries_done.into_iter().map(Step::EntryDone));
        steps.extend(
            self.entries
                .into_iter()
                .flatten()
                .map(|(id, effects)| Step::Entry(id, effects)),
        );
        for (entry, handled) in self.deliveries {
            for (position, handler) in handled {
                steps.push(Step::Delivery(entry.clone(), position, handler));
            }
        }
        Some(Folding {
            steps,
            done: 0,
            last_seq,
        })
    }
}

/// One statement of a fold. Each is idempotent, and so is a whole fold
/// run again over a part of itself: a fold cut short by a crash is done
/// again from the journal at the next start.
#[derive(Debug)]
enum Step {
    Upsert(Arc<str>, Arc<str>, StateRow),
    DeleteState(Arc<str>, Arc<str>),
    CancelKey(String),
    ScheduleDone(String),
    Schedule(String, ScheduleRow),
    EntryDone(String),
    Entry(String, String),
    Delivery(String, u32, u32),
}

/// A fold under way: its statements, run a few at a time between the
/// writer's groups, each few in a transaction of its own; after the last,
/// the journal's rows it came from are deleted.
#[derive(Debug)]
pub(crate) struct Folding {
    steps: Vec<Step>,
    /// How many ran (and committed).
    done: usize,
    last_seq: i64,
}

impl Folding {
    /// Runs up to `budget` more statements on the open transaction (then,
    /// if none is left, empties the journal up to the fold's last row):
    /// the number done once it commits. The caller records that number
    /// with [`ran`](Self::ran) once the transaction commits.
    pub(crate) fn run(&self, tx: &Transaction<'_>, budget: usize) -> Result<usize, StoreError> {
        let end = self.steps.len().min(self.done.saturating_add(budget));
        for step in &self.steps[self.done..end] {
            run_step(tx, step)?;
        }
        if end == self.steps.len() {
            tx.execute(DELETE_JOURNAL, [self.last_seq])
                .map_err(sqlite)?;
        }
        Ok(end)
    }

    /// Records what a committed [`run`](Self::run) did; whether the fold
    /// is over.
    pub(crate) fn ran(&mut self, done: usize) -> bool {
        self.done = done;
        self.done == self.steps.len()
    }
}

fn run_step(tx: &Transaction<'_>, step: &Step) -> Result<(), StoreError> {
    let statement = |sql| tx.prepare_cached(sql).map_err(sqlite);
    match step {
        Step::Upsert(state_type, id, row) => statement(UPSERT_STATE)?.execute(rusqlite::params![
            state_type,
            id,
            row.body,
            row.schema_version,
            row.version as i64
        ]),
        Step::DeleteState(state_type, id) => {
            statement(DELETE_STATE)?.execute(rusqlite::params![state_type, id])
        }
        Step::CancelKey(key) => statement(sql::CANCEL_SCHEDULES)?.execute([key]),
        Step::ScheduleDone(id) => statement(sql::DELETE_SCHEDULE)?.execute([id]),
        Step::Schedule(id, row) => statement(REPLACE_SCHEDULE)?.execute(rusqlite::params![
            id,
            row.key,
            row.due_at_ms as i64,
            row.updates_every_ms.map(|period| period as i64),
            row.event_type,
            row.payload,
            row.schema_version
        ]),
        Step::EntryDone(id) => {
            statement(sql::DELETE_DELIVERIES)?
                .execute([id])
                .map_err(sqlite)?;
            statement(sql::DELETE_OUTBOX)?.execute([id])
        }
        Step::Entry(id, effects) => {
            statement(INSERT_ENTRY)?.execute(rusqlite::params![id, effects])
        }
        Step::Delivery(entry, position, handler) => {
            statement(sql::INSERT_DELIVERY)?.execute(rusqlite::params![entry, position, handler])
        }
    }
    .map(drop)
    .map_err(sqlite)
}

/// The ops of one group of writes, staged until its transaction commits
/// (a group that fails leaves [`Unfolded`] and the memory as they were),
/// and its changes to the states kept in memory, to make once it has.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    pub(crate) ops: Vec<Op>,
    /// The state changes to make in memory, in order.
    pub(crate) in_memory: Vec<Commit>,
    /// Versions of the states the group changed, by type, then id.
    versions: HashMap<&'static str, HashMap<String, Option<u64>>>,
}

impl Staged {
    /// Checks a commit to a state kept in memory against its version (the
    /// group's, else the memory's: the writer keeps it current) and stages
    /// its ops; a conflict stages nothing.
    pub(crate) fn commit(
        &mut self,
        memory: &MemoryStore,
        commit: &Commit,
    ) -> Result<(), StoreError> {
        if let Some(key) = &commit.key {
            let found = match self
                .versions
                .get(key.state_type)
                .and_then(|versions| versions.get(&key.id))
            {
                Some(version) => *version,
                None => memory.version(key),
            };
            if let Some(op) = state_op(commit, found)? {
                let version = match &op {
                    Op::Set { row, .. } => Some(row.version),
                    _ => None,
                };
                self.versions
                    .entry(key.state_type)
                    .or_default()
                    .insert(key.id.clone(), version);
                self.ops.push(op);
                self.in_memory.push(Commit::state(
                    commit.key.clone(),
                    commit.expected_version,
                    commit.change.clone(),
                ));
            }
        }
        commit_ops(commit, &mut self.ops);
        Ok(())
    }
}

/// Appends a group's ops to the journal, on an open transaction; its row.
pub(crate) fn append(tx: &Transaction<'_>, ops: &[Op]) -> Result<i64, StoreError> {
    let text = serde_json::to_string(ops)
        .map_err(|error| StoreError::backend("cannot write a journal row", error))?;
    tx.prepare_cached(INSERT_JOURNAL)
        .map_err(sqlite)?
        .execute([text])
        .map_err(sqlite)?;
    Ok(tx.last_insert_rowid())
}

/// Everything the journal holds, as left by the last run.
pub(crate) fn read(connection: &Connection) -> Result<Unfolded, StoreError> {
    let mut unfolded = Unfolded::default();
    let mut statement = connection.prepare(SELECT_JOURNAL).map_err(sqlite)?;
    let mut rows = statement.query([]).map_err(sqlite)?;
    while let Some(row) = rows.next().map_err(sqlite)? {
        let seq: i64 = row.get(0).map_err(sqlite)?;
        let text: String = row.get(1).map_err(sqlite)?;
        let ops: Vec<Op> = serde_json::from_str(&text).map_err(|error| {
            StoreError::backend(format!("journal row {seq} does not read"), error)
        })?;
        unfolded.take(seq, ops);
    }
    Ok(unfolded)
}

/// A set-aside schedule leaves the pending ones like a handled one.
pub(crate) fn set_aside_ops(unreadable: &[SetAside], ops: &mut Vec<Op>) {
    for item in unreadable {
        if let bus::SetAsideSource::Schedule(id) = item.source {
            ops.push(Op::ScheduleDone { id: id_text(id) });
        }
    }
}
