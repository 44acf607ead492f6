//! The embedded store's journal: what a group of writes changes, appended
//! as one line to a file ([`journal_file`](super::journal_file)), and
//! folded into the tables now and then.
//!
//! Written in place, a move changed about seven pages of the file (its
//! game's row, the turn timer's rows and their index, the outbox and its
//! deliveries at a game's end), each a 4 KiB frame in the WAL, and most
//! changes are undone soon after (a timer cancelled by the next move, an
//! outbox entry finished once its handlers ran). So the writer appends
//! each group's changes to the journal as one line, keeps them in memory
//! too ([`Unfolded`]; the states kept on disk only in [`Unwritten`] as
//! well, where reads find them), and every
//! second (or sooner when many have gathered) writes what they come to
//! into the tables ([`Folding`]): each state once, at its last version; a
//! timer set and cancelled inside the second not at all. The fold runs a
//! few thousand statements at a time between the writer's groups, each
//! step a transaction, and records with the last that the journal's file
//! it came from is folded.
//!
//! A crash loses nothing acknowledged: a commit's line is written before
//! anything that tells of it leaves the process (the store's barrier),
//! and at start-up what the journal holds is folded in before the tables
//! are read. Every statement of a fold is idempotent (an upsert, a
//! delete, an insert that leaves a row already there), and a fold
//! deletes every timer and outbox entry finished in its second, even one
//! added in it, so a fold cut short by a crash and done again over its
//! own first steps ends where it would have. The tables alone are the
//! truth only after a fold; the store folds before it reads schedules or
//! the outbox.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bus::{
    Change, Commit, Delivery, Finished, ScheduleOp, SetAside, StateBody, StateKey, StoreError,
    Stored,
};
use foldhash::{HashMap, HashSet};
use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::on_disk_keys::OnDiskKeys;
use super::sqlite;
use crate::storage::rows::{effects_text, id_text};
use crate::storage::sql;

/// Rows an older release journaled in its `journal` table (read at
/// start-up, emptied by the first fold).
const SELECT_JOURNAL: &str = "SELECT seq, changes FROM journal ORDER BY seq";
const DELETE_JOURNAL: &str = "DELETE FROM journal";
/// The last journal file folded into the tables.
const SELECT_FOLDED: &str = "SELECT through FROM journal_folded WHERE id = 1";
const UPDATE_FOLDED: &str = "UPDATE journal_folded SET through = $1 WHERE id = 1";
/// A session, whether or not a fold cut short wrote it already (the
/// sessions in memory give each user one token, so no other conflict).
const INSERT_SESSION: &str =
    "INSERT INTO sessions (token, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";
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

/// Schedule and outbox ids (128 bits) in a line as the tables' hex text
/// (`rows::id_text`), in memory as numbers: most are added and finished
/// within a second and never reach a table, so they are never made text
/// there, and the net result's maps hash and compare 16 bytes instead of
/// a 32-character string.
pub(super) mod hex_id {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(id: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{id:032x}"))
    }

    pub(in crate::storage::sqlite) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<u128, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        u128::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}

/// One change to the tables, as the journal keeps it (ids of schedules
/// and outbox entries as hex text, like the tables').
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
        #[serde(with = "hex_id")]
        id: u128,
        #[serde(flatten)]
        row: ScheduleRow,
    },
    /// A schedule that fired and was handled.
    ScheduleDone {
        #[serde(with = "hex_id")]
        id: u128,
    },
    /// An outbox entry (its effects as `rows::effects_text` writes them).
    Outbox {
        #[serde(with = "hex_id")]
        id: u128,
        effects: String,
    },
    /// One effect of an entry handled by one handler.
    Delivery {
        #[serde(with = "hex_id")]
        entry: u128,
        position: u32,
        handler: u32,
    },
    /// An entry every handler has run.
    EntryDone {
        #[serde(with = "hex_id")]
        id: u128,
    },
    /// A session made.
    Session { token: String, user: String },
}

/// The changes of a commit after its state's (checked by the caller).
pub(crate) fn commit_ops(commit: &Commit, ops: &mut Vec<Op>) {
    for op in &commit.schedules {
        ops.push(match op {
            ScheduleOp::Cancel { key } => Op::Cancel { key: key.clone() },
            ScheduleOp::Add(scheduled) => {
                let event = scheduled.event.to_text();
                Op::Schedule {
                    id: scheduled.id,
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
            entry,
            position,
            handler,
        });
    }
    if let Some(entry) = &commit.outbox {
        ops.push(Op::Outbox {
            id: entry.id,
            effects: effects_text(entry),
        });
    }
}

pub(crate) fn finished_ops(finished: &[Finished], ops: &mut Vec<Op>) {
    for done in finished {
        ops.push(match done {
            Finished::Entry(id) => Op::EntryDone { id: *id },
            Finished::Schedule(id) => Op::ScheduleDone { id: *id },
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
                raw: matches!(body, StateBody::Live(_)),
            },
        }),
    })
}

/// A stored state's row, as the journal keeps it and the next fold
/// writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StateRow {
    pub(super) version: u64,
    /// The state as JSON text.
    pub(super) body: Arc<str>,
    pub(super) schema_version: u32,
    /// Its body is JSON this process wrote from a typed state, so a line
    /// carries it as it is rather than as a string
    /// ([`journal_line`](super::journal_line)).
    #[serde(skip)]
    pub(super) raw: bool,
}

impl StateRow {
    fn stored(&self) -> Stored {
        Stored {
            version: self.version,
            body: StateBody::json(self.body.to_string(), self.schema_version),
        }
    }

    /// The same row (not only the same version: a state removed and set
    /// again starts its versions over).
    fn is(&self, other: &StateRow) -> bool {
        Arc::ptr_eq(&self.body, &other.body) && self.version == other.version
    }
}

/// The states kept on disk only whose last change is journaled and not
/// yet folded into the `states` table (`None`: removed), by type, then id:
/// reads of those types look here before the table. The writer adds each
/// as its group is journaled, and forgets it once a fold's step has
/// written that very row. Beside them, which keys the table may hold
/// ([`OnDiskKeys`]): a state neither here nor there is known absent
/// without a read.
#[derive(Debug)]
pub(crate) struct Unwritten(Mutex<UnwrittenRows>);

#[derive(Debug)]
struct UnwrittenRows {
    rows: HashMap<&'static str, HashMap<String, Option<StateRow>>>,
    in_table: OnDiskKeys,
}

impl UnwrittenRows {
    /// The row as last journaled, `Some(None)` also for a state known to
    /// be absent from the table; `None`: the table says.
    fn row(&self, key: &StateKey) -> Option<Option<&StateRow>> {
        match self
            .rows
            .get(key.state_type)
            .and_then(|rows| rows.get(&key.id))
        {
            Some(row) => Some(row.as_ref()),
            None if !self.in_table.may_hold(key) => Some(None),
            None => None,
        }
    }
}

impl Unwritten {
    /// Nothing unwritten, and the keys the table holds (by type and id).
    pub(crate) fn over<'a>(in_table: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(Mutex::new(UnwrittenRows {
            rows: HashMap::default(),
            in_table: OnDiskKeys::seeded(in_table),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, UnwrittenRows> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state as last journaled, if the table does not show it yet
    /// (`Some(None)`: removed, or known not to be there).
    pub(crate) fn get(&self, key: &StateKey) -> Option<Option<Stored>> {
        let states = self.lock();
        Some(states.row(key)?.map(StateRow::stored))
    }

    /// Its version, likewise.
    pub(crate) fn version(&self, key: &StateKey) -> Option<Option<u64>> {
        let states = self.lock();
        Some(states.row(key)?.map(|row| row.version))
    }

    /// Every unwritten state of a type.
    pub(crate) fn of_type(&self, state_type: &str) -> Vec<(String, Option<Stored>)> {
        self.lock()
            .rows
            .get(state_type)
            .map_or_else(Vec::new, |rows| {
                rows.iter()
                    .map(|(id, row)| (id.clone(), row.as_ref().map(StateRow::stored)))
                    .collect()
            })
    }

    fn journaled(&self, changes: Vec<(&'static str, String, Option<StateRow>)>) {
        if changes.is_empty() {
            return;
        }
        let mut states = self.lock();
        for (state_type, id, row) in changes {
            if row.is_some() {
                // Before the fold can write it and this forget it.
                states.in_table.insert(state_type, &id);
            }
            states.rows.entry(state_type).or_default().insert(id, row);
        }
    }

    /// A fold wrote these rows (`None`: removed the state): each is
    /// forgotten unless changed since.
    pub(crate) fn folded<'a>(
        &self,
        written: impl Iterator<Item = (&'a str, &'a str, Option<&'a StateRow>)>,
    ) {
        let mut states = self.lock();
        for (state_type, id, row) in written {
            let Some(rows) = states.rows.get_mut(state_type) else {
                continue;
            };
            let same = match (rows.get(id), row) {
                (Some(None), None) => true,
                (Some(Some(now)), Some(written)) => now.is(written),
                _ => false,
            };
            if same {
                rows.remove(id);
            }
        }
    }
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
    /// Ops taken in since the last fold.
    ops: usize,
    /// Each changed state's last row (`None`: removed), by type, then id.
    states: HashMap<Arc<str>, HashMap<Arc<str>, Option<StateRow>>>,
    /// Keys whose rows in the table are all dropped.
    cancelled_keys: HashSet<String>,
    /// Schedules in the table that fired and were handled.
    schedules_done: HashSet<u128>,
    /// Schedules added (by id) and not dropped since.
    schedules: HashMap<u128, ScheduleRow>,
    /// Added schedules' ids by key.
    schedules_by_key: HashMap<String, Vec<u128>>,
    /// Entries in the table that are done.
    entries_done: HashSet<u128>,
    /// Entries added and not done, in the order they were committed (the
    /// outbox is read in that order); a done one is `None`.
    entries: Vec<Option<(u128, String)>>,
    /// Where each added entry is in `entries`.
    entry_at: HashMap<u128, usize>,
    /// Deliveries of entries not done, by entry.
    deliveries: HashMap<u128, HashSet<(u32, u32)>>,
    /// Sessions made (token, user).
    sessions: Vec<(String, String)>,
    /// Taken in live, from the first op on (see [`fresh`](Self::fresh)).
    fresh: bool,
}

impl Unfolded {
    /// The journal's ops from now on, as they are journaled: no fold has
    /// seen any of them, so an entry or a schedule added here and done
    /// here never reached a table, and its end needs no statement (at
    /// 1,000 games every entry is done in the window it came in: two
    /// deletes each, a quarter of the fold's statements). What a start-up
    /// reads back from the journal's files ([`Unfolded::default`]) is not
    /// fresh: a fold a crash cut short may have written part of it.
    pub(crate) fn fresh() -> Self {
        Self {
            fresh: true,
            ..Self::default()
        }
    }

    /// How many ops were taken in since the last fold.
    pub(crate) fn len(&self) -> usize {
        self.ops
    }

    /// Takes in a journaled group's ops.
    pub(crate) fn take(&mut self, ops: Vec<Op>) {
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
                    .push(id);
                self.schedules.insert(id, row);
            }
            Op::ScheduleDone { id } => {
                let added_here = self.schedules.remove(&id);
                if let Some(row) = &added_here
                    && let Some(ids) = self.schedules_by_key.get_mut(&row.key)
                {
                    ids.retain(|added| *added != id);
                    if ids.is_empty() {
                        self.schedules_by_key.remove(&row.key);
                    }
                }
                // Deleted from the table even if added here, unless fresh:
                // a fold cut short may have written it.
                if added_here.is_none() || !self.fresh {
                    self.schedules_done.insert(id);
                }
            }
            Op::Outbox { id, effects } => {
                self.entry_at.insert(id, self.entries.len());
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
                let added_here = self.entry_at.remove(&id);
                if let Some(at) = added_here {
                    self.entries[at] = None;
                }
                // As for schedules.
                if added_here.is_none() || !self.fresh {
                    self.entries_done.insert(id);
                }
            }
            Op::Session { token, user } => self.sessions.push((token, user)),
        }
    }

    /// The statements that write the net result into the tables, in the
    /// order they must run, and then record journal file `through` as
    /// folded.
    pub(crate) fn into_folding(self, through: u64) -> Folding {
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
                steps.push(Step::Delivery(entry, position, handler));
            }
        }
        steps.extend(
            self.sessions
                .into_iter()
                .map(|(token, user)| Step::Session(token, user)),
        );
        Folding {
            steps,
            done: 0,
            through,
        }
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
    ScheduleDone(u128),
    Schedule(u128, ScheduleRow),
    EntryDone(u128),
    Entry(u128, String),
    Delivery(u128, u32, u32),
    Session(String, String),
}

/// A fold under way: its statements, run a few at a time between the
/// writer's groups, each few in a transaction of its own; the last also
/// records the journal file it came from as folded (and empties the
/// `journal` table an older release may have left rows in).
#[derive(Debug)]
pub(crate) struct Folding {
    steps: Vec<Step>,
    /// How many ran (and committed).
    done: usize,
    /// The journal file it folds.
    pub(crate) through: u64,
}

impl Folding {
    /// How many statements it runs in all.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.steps.len()
    }

    /// Runs up to `budget` more statements on the open transaction (then,
    /// if none is left, records the fold as done): the number done once
    /// it commits. The caller records that number with [`ran`](Self::ran)
    /// once the transaction commits.
    pub(crate) fn run(&self, tx: &Transaction<'_>, budget: usize) -> Result<usize, StoreError> {
        let end = self.steps.len().min(self.done.saturating_add(budget));
        for step in &self.steps[self.done..end] {
            run_step(tx, step)?;
        }
        if end == self.steps.len() {
            tx.execute(UPDATE_FOLDED, [self.through as i64])
                .map_err(sqlite)?;
            tx.execute(DELETE_JOURNAL, []).map_err(sqlite)?;
        }
        Ok(end)
    }

    /// Records what a committed [`run`](Self::run) did: the states whose
    /// rows it wrote (`None`: removed), and whether the fold is over.
    pub(crate) fn ran(
        &mut self,
        done: usize,
    ) -> (impl Iterator<Item = (&str, &str, Option<&StateRow>)>, bool) {
        let ran = &self.steps[self.done..done];
        self.done = done;
        let states = ran.iter().filter_map(|step| match step {
            Step::Upsert(state_type, id, row) => Some((&**state_type, &**id, Some(row))),
            Step::DeleteState(state_type, id) => Some((&**state_type, &**id, None)),
            _ => None,
        });
        (states, done == self.steps.len())
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
        Step::ScheduleDone(id) => statement(sql::DELETE_SCHEDULE)?.execute([id_text(*id)]),
        Step::Schedule(id, row) => statement(REPLACE_SCHEDULE)?.execute(rusqlite::params![
            id_text(*id),
            row.key,
            row.due_at_ms as i64,
            row.updates_every_ms.map(|period| period as i64),
            row.event_type,
            row.payload,
            row.schema_version
        ]),
        Step::EntryDone(id) => {
            let id = id_text(*id);
            statement(sql::DELETE_DELIVERIES)?
                .execute([&id])
                .map_err(sqlite)?;
            statement(sql::DELETE_OUTBOX)?.execute([&id])
        }
        Step::Entry(id, effects) => {
            statement(INSERT_ENTRY)?.execute(rusqlite::params![id_text(*id), effects])
        }
        Step::Delivery(entry, position, handler) => statement(sql::INSERT_DELIVERY)?
            .execute(rusqlite::params![id_text(*entry), position, handler]),
        Step::Session(token, user) => {
            statement(INSERT_SESSION)?.execute(rusqlite::params![token, user])
        }
    }
    .map(drop)
    .map_err(sqlite)
}

/// The ops of one group of writes, staged until they are journaled (a
/// group that fails leaves [`Unfolded`], [`Unwritten`] and the memory as
/// they were), and its changes to the states kept in memory and to those
/// kept on disk only, to make once they are.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    pub(crate) ops: Vec<Op>,
    /// The state changes to make in memory, in order.
    pub(crate) in_memory: Vec<Commit>,
    /// The changed states kept on disk only, each at its last row.
    on_disk: Vec<(&'static str, String, Option<StateRow>)>,
    /// Versions of the states the group changed, by type, then id.
    versions: HashMap<&'static str, HashMap<String, Option<u64>>>,
}

impl Staged {
    /// Checks a commit against its state's version (the group's, else
    /// `stored`'s: the memory's, which the writer keeps current, or for a
    /// state kept `on_disk` only, [`Unwritten`]'s, else the table's) and
    /// stages its ops; a conflict stages nothing.
    pub(crate) fn commit(
        &mut self,
        on_disk: bool,
        stored: impl FnOnce(&StateKey) -> Result<Option<u64>, StoreError>,
        commit: &Commit,
    ) -> Result<(), StoreError> {
        if let Some(key) = &commit.key {
            let found = match self
                .versions
                .get(key.state_type)
                .and_then(|versions| versions.get(&key.id))
            {
                Some(version) => *version,
                None => stored(key)?,
            };
            if let Some(op) = state_op(commit, found)? {
                let row = match &op {
                    Op::Set { row, .. } => Some(row),
                    _ => None,
                };
                self.versions
                    .entry(key.state_type)
                    .or_default()
                    .insert(key.id.clone(), row.map(|row| row.version));
                // The row again only for a state kept on disk only: reads
                // find it in `Unwritten` until it is folded.
                let unwritten = on_disk.then(|| row.cloned());
                self.ops.push(op);
                match unwritten {
                    Some(row) => self.on_disk.push((key.state_type, key.id.clone(), row)),
                    None => self.in_memory.push(Commit::state(
                        commit.key.clone(),
                        commit.expected_version,
                        commit.change.clone(),
                    )),
                }
            }
        }
        commit_ops(commit, &mut self.ops);
        Ok(())
    }

    /// Once journaled: the ops into `unfolded`, the states kept on disk
    /// only into `unwritten`; what is left to make in memory.
    pub(crate) fn journaled(self, unfolded: &mut Unfolded, unwritten: &Unwritten) -> Vec<Commit> {
        unfolded.take(self.ops);
        unwritten.journaled(self.on_disk);
        self.in_memory
    }
}

/// A state's version in the `states` table, on the writer's connection.
pub(crate) fn table_version(
    connection: &Connection,
    key: &StateKey,
) -> Result<Option<u64>, StoreError> {
    connection
        .prepare_cached(sql::STATE_VERSION)
        .map_err(sqlite)?
        .query_row([key.state_type, key.id.as_str()], |row| {
            row.get::<_, i64>(0)
        })
        .optional()
        .map(|version| version.map(|version| version as u64))
        .map_err(sqlite)
}

/// What an older release left in its `journal` table.
pub(crate) fn read_table(connection: &Connection) -> Result<Unfolded, StoreError> {
    let mut unfolded = Unfolded::default();
    let mut statement = connection.prepare(SELECT_JOURNAL).map_err(sqlite)?;
    let mut rows = statement.query([]).map_err(sqlite)?;
    while let Some(row) = rows.next().map_err(sqlite)? {
        let seq: i64 = row.get(0).map_err(sqlite)?;
        let text: String = row.get(1).map_err(sqlite)?;
        let ops: Vec<Op> = serde_json::from_str(&text).map_err(|error| {
            StoreError::backend(format!("journal row {seq} does not read"), error)
        })?;
        unfolded.take(ops);
    }
    Ok(unfolded)
}

/// The last journal file folded into the tables.
pub(crate) fn folded_through(connection: &Connection) -> Result<u64, StoreError> {
    connection
        .query_row(SELECT_FOLDED, [], |row| row.get::<_, i64>(0))
        .map(|through| through as u64)
        .map_err(sqlite)
}

/// A set-aside schedule leaves the pending ones like a handled one.
pub(crate) fn set_aside_ops(unreadable: &[SetAside], ops: &mut Vec<Op>) {
    for item in unreadable {
        if let bus::SetAsideSource::Schedule(id) = item.source {
            ops.push(Op::ScheduleDone { id });
        }
    }
}
