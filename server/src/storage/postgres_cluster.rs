//! A cluster's use of PostgreSQL beyond the bus's tables: which nodes are
//! alive, a dead node's leftovers taken over, and due schedules claimed so
//! that one node fires each.
//!
//! No consensus of our own: a node is alive while it refreshes its row in
//! `nodes`; one whose row is older than the grace period is dead, and the
//! node that claims its row (an `UPDATE ... RETURNING`, which one node wins)
//! cleans up after it. A due schedule is claimed the same way, with a
//! lease: the claiming node fires it; if it dies before it is done, the
//! lease runs out and another node fires it.

use bus::{PendingEntry, ScheduleId, Scheduled, StoreError};

use super::postgres::{PostgresStore, postgres};
use super::rows::{ScheduleRow, id_text, pending_entries, scheduled};

/// How long a claimed schedule is the claimer's: far longer than firing
/// takes, so only a dead claimer's schedule is fired again.
const CLAIM_LEASE_MS: i64 = 30_000;

/// Due schedules claimed per poll.
const CLAIM_BATCH: i64 = 256;

/// The database's clock, in ms since the epoch: the nodes' rows are
/// compared on one clock, whatever each machine's says.
macro_rules! database_now {
    () => {
        "(extract(epoch from clock_timestamp()) * 1000)::bigint"
    };
}
const JOIN: &str = concat!(
    "INSERT INTO nodes (node, seen_at_ms) VALUES ($1, ",
    database_now!(),
    ")"
);
/// Refreshes this node's row; none is left when the others judged it dead.
const HEARTBEAT: &str = concat!(
    "UPDATE nodes SET seen_at_ms = ",
    database_now!(),
    " WHERE node = $1"
);
/// Claims the dead nodes' rows for one grace period: the claimer cleans up,
/// then deletes them; if it dies first, another claims them after.
const CLAIM_DEAD: &str = concat!(
    "UPDATE nodes SET seen_at_ms = ",
    database_now!(),
    " WHERE seen_at_ms < ",
    database_now!(),
    " - $1 AND node <> $2 RETURNING node"
);
const FORGET_NODE: &str = "DELETE FROM nodes WHERE node = $1";
/// A dead node's entries, and any whose node has no row at all (written by
/// a single server before, or a node cleaned up halfway).
const TAKE_OVER_OUTBOX: &str = "UPDATE outbox SET node = $1 \
     WHERE node = $2 OR node NOT IN (SELECT node FROM nodes) RETURNING id";
const SELECT_ENTRIES: &str = "SELECT id, effects FROM outbox WHERE id = ANY($1) ORDER BY seq";
const SELECT_ENTRY_DELIVERIES: &str =
    "SELECT entry, position, handler FROM deliveries WHERE entry = ANY($1)";
const CLAIM_ONE: &str = "UPDATE schedules SET claimed_by = $1, claimed_until_ms = $2 \
     WHERE id = $3 AND (claimed_until_ms IS NULL OR claimed_until_ms < $4)";
const CLAIM_DUE: &str = "UPDATE schedules SET claimed_by = $1, claimed_until_ms = $2 \
     WHERE id IN (SELECT id FROM schedules \
         WHERE due_at_ms <= $3 AND (claimed_until_ms IS NULL OR claimed_until_ms < $3) \
         ORDER BY due_at_ms LIMIT $4 FOR UPDATE SKIP LOCKED) \
     RETURNING id, schedule_key, due_at_ms, updates_every_ms, event_type, payload, schema_version";

impl PostgresStore {
    /// This store as node `node` of a cluster: its outbox entries are
    /// marked as its own, and it is alive from now (its row is written
    /// before it commits anything, so its entries are never taken for a
    /// dead node's).
    pub async fn join_cluster(mut self, node: u64) -> Result<Self, StoreError> {
        self.node = Some(node);
        sqlx::query(JOIN)
            .bind(self.me())
            .execute(&self.pool)
            .await
            .map_err(postgres)?;
        Ok(self)
    }

    fn me(&self) -> i64 {
        self.node.map_or(0, |node| node as i64)
    }

    /// Says this node is alive; `false` when its row is gone: the others
    /// judged it dead and cleaned up after it.
    pub async fn heartbeat(&self) -> Result<bool, StoreError> {
        let done = sqlx::query(HEARTBEAT)
            .bind(self.me())
            .execute(&self.pool)
            .await
            .map_err(postgres)?;
        Ok(done.rows_affected() == 1)
    }

    /// The nodes not seen for `grace`, claimed for this node to clean up
    /// after (for another grace period, after which another may).
    pub async fn claim_dead_nodes(
        &self,
        grace: std::time::Duration,
    ) -> Result<Vec<u64>, StoreError> {
        let rows: Vec<(i64,)> = sqlx::query_as(CLAIM_DEAD)
            .bind(grace.as_millis() as i64)
            .bind(self.me())
            .fetch_all(&self.pool)
            .await
            .map_err(postgres)?;
        Ok(rows.into_iter().map(|(node,)| node as u64).collect())
    }

    /// Makes `dead`'s unfinished outbox entries this node's, with any
    /// orphaned ones (whose node has no row), and reads them to republish.
    pub async fn take_over_outbox(
        &self,
        dead: Option<u64>,
    ) -> Result<Vec<PendingEntry>, StoreError> {
        let ids: Vec<(String,)> = sqlx::query_as(TAKE_OVER_OUTBOX)
            .bind(self.me())
            .bind(dead.map(|node| node as i64))
            .fetch_all(&self.pool)
            .await
            .map_err(postgres)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = ids.into_iter().map(|(id,)| id).collect();
        let deliveries = sqlx::query_as(SELECT_ENTRY_DELIVERIES)
            .bind(&ids)
            .fetch_all(&self.pool)
            .await
            .map_err(postgres)?;
        let entries = sqlx::query_as(SELECT_ENTRIES)
            .bind(&ids)
            .fetch_all(&self.pool)
            .await
            .map_err(postgres)?;
        pending_entries(deliveries, entries)
    }

    /// Forgets a dead node once cleaned up after.
    pub async fn forget_node(&self, dead: u64) -> Result<(), StoreError> {
        sqlx::query(FORGET_NODE)
            .bind(dead as i64)
            .execute(&self.pool)
            .await
            .map_err(postgres)?;
        Ok(())
    }

    /// Claims one schedule this node's timer found due; whether it is this
    /// node's to fire (not fired, cancelled or claimed elsewhere).
    pub(super) async fn claim_one(&self, id: ScheduleId, now_ms: u64) -> Result<bool, StoreError> {
        if self.node.is_none() {
            return Ok(true);
        }
        let done = sqlx::query(CLAIM_ONE)
            .bind(self.me())
            .bind(now_ms as i64 + CLAIM_LEASE_MS)
            .bind(id_text(id))
            .bind(now_ms as i64)
            .execute(&self.pool)
            .await
            .map_err(postgres)?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims the schedules due by `now_ms` that nobody holds: those other
    /// nodes made, the dead ones' among them.
    pub(super) async fn claim_due(&self, now_ms: u64) -> Result<Vec<Scheduled>, StoreError> {
        if self.node.is_none() {
            return Ok(Vec::new());
        }
        let rows: Vec<ScheduleRow> = sqlx::query_as(CLAIM_DUE)
            .bind(self.me())
            .bind(now_ms as i64 + CLAIM_LEASE_MS)
            .bind(now_ms as i64)
            .bind(CLAIM_BATCH)
            .fetch_all(&self.pool)
            .await
            .map_err(postgres)?;
        rows.into_iter().map(scheduled).collect()
    }
}
