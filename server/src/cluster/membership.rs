//! Which nodes are alive, and cleaning up after one that is not.
//!
//! Each node refreshes its row in the database every beat. A node whose row
//! is older than the presence grace period is dead (killed, cut off, or
//! stopped): the node that claims its row (see `storage/postgres_cluster.rs`)
//! republishes the outbox entries it left unfinished, so nothing it
//! committed waits for it to come back, and takes its sockets out of
//! presence (`NodeLeft`), so its users go offline after the grace period
//! like anyone whose socket closed, unless they reconnected elsewhere.
//!
//! A node that could not reach the database does not judge others until
//! its own beats have gone through for a whole grace period again: after a
//! database outage every row is old, and the others need a beat to show
//! they are alive. Rows are stamped and compared on the database's clock.
//! A node that finds its own row gone was judged dead while it was cut
//! off: it stops at once rather than do again what the others did for it.
//!
//! A node that reaches the database again after its beats failed tells
//! presence which of its sockets are open ([`PresenceRoll`]): those that
//! opened or closed meanwhile could not be recorded. Its sockets then get
//! the lobby's lists anew.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use app::api::endpoints::Readiness;
use bus::Bus;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::event_routing::Hub;
use crate::presence_roll::PresenceRoll;
use crate::storage::PostgresStore;

/// Beats per grace period: a node misses a couple before it is judged.
const BEATS_PER_GRACE: u32 = 4;

/// How long a beat may take before the database counts as unreachable
/// (and this node refuses commands): a busy database answers in
/// milliseconds, a gone one never.
const BEAT_PATIENCE: Duration = Duration::from_secs(2);

/// This node's membership of the cluster.
pub struct Membership {
    database: Arc<PostgresStore>,
    /// Whether the last beat reached the database.
    reachable: Arc<AtomicBool>,
    /// This node's sockets, told to presence after an outage.
    sockets: NodeSockets,
}

/// A node's sockets, for presence and the lobby after an outage.
pub struct NodeSockets {
    /// This node, in connection ids.
    pub node: u64,
    /// Its signed-in users' sockets.
    pub roll: Arc<PresenceRoll>,
    /// Where its sockets get their frames.
    pub hub: Arc<Hub>,
}

impl Membership {
    /// Membership through `database` of the node whose are `sockets`.
    pub fn new(database: Arc<PostgresStore>, sockets: NodeSockets) -> Self {
        Self {
            database,
            reachable: Arc::new(AtomicBool::new(true)),
            sockets,
        }
    }

    /// Whether this node can commit commands now: NATS connected (else the
    /// other nodes would not hear of them) and the database reachable at
    /// the last beat.
    pub fn readiness(&self, nats: async_nats::Client) -> Readiness {
        let reachable = self.reachable.clone();
        Arc::new(move || {
            if !super::nats::connected(&nats) {
                return Err("this node has lost NATS; try again shortly".to_owned());
            }
            if !reachable.load(Ordering::Relaxed) {
                return Err("this node cannot reach the database; try again shortly".to_owned());
            }
            Ok(())
        })
    }

    /// Keeps this node's row fresh and cleans up after dead nodes, until
    /// `shutdown`.
    pub async fn run(self, bus: Bus, grace: Duration, shutdown: CancellationToken) {
        run(self, bus, grace, shutdown).await
    }
}

async fn run(membership: Membership, bus: Bus, grace: Duration, shutdown: CancellationToken) {
    let Membership {
        database,
        reachable,
        sockets,
    } = membership;
    let beat = (grace / BEATS_PER_GRACE).max(Duration::from_millis(50));
    let mut ticks = tokio::time::interval(beat);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Since when every beat went through.
    let mut healthy_since: Option<Instant> = None;
    // Whether presence may not know this node's sockets as they are.
    let mut presence_owed = false;
    // Whether outbox entries of no node may be waiting.
    let mut orphans_possible = true;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let answer = tokio::time::timeout(BEAT_PATIENCE, database.heartbeat()).await;
        if let Ok(Ok(false)) = answer {
            // Judged dead (cut off for a grace period): the others have
            // taken this node's sockets out of presence and republished
            // its outbox. Working on would do that work twice; a node
            // that stops is restarted as a new one by its supervisor.
            tracing::error!("the cluster judged this node dead; stopping");
            std::process::exit(1);
        }
        let answered = matches!(answer, Ok(Ok(true)));
        reachable.store(answered, Ordering::Relaxed);
        if !answered {
            tracing::warn!(
                "cannot tell the cluster this node is alive: the database does not answer"
            );
            healthy_since = None;
            presence_owed = true;
            continue;
        }
        if presence_owed {
            presence_owed = !restate(&sockets, &bus, grace).await;
        }
        let since = *healthy_since.get_or_insert_with(Instant::now);
        if since.elapsed() < grace {
            continue;
        }
        match database.claim_dead_nodes(grace).await {
            Ok(dead) => {
                orphans_possible |= !dead.is_empty();
                for node in dead {
                    clean_up_after(&database, &bus, node, grace).await;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot look for dead nodes"),
        }
        // Entries whose node has no row at all (a single server's before
        // the cluster, or a node cleaned up halfway): looked for once
        // healthy, and after each clean-up, not at every beat.
        if orphans_possible {
            orphans_possible = !take_over(&database, &bus, None).await;
        }
    }
}

/// Tells presence which sockets are open here, and then the sockets the
/// lobby's lists; whether presence was told.
async fn restate(sockets: &NodeSockets, bus: &Bus, patience: Duration) -> bool {
    let told = tokio::time::timeout(patience, sockets.roll.restate(bus, sockets.node)).await;
    match told {
        Ok(Ok(())) => {
            tracing::info!("the database is back: presence knows this node's sockets again");
            sockets
                .hub
                .tell_lobby(&crate::lobby_news::lobby_now(bus).await);
            true
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot tell presence this node's sockets yet");
            false
        }
        Err(_) => {
            tracing::warn!("cannot tell presence this node's sockets yet: the database is slow");
            false
        }
    }
}

/// Republishes what `node` left and closes its sockets in presence; then
/// forgets it. Stopped halfway, the next claimer does it all again, which
/// is harmless: deliveries already recorded are skipped, and a node that
/// left leaves no connection twice.
async fn clean_up_after(database: &PostgresStore, bus: &Bus, node: u64, grace: Duration) {
    tracing::warn!(
        dead = format!("{node:016x}"),
        "a node is gone; cleaning up after it"
    );
    if !take_over(database, bus, Some(node)).await {
        return;
    }
    let left = tokio::time::timeout(grace, bus.publish_committed(domain::NodeLeft { node })).await;
    match left {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot take a dead node's sockets out of presence");
            return;
        }
        // Not forgotten: claimed again after the grace period.
        Err(_) => return,
    }
    if let Err(error) = database.forget_node(node).await {
        tracing::warn!(%error, "cannot forget a dead node");
    }
}

/// Takes over and republishes `node`'s unfinished outbox entries (and
/// orphaned ones); whether that went through.
async fn take_over(database: &PostgresStore, bus: &Bus, node: Option<u64>) -> bool {
    let entries = match database.take_over_outbox(node).await {
        Ok(entries) => entries,
        Err(error) => {
            tracing::warn!(%error, "cannot take over a dead node's outbox");
            return false;
        }
    };
    if entries.is_empty() {
        return true;
    }
    match bus.republish(entries).await {
        Ok(count) => {
            tracing::info!(entries = count, "republishing what a dead node committed");
            true
        }
        Err(error) => {
            tracing::warn!(%error, "cannot republish a dead node's outbox");
            false
        }
    }
}
