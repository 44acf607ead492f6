//! The hub: routes events to the sockets they concern.
//!
//! The hub is a bus [`Hook`]: every event the bus dispatches passes through
//! [`Hub::dispatched`], which serialises it once and hands the same frame to
//! each recipient's queue. Cost grows with the recipients of an event, not
//! with the number of sockets open: user events go to that user's sockets,
//! game events to the game's players and followers, lobby events to all.
//!
//! Lobby-wide events (who is online, the hall of fame) go to every socket,
//! so they are throttled: at most one of each type per lobby interval; one
//! that comes sooner waits for the next round of [`Hub::flush_lobby_slice`],
//! and a later one of the same type replaces it (each carries the whole
//! current picture). A busy site thus costs each socket a few lobby frames
//! a second, not one per player arriving.
//!
//! Each socket has a bounded queue. A client too slow to drain it is cut
//! off (its queue dropped, its socket closed) rather than slowing anyone.
//! The last [`RECENT`] public events of each game are kept so that a client
//! that reconnects can resume where it was.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use app::socket_frames::{ReloadGame, ServerFrame};
use bus::{Envelope, Hook, Kind};
use domain::audience::{Audience, audience, game_removed, joins_game};
use domain::{GameId, UserId};
use foldhash::{HashMap, HashSet};
use smallvec::SmallVec;

use crate::queue::{self, Frame, Receiver, Sender};
use game_route::{GameRoute, Kept};

mod game_route;

/// Public events kept per game for resuming clients.
pub const RECENT: usize = 64;

/// Games one socket may follow besides its own (spectating, resuming).
pub const MAX_FOLLOWED: usize = 16;

/// One socket's id in the hub.
pub type ConnectionId = u64;

/// An event this node's bus dispatched, for the other nodes of a cluster
/// (see `cluster/relay.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// To one user's sockets.
    User { user: UserId, frame: Frame },
    /// To a game's players and followers.
    Game {
        game: GameId,
        version: u64,
        /// The players this hub knows of (a node that did not see the
        /// game's joins knows fewer: the relay asks the store).
        players: Vec<UserId>,
        frame: Frame,
    },
    /// To every socket, throttled per kind.
    Lobby { kind: &'static str, frame: Frame },
    /// The game's live state is gone: forget its route.
    Removed { game: GameId, players: Vec<UserId> },
}

/// An event another node's bus dispatched, as the relay received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// To one user's sockets.
    User { user: UserId, frame: Frame },
    /// To a game's players (all of them, as the sender resolved them) and
    /// followers.
    Game {
        game: GameId,
        version: u64,
        players: Vec<UserId>,
        frame: Frame,
    },
    /// To every socket, throttled per kind.
    Lobby { kind: String, frame: Frame },
    /// The game's live state is gone.
    Removed { game: GameId },
}

/// What this node's sockets want from the other nodes: it changes when a
/// user's first socket opens or last one closes, and when a socket starts
/// or stops following a game.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Events of this user (and of the games they play) are wanted.
    User(UserId, bool),
    /// Events of this game are wanted (a socket follows it).
    Game(GameId, bool),
}

/// Where a cluster node's hub sends what its bus dispatched, and says what
/// its sockets want; a single node has none.
pub trait Relay: Send + Sync + std::fmt::Debug {
    /// Sends an event to the other nodes.
    fn forward(&self, outgoing: Outgoing);
    /// This node's interest changed.
    fn interest(&self, change: Interest);
}

/// Where events go.
#[derive(Debug)]
pub struct Hub {
    routes: Mutex<Routes>,
    queue: usize,
    lobby_interval: Duration,
    next_id: AtomicU64,
    relay: OnceLock<Arc<dyn Relay>>,
}

#[derive(Debug, Default)]
struct Routes {
    connections: HashMap<ConnectionId, Connection>,
    /// Each user's sockets (a user has a tab or two: a short list).
    users: HashMap<UserId, Vec<ConnectionId>>,
    games: HashMap<GameId, GameRoute>,
    lobby: LobbyNews,
    /// Interests that sockets removed under the lock gave up, for the hub
    /// to tell its relay (see [`Hub::routes`]).
    lost: Vec<Interest>,
    /// The server is shutting down: every socket is told to close, and
    /// one that connects now is told at once.
    shut: bool,
}

/// Lobby-wide events by type: when each last went out, and the latest one
/// held back.
#[derive(Debug, Default)]
struct LobbyNews {
    sent: HashMap<&'static str, Instant>,
    held: HashMap<&'static str, Frame>,
    /// Lobby-wide frames are queued quietly (see [`Routes::deliver_to_all`]);
    /// false when lobby events are not throttled.
    quietly: bool,
    /// When the last one was queued quietly: sockets are woken for it
    /// slice by slice over the next interval (see [`Hub::flush_lobby_slice`]).
    queued_at: Option<Instant>,
}

#[derive(Debug)]
struct Connection {
    user: Option<UserId>,
    frames: Sender,
    /// Games it follows besides its user's (at most [`MAX_FOLLOWED`]).
    /// (Behind one pointer: few sockets follow any, and each socket's
    /// entry in the hub's table counts.)
    #[allow(
        clippy::box_collection,
        reason = "one word in every socket's entry where a vector is three"
    )]
    followed: Option<Box<Vec<GameId>>>,
    /// The first version of each recent game it was sent live (at most
    /// [`FIRST_LIVE_KEPT`]): a resume replays only what came before, so
    /// an event sent live as the resume is answered is not sent twice.
    /// (A player's socket has one: kept in place, not allocated.)
    first_live: SmallVec<[(GameId, u64); 1]>,
}

/// Games whose first live version a socket remembers: the ones it may
/// still resume (a player plays one game at a time, a spectator a few).
const FIRST_LIVE_KEPT: usize = 4;

/// How long a game's event waits for an earlier version still on its way
/// from another node. Two nodes commit one game's versions one after the
/// other, and each publishes right after its commit, so the later can
/// overtake the earlier by the time a publish takes, well under this.
pub const HELD_PATIENCE: Duration = Duration::from_millis(100);

/// What a resuming client gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Resumed {
    /// These frames, in order (possibly none: it is up to date).
    Replay(Vec<Frame>),
    /// Too old: reload the game's state.
    Reload,
    /// This hub has never seen the game (it is older than this process, or
    /// another node of a cluster runs it, or there is no such game): the
    /// socket follows it from now on; [`Hub::seed`] it from the store and
    /// ask again.
    Unknown,
}

impl Hub {
    /// A hub whose sockets each queue at most `queue` frames and get at
    /// most one lobby-wide event of each type per `lobby_interval`.
    pub fn new(queue: usize, lobby_interval: Duration) -> Self {
        Self {
            routes: Mutex::new(Routes {
                lobby: LobbyNews {
                    quietly: !lobby_interval.is_zero(),
                    ..LobbyNews::default()
                },
                ..Routes::default()
            }),
            queue: queue.max(1),
            lobby_interval,
            next_id: AtomicU64::new(1),
            relay: OnceLock::new(),
        }
    }

    /// Makes this hub a cluster node's: what the bus dispatches also goes
    /// to `relay`, and what the other nodes send comes in through
    /// [`Hub::receive`]. Set once, before sockets open.
    pub fn set_relay(&self, relay: Arc<dyn Relay>) {
        if self.relay.set(relay).is_err() {
            tracing::warn!("the hub has a relay already");
        }
    }

    fn interest(&self, changes: &[Interest]) {
        if let Some(relay) = self.relay.get() {
            for change in changes {
                relay.interest(*change);
            }
        }
    }

    /// The routes, locked. Removing a socket (closed, or too slow) may
    /// end an interest: the guard tells the relay when it is dropped.
    fn routes(&self) -> RoutesGuard<'_> {
        RoutesGuard {
            routes: self.routes.lock().unwrap_or_else(PoisonError::into_inner),
            relay: self.relay.get(),
        }
    }

    /// Registers a socket (of `user`, or anonymous); its frames come out of
    /// the receiver, which closes when the hub cuts it off.
    pub fn connect(&self, user: Option<UserId>) -> (ConnectionId, Receiver) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (frames, receiver) = queue::queue(self.queue);
        let mut routes = self.routes();
        if routes.shut {
            frames.shut_down();
        }
        routes.connections.insert(
            id,
            Connection {
                user,
                frames,
                followed: None,
                first_live: SmallVec::new(),
            },
        );
        let mut first = false;
        if let Some(user) = user {
            let sockets = routes.users.entry(user).or_default();
            first = sockets.is_empty();
            sockets.push(id);
        }
        drop(routes);
        if let (true, Some(user)) = (first, user) {
            self.interest(&[Interest::User(user, true)]);
        }
        (id, receiver)
    }

    /// Learns who plays which game, and at which version each is (at
    /// start-up, from the store: the events that made them so came before
    /// this process).
    pub fn seed(&self, games: impl IntoIterator<Item = (GameId, Vec<UserId>, u64)>) {
        let mut routes = self.routes();
        for (game, players, version) in games {
            let route = routes.games.entry(game).or_default();
            route.players.extend(players);
            route.started_at_version = route.started_at_version.max(version);
            route.stale = false;
        }
    }

    /// After events were lost (a cluster node cut off from NATS): every
    /// socket here showing a game is told to reload it, and every socket
    /// gets `lobby`, the lobby's lists as they are now.
    pub fn resync(&self, lobby: &[Frame]) {
        let mut routes = self.routes();
        let games: Vec<(GameId, Vec<ConnectionId>)> = routes
            .games
            .iter()
            .map(|(game, route)| {
                let mut sockets: HashSet<ConnectionId> = route.followers.iter().copied().collect();
                for player in &route.players {
                    sockets.extend(routes.users.get(player).into_iter().flatten());
                }
                (*game, sockets.into_iter().collect())
            })
            .filter(|(_, sockets): &(GameId, Vec<ConnectionId>)| !sockets.is_empty())
            .collect();
        for (game_id, sockets) in games {
            // Its recent events have a hole now: a resume must reload.
            if let Some(route) = routes.games.get_mut(&game_id) {
                route.recent.clear();
                route.stale = true;
            }
            routes.deliver(
                &sockets,
                &control(&ServerFrame::ReloadGame(ReloadGame { game_id })),
            );
        }
        for frame in lobby {
            routes.deliver_to_all(frame);
        }
    }

    /// Sends `frame` to socket `id` alone (an answer to its command), in
    /// line with its events.
    pub fn tell(&self, id: ConnectionId, frame: Frame) {
        self.routes().deliver(&[id], &frame);
    }

    /// Sends every socket here `lobby`, the lobby's lists as they are now
    /// (after this node's presence could not be recorded for a while).
    pub fn tell_lobby(&self, lobby: &[Frame]) {
        let mut routes = self.routes();
        for frame in lobby {
            routes.deliver_to_all(frame);
        }
    }

    /// Learns who plays `game` (the relay asked the store).
    pub fn learn_players(&self, game: GameId, players: &[UserId]) {
        if let Some(route) = self.routes().games.get_mut(&game) {
            route.players.extend(players.iter().copied());
        }
    }

    /// The ping round, one slice of the sockets at a time: sockets whose id
    /// is `slice` modulo `slices` look whether their peer is still there.
    /// (Slices spread the pings over the interval; each socket is ticked
    /// once per round of `slices` calls.)
    pub fn tick(&self, slice: u64, slices: u64) {
        let routes = self.routes();
        for connection in routes.slice(slice, slices) {
            connection.frames.tick();
        }
    }

    /// The server is shutting down: every socket closes, now or as it
    /// connects.
    pub fn shut_down(&self) {
        let mut routes = self.routes();
        routes.shut = true;
        for connection in routes.connections.values() {
            connection.frames.shut_down();
        }
    }

    /// Forgets a socket.
    pub fn disconnect(&self, id: ConnectionId) {
        self.routes().remove(id);
    }

    /// Sockets open.
    pub fn connections(&self) -> usize {
        self.routes().connections.len()
    }

    /// Makes socket `id` follow `game` and says what it missed after
    /// `version`; `None` when the socket follows too many games already.
    pub fn resume(&self, id: ConnectionId, game: GameId, version: u64) -> Option<Resumed> {
        let mut routes = self.routes();
        let known = routes.games.contains_key(&game);
        let connection = routes.connections.get_mut(&id)?;
        let followed = connection.followed.get_or_insert_default();
        if !followed.contains(&game) {
            if followed.len() >= MAX_FOLLOWED {
                return None;
            }
            followed.push(game);
        }
        let route = routes.games.entry(game).or_default();
        if route.followers.is_empty() {
            // A channel send: cheap under the lock.
            self.interest(&[Interest::Game(game, true)]);
        }
        route.followers.insert(id);
        if !known || (route.stale && route.recent.is_empty()) {
            return Some(Resumed::Unknown);
        }
        // What was sent live already comes through the socket's queue.
        let live_from = routes.connections.get(&id).and_then(|connection| {
            connection
                .first_live
                .iter()
                .find(|(live, _)| *live == game)
                .map(|(_, first)| *first)
        });
        let route = routes.games.get(&game)?;
        let oldest = route.recent.front().map(|(version, _)| *version);
        Some(match oldest {
            Some(oldest) if oldest <= version + 1 => Resumed::Replay(
                route
                    .recent
                    .iter()
                    .filter(|(seen, _)| {
                        *seen > version && live_from.is_none_or(|live| *seen < live)
                    })
                    .map(|(_, kept)| kept.frame())
                    .collect(),
            ),
            // Nothing missed before what was sent live.
            _ if live_from.is_some_and(|live| live <= version + 1) => Resumed::Replay(Vec::new()),
            // Nothing kept (no event since this process started): up to
            // date if the client saw the version the game had at start,
            // else what it missed went out before a restart: reload.
            None if version >= route.started_at_version => Resumed::Replay(Vec::new()),
            None | Some(_) => Resumed::Reload,
        })
    }

    /// [`Hub::flush_lobby_slice`] for every socket at once.
    #[cfg(test)]
    pub fn flush_lobby(&self) {
        self.flush_lobby_slice(0, 1);
    }

    /// Wakes a slice of the sockets (ids `slice` modulo `slices`) for the
    /// lobby-wide frames queued quietly that they still hold; with the
    /// first slice, then queues the ones held back. Called `slices` times
    /// a lobby interval, each socket's turn comes once an interval, as the
    /// held frames' do. Also sends the game events that waited too long
    /// for an earlier one.
    ///
    /// Why slices: woken all at once, ten thousand sockets each made a
    /// write of its own in one burst, some 80 ms of work that every move
    /// behind it waited for (p99 at 5,000 games; docs/performance.md).
    pub fn flush_lobby_slice(&self, slice: u64, slices: u64) {
        let slices = slices.max(1);
        let mut routes = self.routes();
        routes.release_held(HELD_PATIENCE);
        // A frame queued quietly less than two rounds ago may still wait
        // in the sockets of this slice (a busy socket is announced to a
        // round later: see `Sender::announce`; waking one that holds none
        // is a look at its queue, nothing more).
        let round = self.lobby_interval * 3;
        if routes
            .lobby
            .queued_at
            .is_some_and(|queued| queued.elapsed() <= round)
        {
            for connection in routes.slice(slice, slices) {
                connection.frames.announce();
            }
        }
        if slice == 0 {
            let now = Instant::now();
            let held: Vec<(&'static str, Frame)> = routes.lobby.held.drain().collect();
            for (kind, frame) in held {
                routes.lobby.sent.insert(kind, now);
                routes.deliver_to_all(&frame);
            }
        }
    }

    /// Forgets the games no socket here shows (no player of theirs has a
    /// socket here, none follows them) whose last event is older than
    /// `idle`. On a cluster's node these are the games whose commands came
    /// through this node while their players' sockets are elsewhere: their
    /// end and removal are never sent here. A socket that resumes one later
    /// finds it in the store ([`Resumed::Unknown`]). How many were dropped.
    pub fn sweep(&self, idle: Duration) -> usize {
        let mut routes = self.routes();
        let Routes { games, users, .. } = &mut *routes;
        let before = games.len();
        games.retain(|_, route| {
            !route.followers.is_empty()
                || route
                    .players
                    .iter()
                    .any(|player| users.contains_key(player))
                || route.touched.is_none_or(|touched| touched.elapsed() < idle)
        });
        before - games.len()
    }

    /// How often a whole round of [`Hub::flush_lobby_slice`] should run.
    pub fn lobby_interval(&self) -> Duration {
        self.lobby_interval
    }

    /// Routes an event this node's bus dispatched: to this node's sockets,
    /// and to the other nodes when there are any.
    fn route(&self, event: &Envelope) {
        let target = audience(event);
        let removed = game_removed(event);
        if target == Audience::Nobody && removed.is_none() {
            return;
        }
        let frame: Frame = event.to_json_text().into();
        let joining = joins_game(event);
        let mut routes = self.routes();
        if let Some((game, player)) = joining {
            routes.games.entry(game).or_default().players.insert(player);
        }
        let outgoing = match target {
            Audience::Nobody => None,
            Audience::Everyone => {
                let kind = event.type_name();
                routes.lobby(kind, frame.clone(), self.lobby_interval);
                Some(Outgoing::Lobby { kind, frame })
            }
            Audience::User(user) => {
                routes.send_to_user(user, &frame);
                Some(Outgoing::User { user, frame })
            }
            Audience::Game { game_id, version } => {
                let new = routes.send_to_game(game_id, version, &frame, Some(event));
                // Republished after a restart: the other nodes had it too.
                (new && self.relay.get().is_some()).then(|| Outgoing::Game {
                    game: game_id,
                    version,
                    players: routes
                        .games
                        .get(&game_id)
                        .map(|route| route.players.iter().copied().collect())
                        .unwrap_or_default(),
                    frame,
                })
            }
        };
        let removed = removed.map(|game| Outgoing::Removed {
            game,
            players: routes
                .games
                .remove(&game)
                .map(|route| route.players.0.into_vec())
                .unwrap_or_default(),
        });
        drop(routes);
        if let Some(relay) = self.relay.get() {
            outgoing
                .into_iter()
                .chain(removed)
                .for_each(|out| relay.forward(out));
        }
    }

    /// Routes an event another node's bus dispatched to this node's sockets.
    pub fn receive(&self, incoming: Incoming) {
        let mut routes = self.routes();
        match incoming {
            Incoming::User { user, frame } => routes.send_to_user(user, &frame),
            Incoming::Game {
                game,
                version,
                players,
                frame,
            } => {
                routes
                    .games
                    .entry(game)
                    .or_default()
                    .players
                    .extend(players);
                routes.send_to_game(game, version, &frame, None);
            }
            Incoming::Lobby { kind, frame } => {
                // Kinds are few and known: keep the static name.
                let Some(kind) = LOBBY_KINDS.iter().find(|known| **known == kind) else {
                    return;
                };
                routes.lobby(kind, frame, self.lobby_interval);
            }
            Incoming::Removed { game } => {
                routes.games.remove(&game);
            }
        }
    }
}

/// The locked routes; on drop, the interests lost meanwhile go to the relay.
struct RoutesGuard<'a> {
    routes: MutexGuard<'a, Routes>,
    relay: Option<&'a Arc<dyn Relay>>,
}

impl std::ops::Deref for RoutesGuard<'_> {
    type Target = Routes;

    fn deref(&self) -> &Routes {
        &self.routes
    }
}

impl std::ops::DerefMut for RoutesGuard<'_> {
    fn deref_mut(&mut self) -> &mut Routes {
        &mut self.routes
    }
}

impl Drop for RoutesGuard<'_> {
    fn drop(&mut self) {
        if self.routes.lost.is_empty() {
            return;
        }
        let lost = std::mem::take(&mut self.routes.lost);
        if let Some(relay) = self.relay {
            lost.into_iter().for_each(|change| relay.interest(change));
        }
    }
}

/// The lobby-wide events, by wire name.
const LOBBY_KINDS: &[&str] = &[
    <domain::UsersOnlineUpdated as bus::Effect>::TYPE,
    <domain::TopThreeListUpdated as bus::Effect>::TYPE,
];

impl Routes {
    /// The sockets whose id is `slice` modulo `slices`: one of the slices
    /// the rounds over every socket take in turn (the ping round, the
    /// lobby's flush).
    fn slice(&self, slice: u64, slices: u64) -> impl Iterator<Item = &Connection> {
        let slices = slices.max(1);
        self.connections
            .iter()
            .filter(move |(id, _)| *id % slices == slice)
            .map(|(_, connection)| connection)
    }

    /// A lobby-wide event: to every socket now, or held until the next
    /// flush when one of its kind went out less than `interval` ago (the
    /// latest held one wins: each carries the whole picture).
    fn lobby(&mut self, kind: &'static str, frame: Frame, interval: Duration) {
        let now = Instant::now();
        let recent = self
            .lobby
            .sent
            .get(kind)
            .is_some_and(|sent| now.duration_since(*sent) < interval);
        if recent {
            self.lobby.held.insert(kind, frame);
        } else {
            self.lobby.sent.insert(kind, now);
            self.lobby.held.remove(kind);
            self.deliver_to_all(&frame);
        }
    }

    /// To every socket of `user`.
    fn send_to_user(&mut self, user: UserId, frame: &Frame) {
        let sockets: Vec<ConnectionId> = self
            .users
            .get(&user)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        self.deliver(&sockets, frame);
    }

    /// A game's event at `version`: to its players' sockets and its
    /// followers, and kept for resuming clients. Whether it was new (a
    /// version seen already is not sent twice).
    fn send_to_game(
        &mut self,
        game: GameId,
        version: u64,
        frame: &Frame,
        event: Option<&Envelope>,
    ) -> bool {
        let route = self.games.entry(game).or_default();
        let last = route.recent.back().map(|(last, _)| *last);
        if last.is_some_and(|last| last >= version) || route.held.contains(version) {
            return false;
        }
        if let Some(last) = last
            && version > last + 1
        {
            // An earlier version is still on its way (another node
            // committed it and published it a moment later): wait for it.
            route.held.insert(version, Kept::of(frame, event));
            return true;
        }
        self.release(game, version, frame.clone(), Kept::of(frame, event));
        // What was waiting for this one follows it.
        while let Some(route) = self.games.get_mut(&game) {
            let next = route.recent.back().map_or(0, |(last, _)| last + 1);
            let Some(kept) = route.held.remove(next) else {
                break;
            };
            self.release(game, next, kept.frame(), kept);
        }
        true
    }

    /// Sends out the game events held for an earlier version that has not
    /// come within `patience` (a client that sees the gap reloads the game).
    fn release_held(&mut self, patience: Duration) {
        let overdue: Vec<GameId> = self
            .games
            .iter()
            .filter(|(_, route)| {
                route
                    .held
                    .waiting_since()
                    .is_some_and(|since| since.elapsed() >= patience)
            })
            .map(|(game, _)| *game)
            .collect();
        for game in overdue {
            let Some(route) = self.games.get_mut(&game) else {
                continue;
            };
            for (version, kept) in route.held.take() {
                self.release(game, version, kept.frame(), kept);
            }
        }
    }

    /// Keeps a game's event for resuming clients and sends it (as `frame`)
    /// to the game's players' sockets and followers here.
    fn release(&mut self, game: GameId, version: u64, frame: Frame, kept: Kept) {
        let Routes {
            games,
            users,
            connections,
            ..
        } = self;
        let route = games.entry(game).or_default();
        route.recent.push_back((version, kept));
        if route.recent.len() > RECENT {
            route.recent.pop_front();
        }
        route.touched = Some(Instant::now());
        // The followers, then the players' sockets that do not follow it
        // too (a player has a tab or two: no set needed).
        let followed = route.followers.len();
        let mut sockets: Vec<ConnectionId> = Vec::with_capacity(followed + 2);
        sockets.extend(route.followers.iter().copied());
        for player in &route.players {
            for id in users.get(player).into_iter().flatten() {
                if !route.followers.contains(id) && !sockets[followed..].contains(id) {
                    sockets.push(*id);
                }
            }
        }
        for id in &sockets {
            if let Some(connection) = connections.get_mut(id)
                && !connection.first_live.iter().any(|(live, _)| *live == game)
            {
                if connection.first_live.len() >= FIRST_LIVE_KEPT {
                    connection.first_live.remove(0);
                }
                connection.first_live.push((game, version));
            }
        }
        self.deliver(&sockets, &frame);
    }

    /// Queues `frame` for every socket. Throttled, it is queued quietly:
    /// a socket playing a game sends it with its next move's frames, and
    /// a round of [`Hub::flush_lobby_slice`] wakes the rest (the next
    /// round, or the one after for a socket that got frames since the
    /// last: see `Sender::announce`), so ten thousand
    /// sockets cost no ten thousand writes of their own per lobby event
    /// (at 5,000 games the lobby's frames took more writes than the moves).
    fn deliver_to_all(&mut self, frame: &Frame) {
        let all: Vec<ConnectionId> = self.connections.keys().copied().collect();
        if self.lobby.quietly {
            self.lobby.queued_at = Some(Instant::now());
            self.queue_for(&all, frame, Sender::try_send_quietly);
        } else {
            self.deliver(&all, frame);
        }
    }

    /// Queues `frame` for each socket; cuts off those whose queue is full.
    fn deliver(&mut self, sockets: &[ConnectionId], frame: &Frame) {
        self.queue_for(sockets, frame, Sender::try_send);
    }

    /// Queues `frame` for each socket with `send`; cuts off those whose
    /// queue is full.
    fn queue_for(
        &mut self,
        sockets: &[ConnectionId],
        frame: &Frame,
        send: fn(&Sender, Frame) -> Result<(), queue::Full>,
    ) {
        let mut too_slow = Vec::new();
        for id in sockets {
            if let Some(connection) = self.connections.get(id)
                && send(&connection.frames, frame.clone()).is_err()
            {
                too_slow.push(*id);
            }
        }
        for id in too_slow {
            tracing::info!(
                connection = id,
                "socket too slow to keep up; cutting it off"
            );
            self.remove(id);
        }
    }

    /// Forgets a socket; what this node no longer needs from the others
    /// goes to `lost`.
    fn remove(&mut self, id: ConnectionId) {
        let lost = &mut self.lost;
        let Some(connection) = self.connections.remove(&id) else {
            return;
        };
        if let Some(user) = connection.user
            && let Some(sockets) = self.users.get_mut(&user)
        {
            sockets.retain(|socket| *socket != id);
            if sockets.is_empty() {
                self.users.remove(&user);
                lost.push(Interest::User(user, false));
            }
        }
        for game in connection.followed.into_iter().flat_map(|games| *games) {
            if let Some(route) = self.games.get_mut(&game) {
                route.followers.remove(&id);
                if route.followers.is_empty() {
                    lost.push(Interest::Game(game, false));
                }
            }
        }
    }
}

impl Hook for Hub {
    fn dispatched(&self, effect: &Envelope) {
        if effect.kind() == Kind::Event {
            self.route(effect);
        }
    }
}

/// A control frame as sent.
pub fn control(frame: &ServerFrame) -> Frame {
    serde_json::to_string(frame)
        .unwrap_or_else(|error| {
            format!(r#"{{"type":"Refused","payload":{{"message":"{error}"}}}}"#)
        })
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{GameCreated, MarkPlaced, PlayerJoinedAGame, UserInvited};

    fn id<I: From<uuid::Uuid>>(n: u128) -> I {
        I::from(uuid::Uuid::from_u128(n))
    }

    /// Game 9 created by user 1 and joined by user 2 (versions 1 and 2).
    fn created_and_joined(hub: &Hub) {
        hub.dispatched(&Envelope::new(GameCreated {
            game_id: id(9),
            creator: id(1),
            version: 1,
        }));
        hub.dispatched(&Envelope::new(PlayerJoinedAGame {
            game_id: id(9),
            player_id: id(2),
            version: 2,
        }));
    }

    fn moved(version: u64) -> Envelope {
        Envelope::new(MarkPlaced {
            game_id: id(9),
            player_id: id(1),
            x: 0,
            y: 0,
            version,
        })
    }

    #[test]
    fn game_events_reach_players_and_only_them() {
        let hub = Hub::new(16, Duration::ZERO);
        let (_, mut alice) = hub.connect(Some(id(1)));
        let (_, mut bob) = hub.connect(Some(id(2)));
        let (_, mut carol) = hub.connect(Some(id(3)));
        created_and_joined(&hub);
        assert!(alice.try_recv().is_ok());
        assert!(alice.try_recv().is_ok());
        assert!(bob.try_recv().unwrap().contains("PlayerJoinedAGame"));
        assert!(carol.try_recv().is_err());
    }

    #[test]
    fn a_game_event_dispatched_twice_goes_out_once() {
        let hub = Hub::new(16, Duration::ZERO);
        hub.seed([(id(9), vec![id(1)], 0)]);
        let (_, mut alice) = hub.connect(Some(id(1)));
        for version in [5, 5, 6, 5] {
            hub.dispatched(&moved(version));
        }
        assert!(alice.try_recv().unwrap().contains(r#""version":5"#));
        assert!(alice.try_recv().unwrap().contains(r#""version":6"#));
        assert!(alice.try_recv().is_err(), "no duplicate");
    }

    #[test]
    fn lobby_events_are_throttled_per_type_and_the_latest_held_one_wins() {
        use domain::{OnlineUser, UsersOnlineUpdated};
        let hub = Hub::new(16, Duration::from_secs(3600));
        let (_, mut anyone) = hub.connect(None);
        let online = |n: u128| {
            Envelope::new(UsersOnlineUpdated {
                total: n as u64,
                users: (1..=n)
                    .map(|i| OnlineUser {
                        user_id: id(i),
                        alias: domain::Alias::parse(&format!("p{i}")).unwrap(),
                    })
                    .collect(),
            })
        };
        for n in 1..=3 {
            hub.dispatched(&online(n));
        }
        assert!(
            anyone.try_recv().unwrap().contains("p1"),
            "the first goes out at once"
        );
        assert!(anyone.try_recv().is_err(), "the next ones wait");
        hub.flush_lobby();
        assert!(anyone.try_recv().unwrap().contains("p3"), "only the latest");
        assert!(anyone.try_recv().is_err());
        hub.flush_lobby();
        assert!(anyone.try_recv().is_err(), "nothing held, nothing sent");
    }

    #[test]
    fn the_ping_round_ticks_a_slice_at_a_time_and_shutdown_reaches_every_socket() {
        use crate::queue::Received;
        use std::task::{Context, Poll, Waker};
        let look = |receiver: &mut Receiver| match receiver
            .poll_recv(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(received) => Some(received),
            Poll::Pending => None,
        };
        let hub = Hub::new(16, Duration::from_secs(1));
        let (first, mut one) = hub.connect(None);
        let (_, mut two) = hub.connect(None);
        hub.tick(first % 2, 2);
        assert_eq!(look(&mut one), Some(Received::Tick));
        assert_eq!(look(&mut two), None, "the other slice's turn is next");
        hub.tick((first + 1) % 2, 2);
        assert_eq!(look(&mut two), Some(Received::Tick));
        assert_eq!(look(&mut one), None, "once per round");
        hub.shut_down();
        assert_eq!(look(&mut one), Some(Received::Shutdown));
        assert_eq!(look(&mut two), Some(Received::Shutdown));
        let (_, mut late) = hub.connect(None);
        assert_eq!(
            look(&mut late),
            Some(Received::Shutdown),
            "told as it connects"
        );
    }

    #[test]
    fn the_lobby_flush_wakes_a_slice_of_the_sockets_at_a_time() {
        use std::sync::atomic::AtomicBool;
        use std::task::{Context, Wake, Waker};
        /// A waker that remembers it was woken.
        struct Flag(AtomicBool);
        impl Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let hub = Hub::new(16, Duration::from_secs(3600));
        let (first, mut one) = hub.connect(None);
        let (_, mut two) = hub.connect(None);
        let flags = [&mut one, &mut two].map(|receiver| {
            let flag = Arc::new(Flag(AtomicBool::new(false)));
            let waker = Waker::from(flag.clone());
            assert!(
                receiver
                    .poll_recv(&mut Context::from_waker(&waker))
                    .is_pending()
            );
            flag
        });
        let woken = |n: usize| flags[n].0.load(Ordering::SeqCst);
        hub.dispatched(&Envelope::new(domain::UsersOnlineUpdated {
            total: 0,
            users: Vec::new(),
        }));
        assert!(!woken(0) && !woken(1), "queued quietly");
        hub.flush_lobby_slice(first % 2, 2);
        assert!(woken(0) && !woken(1), "the first slice only");
        hub.flush_lobby_slice((first + 1) % 2, 2);
        assert!(woken(1), "then the next");
    }

    #[tokio::test]
    async fn lobby_frames_ride_along_or_wait_for_the_next_flush() {
        use domain::{OnlineUser, UsersOnlineUpdated};
        let settle = || async {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        };
        let hub = Hub::new(16, Duration::from_secs(3600));
        let (_, mut idle) = hub.connect(None);
        let (_, mut player) = hub.connect(Some(id(1)));
        hub.dispatched(&Envelope::new(GameCreated {
            game_id: id(9),
            creator: id(1),
            version: 1,
        }));
        assert!(player.try_recv().is_ok());
        let idle = tokio::spawn(async move { idle.recv_all().await });
        let player = tokio::spawn(async move { player.recv_all().await });
        settle().await;
        hub.dispatched(&Envelope::new(UsersOnlineUpdated {
            total: 1,
            users: vec![OnlineUser {
                user_id: id(1),
                alias: domain::Alias::parse("p1").unwrap(),
            }],
        }));
        settle().await;
        assert!(
            !idle.is_finished() && !player.is_finished(),
            "no socket woken"
        );
        hub.dispatched(&moved(2));
        let got = player.await.unwrap().unwrap();
        assert_eq!(got.len(), 2, "the lobby's frame with the move's");
        assert!(got[0].contains("UsersOnlineUpdated") && got[1].contains("MarkPlaced"));
        settle().await;
        assert!(!idle.is_finished());
        hub.flush_lobby();
        let got = idle.await.unwrap().unwrap();
        assert!(
            got.len() == 1 && got[0].contains("p1"),
            "woken by the flush"
        );
    }

    #[test]
    fn user_events_reach_every_tab_of_that_user() {
        let hub = Hub::new(16, Duration::ZERO);
        let (_, mut one) = hub.connect(Some(id(2)));
        let (_, mut two) = hub.connect(Some(id(2)));
        let (_, mut other) = hub.connect(Some(id(1)));
        hub.dispatched(&Envelope::new(UserInvited {
            inviter_id: id(1),
            invited_id: id(2),
            game_id: id(9),
        }));
        assert!(one.try_recv().is_ok() && two.try_recv().is_ok());
        assert!(other.try_recv().is_err());
    }

    #[test]
    fn a_full_queue_cuts_that_socket_off_and_nobody_else() {
        let hub = Hub::new(2, Duration::ZERO);
        let (_, mut slow) = hub.connect(Some(id(1)));
        let (_, mut fast) = hub.connect(Some(id(2)));
        created_and_joined(&hub);
        for version in 3..6 {
            hub.dispatched(&moved(version));
            while fast.try_recv().is_ok() {}
        }
        assert_eq!(hub.connections(), 1);
        // The slow socket gets what was queued, then its queue closes.
        assert!(slow.try_recv().is_ok() && slow.try_recv().is_ok());
        assert_eq!(slow.try_recv(), Err(queue::TryRecv::Closed));
    }

    #[test]
    fn resuming_replays_what_was_missed_or_asks_for_a_reload() {
        let hub = Hub::new(RECENT * 2, Duration::ZERO);
        hub.dispatched(&Envelope::new(GameCreated {
            game_id: id(9),
            creator: id(1),
            version: 1,
        }));
        for version in 2..=10 {
            hub.dispatched(&moved(version));
        }
        let (me, mut frames) = hub.connect(None);
        let Some(Resumed::Replay(missed)) = hub.resume(me, id(9), 7) else {
            panic!("expected a replay")
        };
        assert_eq!(missed.len(), 3);
        // Kept as the events, written out again as they were sent.
        let sent: Frame = moved(8).to_json_text().into();
        assert_eq!(missed[0], sent);
        assert_eq!(hub.resume(me, id(9), 10), Some(Resumed::Replay(vec![])));
        for version in 11..(RECENT as u64 + 20) {
            hub.dispatched(&moved(version));
        }
        // Following: the spectator received the live events too.
        assert!(frames.try_recv().unwrap().contains(r#""version":11"#));
        assert_eq!(hub.resume(me, id(9), 3), Some(Resumed::Reload));
        assert_eq!(hub.resume(me, id(8), 0), Some(Resumed::Unknown));
        // Seeded from the store at version 4: a client there is up to date.
        hub.seed([(id(8), vec![id(1)], 4)]);
        assert_eq!(hub.resume(me, id(8), 4), Some(Resumed::Replay(vec![])));
        assert_eq!(hub.resume(me, id(8), 3), Some(Resumed::Reload));
    }

    #[test]
    fn after_a_restart_a_resume_follows_from_now_without_a_reload_loop() {
        let hub = Hub::new(4, Duration::ZERO);
        hub.seed([(id(9), vec![id(1), id(2)], 12)]);
        let (me, _frames) = hub.connect(Some(id(1)));
        // The client loaded the game (version 12) before resuming: nothing
        // kept here is newer, so there is nothing to replay and no reload.
        assert_eq!(hub.resume(me, id(9), 12), Some(Resumed::Replay(vec![])));
    }

    #[test]
    fn after_a_restart_a_client_behind_the_game_is_told_to_reload() {
        let hub = Hub::new(4, Duration::ZERO);
        hub.seed([(id(9), vec![id(1), id(2)], 8)]);
        let (me, _frames) = hub.connect(Some(id(1)));
        // Versions 6 to 8 went out before the restart: none is kept here.
        assert_eq!(hub.resume(me, id(9), 5), Some(Resumed::Reload));
    }

    #[test]
    fn a_resume_does_not_repeat_what_the_socket_was_sent_live() {
        let hub = Hub::new(16, Duration::ZERO);
        hub.seed([(id(9), vec![id(1)], 4)]);
        let (me, mut frames) = hub.connect(Some(id(1)));
        hub.dispatched(&moved(5));
        hub.dispatched(&moved(6));
        // The resume from 4 is answered after 5 and 6 were queued live.
        assert_eq!(hub.resume(me, id(9), 4), Some(Resumed::Replay(vec![])));
        assert!(frames.try_recv().unwrap().contains(r#""version":5"#));
        // Another socket that saw nothing live gets both.
        let (other, _) = hub.connect(None);
        let Some(Resumed::Replay(missed)) = hub.resume(other, id(9), 4) else {
            panic!("expected a replay")
        };
        assert_eq!(missed.len(), 2);
    }

    #[test]
    fn games_nobody_here_shows_are_swept_once_idle() {
        let hub = Hub::new(16, Duration::ZERO);
        let (_, _alice) = hub.connect(Some(id(1)));
        for (game, player) in [(7, 1), (8, 2)] {
            hub.dispatched(&Envelope::new(GameCreated {
                game_id: id(game),
                creator: id(player),
                version: 1,
            }));
        }
        assert_eq!(hub.sweep(Duration::from_secs(60)), 0, "not idle yet");
        // Game 8's player has no socket here: it goes; Alice's stays.
        assert_eq!(hub.sweep(Duration::ZERO), 1);
        assert_eq!(hub.sweep(Duration::ZERO), 0);
    }

    #[test]
    fn a_version_that_overtook_an_earlier_one_waits_for_it() {
        let hub = Hub::new(16, Duration::ZERO);
        let (_, mut alice) = hub.connect(Some(id(1)));
        let game = |version| Incoming::Game {
            game: id(9),
            version,
            players: vec![id(1), id(2)],
            frame: Envelope::new(MarkPlaced {
                game_id: id(9),
                player_id: id(1),
                x: 0,
                y: 0,
                version,
            })
            .to_json_text()
            .into(),
        };
        hub.receive(game(5));
        hub.receive(game(7));
        hub.receive(game(7));
        assert!(alice.try_recv().unwrap().contains(r#""version":5"#));
        assert!(alice.try_recv().is_err(), "7 waits for 6");
        hub.receive(game(6));
        assert!(alice.try_recv().unwrap().contains(r#""version":6"#));
        assert!(alice.try_recv().unwrap().contains(r#""version":7"#));
        assert!(alice.try_recv().is_err(), "once each");
        // One whose predecessor never comes goes out after the patience.
        hub.receive(game(9));
        assert!(alice.try_recv().is_err());
        std::thread::sleep(HELD_PATIENCE);
        hub.flush_lobby();
        assert!(alice.try_recv().unwrap().contains(r#""version":9"#));
    }

    #[test]
    fn after_lost_events_a_resume_asks_the_store_once_not_forever() {
        let hub = Hub::new(16, Duration::ZERO);
        hub.seed([(id(9), vec![id(1)], 4)]);
        let (me, mut frames) = hub.connect(Some(id(1)));
        hub.resync(&[]);
        assert!(frames.try_recv().unwrap().contains("ReloadGame"));
        // The client reloaded (version 6 now) and resumes: the store says
        // where the game is, and then it is up to date, not told to reload
        // again and again.
        assert_eq!(hub.resume(me, id(9), 6), Some(Resumed::Unknown));
        hub.seed([(id(9), vec![id(1)], 6)]);
        assert_eq!(hub.resume(me, id(9), 6), Some(Resumed::Replay(vec![])));
    }

    #[test]
    fn a_socket_follows_a_bounded_number_of_games() {
        let hub = Hub::new(4, Duration::ZERO);
        let (me, _frames) = hub.connect(None);
        for game in 0..MAX_FOLLOWED as u128 {
            assert!(hub.resume(me, id(100 + game), 0).is_some());
        }
        assert_eq!(hub.resume(me, id(1), 0), None);
        // Resuming a game it follows already is always fine.
        assert!(hub.resume(me, id(100), 0).is_some());
    }
}
