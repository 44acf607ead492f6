//! The SQL both databases run, and the order a write runs it in, once.
//!
//! Each driver implements [`Executor`] (run a statement on its open
//! transaction, read one integer back) and keeps only its connection and
//! threading: SQLite on its writer's connection (effects set aside; the
//! rest goes through its journal), PostgreSQL on a pooled connection.
//! Placeholders are `$1`, `$2`... numbered in the order they
//! first appear in a statement: PostgreSQL reads them as positions, and
//! SQLite numbers named parameters in order of first appearance, so one
//! text serves both (checked by a test below).

use bus::{Change, Commit, Delivery, Finished, ScheduleOp, SetAside, SetAsideSource, StoreError};

use super::rows::{effects_text, id_text};

/// One value bound to a placeholder.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Text(&'a str),
    Int(i64),
    MaybeInt(Option<i64>),
}

/// What a driver runs the shared statements with: its open transaction.
pub(crate) trait Executor {
    /// Runs a statement; how many rows it changed.
    async fn execute(&mut self, sql: &'static str, params: &[Param<'_>])
    -> Result<u64, StoreError>;
    /// The integer in the first column of the first row, if there is a row.
    async fn fetch_int(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Option<i64>, StoreError>;
    /// The node whose outbox entries this writes (0: the only one).
    fn node(&self) -> i64 {
        0
    }
}

/// One write to a database: each is all or nothing.
#[derive(Debug)]
pub(crate) enum Write {
    /// A handler's result.
    Commit(Commit),
    /// Outbox entries and schedules the bus is done with.
    Finish(Vec<Finished>),
    /// A new session.
    Session { token: String, user: domain::UserId },
    /// Stored effects this release cannot read, at this time.
    SetAside {
        unreadable: Vec<SetAside>,
        at_ms: u64,
    },
}

pub(crate) const SELECT_STATE: &str =
    "SELECT version, body, schema_version FROM states WHERE state_type = $1 AND id = $2";
pub(crate) const SELECT_STATES_OF_TYPE: &str =
    "SELECT id, version, body, schema_version FROM states WHERE state_type = $1";
pub(crate) const SELECT_ALL_STATES: &str =
    "SELECT state_type, id, version, body, schema_version FROM states";
pub(crate) const SELECT_SCHEDULES: &str = "SELECT id, schedule_key, due_at_ms, updates_every_ms, \
     event_type, payload, schema_version FROM schedules";
pub(crate) const SELECT_DELIVERIES: &str = "SELECT entry, position, handler FROM deliveries";
pub(crate) const SELECT_OUTBOX: &str = "SELECT id, effects FROM outbox ORDER BY seq";
pub(crate) const SELECT_SESSIONS: &str = "SELECT token, user_id FROM sessions";
/// PostgreSQL: one session, made by any node.
pub(crate) const SELECT_SESSION_USER: &str = "SELECT user_id FROM sessions WHERE token = $1";

const INSERT_STATE: &str = "INSERT INTO states (state_type, id, body, schema_version, version) \
     VALUES ($1, $2, $3, $4, 1) ON CONFLICT (state_type, id) DO NOTHING";
const UPDATE_STATE: &str = "UPDATE states SET body = $1, schema_version = $2, version = $3 + 1 \
     WHERE state_type = $4 AND id = $5 AND version = $3";
const DELETE_STATE: &str = "DELETE FROM states WHERE state_type = $1 AND id = $2 AND version = $3";
/// Kept: only the version is checked (on PostgreSQL the row is also
/// locked until the commit).
const CHECK_STATE: &str = "UPDATE states SET version = version \
     WHERE state_type = $1 AND id = $2 AND version = $3";
pub(crate) const STATE_VERSION: &str =
    "SELECT version FROM states WHERE state_type = $1 AND id = $2";
pub(crate) const CANCEL_SCHEDULES: &str = "DELETE FROM schedules WHERE schedule_key = $1";
const INSERT_SCHEDULE: &str = "INSERT INTO schedules \
     (id, schedule_key, due_at_ms, updates_every_ms, event_type, payload, schema_version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const DELETE_SCHEDULE: &str = "DELETE FROM schedules WHERE id = $1";
pub(crate) const INSERT_DELIVERY: &str = "INSERT INTO deliveries (entry, position, handler) \
     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
const INSERT_OUTBOX: &str = "INSERT INTO outbox (id, effects, node) VALUES ($1, $2, $3)";
pub(crate) const DELETE_DELIVERIES: &str = "DELETE FROM deliveries WHERE entry = $1";
pub(crate) const DELETE_OUTBOX: &str = "DELETE FROM outbox WHERE id = $1";
const INSERT_SESSION: &str = "INSERT INTO sessions (token, user_id) VALUES ($1, $2)";
const INSERT_SET_ASIDE: &str = "INSERT INTO set_aside \
     (source, source_id, position, effect_type, schema_version, payload, reason, set_aside_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";

/// Applies one write on an open transaction. A commit whose version check
/// fails returns `Conflict` having written nothing: the state write comes
/// first and is the check.
pub(crate) async fn apply(db: &mut impl Executor, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::Commit(commit) => apply_commit(db, commit).await,
        Write::Finish(finished) => {
            for done in finished {
                match done {
                    Finished::Entry(id) => {
                        let id = id_text(*id);
                        db.execute(DELETE_DELIVERIES, &[Param::Text(&id)]).await?;
                        db.execute(DELETE_OUTBOX, &[Param::Text(&id)]).await?;
                    }
                    Finished::Schedule(id) => {
                        db.execute(DELETE_SCHEDULE, &[Param::Text(&id_text(*id))])
                            .await?;
                    }
                }
            }
            Ok(())
        }
        Write::Session { token, user } => {
            let user = user.to_string();
            db.execute(INSERT_SESSION, &[Param::Text(token), Param::Text(&user)])
                .await
                .map(drop)
        }
        Write::SetAside { unreadable, at_ms } => {
            for item in unreadable {
                set_aside(db, item, *at_ms).await?;
            }
            Ok(())
        }
    }
}

async fn apply_commit(db: &mut impl Executor, commit: &Commit) -> Result<(), StoreError> {
    if let Some(key) = &commit.key {
        let (state_type, id) = (key.state_type, key.id.as_str());
        let expected = commit.expected_version.map(|version| version as i64);
        let rows = match (&commit.change, expected) {
            (Change::Set(body), None) => {
                let text = body.to_json_text();
                let params = [
                    Param::Text(state_type),
                    Param::Text(id),
                    Param::Text(&text),
                    Param::Int(i64::from(body.schema_version())),
                ];
                Some(db.execute(INSERT_STATE, &params).await?)
            }
            (Change::Set(body), Some(version)) => {
                let text = body.to_json_text();
                let params = [
                    Param::Text(&text),
                    Param::Int(i64::from(body.schema_version())),
                    Param::Int(version),
                    Param::Text(state_type),
                    Param::Text(id),
                ];
                Some(db.execute(UPDATE_STATE, &params).await?)
            }
            (Change::Delete, Some(version)) => {
                let params = [
                    Param::Text(state_type),
                    Param::Text(id),
                    Param::Int(version),
                ];
                Some(db.execute(DELETE_STATE, &params).await?)
            }
            (Change::Keep, Some(version)) => {
                let params = [
                    Param::Text(state_type),
                    Param::Text(id),
                    Param::Int(version),
                ];
                Some(db.execute(CHECK_STATE, &params).await?)
            }
            // Nothing read, nothing to write: it must still not exist.
            (Change::Keep | Change::Delete, None) => None,
        };
        if rows != Some(1) {
            let found = db
                .fetch_int(STATE_VERSION, &[Param::Text(state_type), Param::Text(id)])
                .await?;
            if rows.is_some() || found.is_some() {
                return Err(StoreError::Conflict {
                    key: key.clone(),
                    expected: commit.expected_version,
                    found: found.map(|version| version as u64),
                });
            }
        }
    }
    for op in &commit.schedules {
        match op {
            ScheduleOp::Cancel { key } => {
                db.execute(CANCEL_SCHEDULES, &[Param::Text(key)]).await?;
            }
            ScheduleOp::Add(scheduled) => {
                let event = scheduled.event.to_text();
                let params = [
                    Param::Text(&id_text(scheduled.id)),
                    Param::Text(&scheduled.key),
                    Param::Int(scheduled.due_at_ms as i64),
                    Param::MaybeInt(scheduled.updates_every_ms.map(|period| period as i64)),
                    Param::Text(&event.effect_type),
                    Param::Text(&event.payload),
                    Param::Int(i64::from(event.schema_version)),
                ];
                db.execute(INSERT_SCHEDULE, &params).await?;
            }
        }
    }
    if let Some(Delivery {
        entry,
        position,
        handler,
    }) = commit.delivery
    {
        let params = [
            Param::Text(&id_text(entry)),
            Param::Int(i64::from(position)),
            Param::Int(i64::from(handler)),
        ];
        db.execute(INSERT_DELIVERY, &params).await?;
    }
    if let Some(entry) = &commit.outbox {
        let params = [
            Param::Text(&id_text(entry.id)),
            Param::Text(&effects_text(entry)),
            Param::Int(db.node()),
        ];
        db.execute(INSERT_OUTBOX, &params).await?;
    }
    Ok(())
}

async fn set_aside(db: &mut impl Executor, item: &SetAside, at_ms: u64) -> Result<(), StoreError> {
    let (source, id, position) = match item.source {
        SetAsideSource::Schedule(id) => ("schedule", id, 0),
        SetAsideSource::Outbox { entry, position } => ("outbox", entry, position),
    };
    let id = id_text(id);
    let params = [
        Param::Text(source),
        Param::Text(&id),
        Param::Int(i64::from(position)),
        Param::Text(&item.effect.effect_type),
        Param::Int(i64::from(item.effect.schema_version)),
        Param::Text(&item.effect.payload),
        Param::Text(&item.reason),
        Param::Int(at_ms as i64),
    ];
    db.execute(INSERT_SET_ASIDE, &params).await?;
    if let SetAsideSource::Schedule(_) = item.source {
        db.execute(DELETE_SCHEDULE, &[Param::Text(&id)]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every statement numbers its placeholders in the order they first
    /// appear, so SQLite (which numbers them so) binds what PostgreSQL does.
    #[test]
    fn placeholders_are_numbered_in_order_of_first_appearance() {
        let statements = [
            SELECT_STATE,
            SELECT_STATES_OF_TYPE,
            INSERT_STATE,
            UPDATE_STATE,
            DELETE_STATE,
            CHECK_STATE,
            STATE_VERSION,
            CANCEL_SCHEDULES,
            INSERT_SCHEDULE,
            DELETE_SCHEDULE,
            INSERT_DELIVERY,
            INSERT_OUTBOX,
            DELETE_DELIVERIES,
            DELETE_OUTBOX,
            INSERT_SESSION,
            INSERT_SET_ASIDE,
        ];
        for statement in statements {
            let mut seen = Vec::new();
            for (at, _) in statement.match_indices('$') {
                let digits: String = statement[at + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                let number: usize = digits.parse().expect("a numbered placeholder");
                if !seen.contains(&number) {
                    seen.push(number);
                }
            }
            let in_order: Vec<usize> = (1..=seen.len()).collect();
            assert_eq!(seen, in_order, "{statement}");
        }
    }
}
