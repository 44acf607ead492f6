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
//! that comes sooner waits for [`Hub::flush_lobby`], and a later one of the
//! same type replaces it (each carries the whole current picture). A busy
//! site thus costs each socket a few lobby frames a second, not one per
//! player arriving.
//!
//! Each socket has a bounded queue. A client too slow to drain it is cut
//! off (its queue dropped, its socket closed) rather than slowing anyone.
//! The last [`RECENT`] public events of each game are kept so that a client
//! that reconnects can resume where it was.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use app::socket_frames::ServerFrame;
use bus::{Envelope, Hook, Kind};
use domain::audience::{Audience, audience, game_removed, joins_game};
use domain::{GameId, UserId};

use crate::queue::{self, Frame, Receiver, Sender};

/// Public events kept per game for resuming clients.
pub const RECENT: usize = 64;

/// Games one socket may follow besides its own (spectating, resuming).
pub const MAX_FOLLOWED: usize = 16;

/// One socket's id in the hub.
pub type ConnectionId = u64;

/// Where events go.
#[derive(Debug)]
pub struct Hub {
    routes: Mutex<Routes>,
    queue: usize,
    lobby_interval: Duration,
    next_id: AtomicU64,
}

#[derive(Debug, Default)]
struct Routes {
    connections: HashMap<ConnectionId, Connection>,
    /// Each user's sockets (a user has a tab or two: a short list).
    users: HashMap<UserId, Vec<ConnectionId>>,
    games: HashMap<GameId, GameRoute>,
    lobby: LobbyNews,
}

/// Lobby-wide events by type: when each last went out, and the latest one
/// held back.
#[derive(Debug, Default)]
struct LobbyNews {
    sent: HashMap<&'static str, Instant>,
    held: HashMap<&'static str, Frame>,
}

#[derive(Debug)]
struct Connection {
    user: Option<UserId>,
    frames: Sender,
    /// Games it follows besides its user's (at most [`MAX_FOLLOWED`]).
    followed: Vec<GameId>,
}

#[derive(Debug, Default)]
struct GameRoute {
    players: HashSet<UserId>,
    followers: HashSet<ConnectionId>,
    recent: VecDeque<(u64, Frame)>,
    /// The game's version when this process started (its events up to it
    /// were sent by an earlier one): what a client must have seen to be up
    /// to date while nothing newer is kept.
    started_at_version: u64,
}

/// What a resuming client gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Resumed {
    /// These frames, in order (possibly none: it is up to date).
    Replay(Vec<Frame>),
    /// Too old, or unknown here: reload the game's state.
    Reload,
}

impl Hub {
    /// A hub whose sockets each queue at most `queue` frames and get at
    /// most one lobby-wide event of each type per `lobby_interval`.
    pub fn new(queue: usize, lobby_interval: Duration) -> Self {
        Self {
            routes: Mutex::default(),
            queue: queue.max(1),
            lobby_interval,
            next_id: AtomicU64::new(1),
        }
    }

    fn routes(&self) -> MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a socket (of `user`, or anonymous); its frames come out of
    /// the receiver, which closes when the hub cuts it off.
    pub fn connect(&self, user: Option<UserId>) -> (ConnectionId, Receiver) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (frames, receiver) = queue::queue(self.queue);
        let mut routes = self.routes();
        routes.connections.insert(
            id,
            Connection {
                user,
                frames,
                followed: Vec::new(),
            },
        );
        if let Some(user) = user {
            routes.users.entry(user).or_default().push(id);
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
        if !connection.followed.contains(&game) {
            if connection.followed.len() >= MAX_FOLLOWED {
                return None;
            }
            connection.followed.push(game);
        }
        let route = routes.games.entry(game).or_default();
        route.followers.insert(id);
        if !known {
            // Unknown here (older than this server, or no such game): the
            // socket follows it from now on, and reloads what came before.
            return Some(Resumed::Reload);
        }
        let oldest = route.recent.front().map(|(version, _)| *version);
        Some(match oldest {
            Some(oldest) if oldest <= version + 1 => Resumed::Replay(
                route
                    .recent
                    .iter()
                    .filter(|(seen, _)| *seen > version)
                    .map(|(_, frame)| frame.clone())
                    .collect(),
            ),
            // Nothing kept (no event since this process started): up to
            // date if the client saw the version the game had at start,
            // else what it missed went out before a restart: reload.
            None if version >= route.started_at_version => Resumed::Replay(Vec::new()),
            None | Some(_) => Resumed::Reload,
        })
    }

    /// Sends the lobby-wide events held back (call it every lobby interval).
    pub fn flush_lobby(&self) {
        let mut routes = self.routes();
        let now = Instant::now();
        let held: Vec<(&'static str, Frame)> = routes.lobby.held.drain().collect();
        for (kind, frame) in held {
            routes.lobby.sent.insert(kind, now);
            routes.deliver_to_all(&frame);
        }
    }

    /// How often [`Hub::flush_lobby`] should run.
    pub fn lobby_interval(&self) -> Duration {
        self.lobby_interval
    }

    fn route(&self, event: &Envelope) {
        let target = audience(event);
        if target == Audience::Nobody && game_removed(event).is_none() {
            return;
        }
        let frame: Frame = event.to_json_text().into();
        let mut routes = self.routes();
        if let Some((game, player)) = joins_game(event) {
            routes.games.entry(game).or_default().players.insert(player);
        }
        match target {
            Audience::Nobody => {}
            Audience::Everyone => {
                let now = Instant::now();
                let kind = event.type_name();
                let recent = routes
                    .lobby
                    .sent
                    .get(kind)
                    .is_some_and(|sent| now.duration_since(*sent) < self.lobby_interval);
                if recent {
                    routes.lobby.held.insert(kind, frame);
                } else {
                    routes.lobby.sent.insert(kind, now);
                    routes.lobby.held.remove(kind);
                    routes.deliver_to_all(&frame);
                }
            }
            Audience::User(user) => {
                let sockets: Vec<ConnectionId> = routes
                    .users
                    .get(&user)
                    .into_iter()
                    .flatten()
                    .copied()
                    .collect();
                routes.deliver(&sockets, &frame);
            }
            Audience::Game { game_id, version } => {
                let route = routes.games.entry(game_id).or_default();
                if route
                    .recent
                    .back()
                    .is_some_and(|(last, _)| *last >= version)
                {
                    // Sent already (republished after a restart): once is enough.
                    return;
                }
                route.recent.push_back((version, frame.clone()));
                if route.recent.len() > RECENT {
                    route.recent.pop_front();
                }
                let mut sockets: HashSet<ConnectionId> = route.followers.clone();
                let players: Vec<UserId> = route.players.iter().copied().collect();
                for player in players {
                    sockets.extend(routes.users.get(&player).into_iter().flatten());
                }
                let sockets: Vec<ConnectionId> = sockets.into_iter().collect();
                routes.deliver(&sockets, &frame);
            }
        }
        if let Some(game) = game_removed(event) {
            routes.games.remove(&game);
        }
    }
}

impl Routes {
    fn deliver_to_all(&mut self, frame: &Frame) {
        let all: Vec<ConnectionId> = self.connections.keys().copied().collect();
        self.deliver(&all, frame);
    }

    /// Queues `frame` for each socket; cuts off those whose queue is full.
    fn deliver(&mut self, sockets: &[ConnectionId], frame: &Frame) {
        let mut too_slow = Vec::new();
        for id in sockets {
            if let Some(connection) = self.connections.get(id)
                && connection.frames.try_send(frame.clone()).is_err()
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

    fn remove(&mut self, id: ConnectionId) {
        let Some(connection) = self.connections.remove(&id) else {
            return;
        };
        if let Some(user) = connection.user
            && let Some(sockets) = self.users.get_mut(&user)
        {
            sockets.retain(|socket| *socket != id);
            if sockets.is_empty() {
                self.users.remove(&user);
            }
        }
        for game in connection.followed {
            if let Some(route) = self.games.get_mut(&game) {
                route.followers.remove(&id);
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
        assert!(missed[0].contains(r#""version":8"#));
        assert_eq!(hub.resume(me, id(9), 10), Some(Resumed::Replay(vec![])));
        for version in 11..(RECENT as u64 + 20) {
            hub.dispatched(&moved(version));
        }
        // Following: the spectator received the live events too.
        assert!(frames.try_recv().unwrap().contains(r#""version":11"#));
        assert_eq!(hub.resume(me, id(9), 3), Some(Resumed::Reload));
        assert_eq!(hub.resume(me, id(8), 0), Some(Resumed::Reload));
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
