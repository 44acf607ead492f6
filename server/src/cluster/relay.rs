//! The relay: a cluster node's hub sends what its bus dispatched to the
//! other nodes over NATS, and receives what theirs dispatched.
//!
//! Out: one task publishes in dispatch order (NATS keeps a connection's
//! order, so a game's events leave a node in version order). A game's
//! event goes to each of its players' subjects; a node that did not see
//! the game's joins (the game was made on another node) asks the store
//! who plays it, once: two players are all it will ever have.
//!
//! In: one subscription per subject this node's sockets need (a user with
//! a socket here, a game a socket here follows, the lobby), each a task
//! handing what arrives to the hub. The connection is made with `no_echo`,
//! so a node never receives its own events back (its hub routed them
//! already).

use std::collections::HashMap;
use std::sync::Arc;

use async_nats::Client;
use bus::Bus;
use domain::{GameId, GetGame, UserId};
use futures::StreamExt;
use metrics::counter;
use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use super::messages;
use crate::event_routing::{Hub, Interest, Outgoing, Relay};

/// A game has two players; once both are known they never change.
const PLAYERS: usize = 2;

/// The hub's end of the relay: two queues, drained by the relay's tasks.
#[derive(Debug)]
pub struct NatsRelay {
    outgoing: mpsc::UnboundedSender<Outgoing>,
    interests: mpsc::UnboundedSender<Interest>,
}

impl Relay for NatsRelay {
    fn forward(&self, outgoing: Outgoing) {
        let _ = self.outgoing.send(outgoing);
    }

    fn interest(&self, change: Interest) {
        let _ = self.interests.send(change);
    }
}

/// Starts relaying between `hub` and the other nodes through `client`,
/// until `shutdown`; `bus` answers who plays a game this node did not see
/// start. Each time `reconnected` is notified, the sockets here are told
/// to catch up.
pub fn start(
    client: Client,
    hub: Arc<Hub>,
    bus: Bus,
    reconnected: Arc<Notify>,
    shutdown: CancellationToken,
) -> Arc<NatsRelay> {
    let (outgoing, out_queue) = mpsc::unbounded_channel();
    let (interests, interest_queue) = mpsc::unbounded_channel();
    tokio::spawn(resync_after_outages(
        hub.clone(),
        bus.clone(),
        reconnected,
        shutdown.clone(),
    ));
    tokio::spawn(publish(
        client.clone(),
        hub.clone(),
        bus,
        out_queue,
        shutdown.clone(),
    ));
    tokio::spawn(subscribe(client, hub, interest_queue, shutdown));
    Arc::new(NatsRelay {
        outgoing,
        interests,
    })
}

/// After NATS comes back, what other nodes sent meanwhile is lost: every
/// socket here reloads the games it shows and gets the lobby's lists anew.
async fn resync_after_outages(
    hub: Arc<Hub>,
    bus: Bus,
    reconnected: Arc<Notify>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = reconnected.notified() => {}
        }
        tracing::info!("NATS is back: the sockets here catch up");
        hub.resync(&crate::lobby_news::lobby_now(&bus).await);
    }
}

/// Most events gathered into one round of messages: a commit's events
/// (a move makes three) and whatever else is queued by then.
const BATCH: usize = 256;

/// Publishes what the hub forwards, in order: what is queued at once goes
/// as one message per subject (a move's three events to a player are one
/// message, not three).
async fn publish(
    client: Client,
    hub: Arc<Hub>,
    bus: Bus,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    shutdown: CancellationToken,
) {
    let mut queued = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            count = queue.recv_many(&mut queued, BATCH) => if count == 0 { return },
        }
        // Bodies by subject, in the order subjects first appear.
        let mut bodies: Vec<(String, Vec<u8>)> = Vec::new();
        for outgoing in queued.drain(..) {
            let players = match &outgoing {
                Outgoing::Game { game, players, .. } | Outgoing::Removed { game, players } => {
                    players_of(&bus, &hub, *game, players).await
                }
                _ => Vec::new(),
            };
            let (subjects, record) = messages::encode(&outgoing, &players);
            for subject in subjects {
                match bodies.iter_mut().find(|(known, _)| *known == subject) {
                    Some((_, body)) => body.extend_from_slice(&record),
                    None => bodies.push((subject, record.clone())),
                }
            }
        }
        for (subject, body) in bodies {
            if let Err(error) = client.publish(subject, body.into()).await {
                tracing::warn!(%error, "cannot publish to NATS");
            } else {
                counter!("cluster_messages_published_total").increment(1);
            }
        }
    }
}

/// Who plays `game`: the players the hub knows when they are all there,
/// else the store's answer (with the hub's, in case the game is gone).
async fn players_of(bus: &Bus, hub: &Hub, game: GameId, known: &[UserId]) -> Vec<UserId> {
    if known.len() >= PLAYERS {
        return known.to_vec();
    }
    let mut players = known.to_vec();
    match bus.query(GetGame { game_id: game }).await {
        Ok(Some(view)) => {
            for seat in view.players {
                if !players.contains(&seat.user_id) {
                    players.push(seat.user_id);
                }
            }
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, %game, "cannot ask who plays a game"),
    }
    hub.learn_players(game, &players);
    players
}

/// Keeps one subscription per subject this node's sockets need.
async fn subscribe(
    client: Client,
    hub: Arc<Hub>,
    mut changes: mpsc::UnboundedReceiver<Interest>,
    shutdown: CancellationToken,
) {
    let mut subscribed: HashMap<String, AbortHandle> = HashMap::new();
    follow(&client, &hub, &mut subscribed, messages::lobby()).await;
    loop {
        let change = tokio::select! {
            () = shutdown.cancelled() => break,
            change = changes.recv() => match change {
                Some(change) => change,
                None => break,
            },
        };
        let (subject, wanted) = match change {
            Interest::User(user, wanted) => (messages::user(user), wanted),
            Interest::Game(game, wanted) => (messages::game(game), wanted),
        };
        if wanted {
            follow(&client, &hub, &mut subscribed, subject).await;
        } else if let Some(task) = subscribed.remove(&subject) {
            // Dropping the subscriber unsubscribes.
            task.abort();
        }
    }
    subscribed.values().for_each(AbortHandle::abort);
}

async fn follow(
    client: &Client,
    hub: &Arc<Hub>,
    subscribed: &mut HashMap<String, AbortHandle>,
    subject: String,
) {
    if subscribed.contains_key(&subject) {
        return;
    }
    let mut subscriber = match client.subscribe(subject.clone()).await {
        Ok(subscriber) => subscriber,
        Err(error) => {
            tracing::warn!(%error, subject, "cannot subscribe");
            return;
        }
    };
    let hub = hub.clone();
    let task = tokio::spawn(async move {
        while let Some(message) = subscriber.next().await {
            counter!("cluster_messages_received_total").increment(1);
            let records = messages::decode(&message.payload);
            if records.is_empty() {
                tracing::debug!(subject = %message.subject, "not a message of ours");
            }
            records
                .into_iter()
                .for_each(|incoming| hub.receive(incoming));
        }
    });
    subscribed.insert(subject, task.abort_handle());
}
