//! A game's route in the hub: its players and followers, and its recent
//! events kept for resuming clients. The hub holds one per game it knows,
//! in a hash table that holds up to twice the room its entries take, so
//! what few games use sits behind a pointer (docs/performance.md, "A
//! socket without a future of its own").

use std::collections::VecDeque;
use std::time::Instant;

use bus::Envelope;
use domain::UserId;
use foldhash::HashSet;
use smallvec::SmallVec;

use super::ConnectionId;
use crate::queue::Frame;

#[derive(Debug, Default)]
pub(super) struct GameRoute {
    pub(super) players: Players,
    pub(super) followers: Followers,
    pub(super) recent: VecDeque<(u64, Kept)>,
    /// The game's version when this process started (its events up to it
    /// were sent by an earlier one): what a client must have seen to be up
    /// to date while nothing newer is kept.
    pub(super) started_at_version: u64,
    /// Events may have been lost since the last one kept (NATS was away):
    /// until an event comes, a resume asks the store where the game is.
    pub(super) stale: bool,
    /// When its last event came, for [`Hub::sweep`].
    pub(super) touched: Option<Instant>,
    pub(super) held: Held,
}

/// A game's followers (spectators, sockets that resumed it): few games
/// have any, so a set of their own only then, behind one pointer (the
/// games' table holds a route per game: each word counts).
#[derive(Debug, Default)]
pub(super) struct Followers(Option<Box<HashSet<ConnectionId>>>);

impl Followers {
    pub(super) fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|set| set.is_empty())
    }

    pub(super) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |set| set.len())
    }

    pub(super) fn contains(&self, id: &ConnectionId) -> bool {
        self.0.as_ref().is_some_and(|set| set.contains(id))
    }

    pub(super) fn insert(&mut self, id: ConnectionId) {
        self.0.get_or_insert_default().insert(id);
    }

    pub(super) fn remove(&mut self, id: &ConnectionId) {
        if let Some(set) = &mut self.0 {
            set.remove(id);
            if set.is_empty() {
                self.0 = None;
            }
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &ConnectionId> {
        self.0.iter().flat_map(|set| set.iter())
    }
}

/// A game's events that came before an earlier version of theirs, by
/// version, and since when the first of them waits (see
/// [`HELD_PATIENCE`]); behind one pointer, only while some wait.
#[derive(Debug, Default)]
pub(super) struct Held(Option<Box<(std::collections::BTreeMap<u64, Kept>, Instant)>>);

impl Held {
    pub(super) fn contains(&self, version: u64) -> bool {
        self.0
            .as_ref()
            .is_some_and(|held| held.0.contains_key(&version))
    }

    pub(super) fn insert(&mut self, version: u64, kept: Kept) {
        let held = self
            .0
            .get_or_insert_with(|| Box::new((Default::default(), Instant::now())));
        held.0.insert(version, kept);
    }

    pub(super) fn remove(&mut self, version: u64) -> Option<Kept> {
        let held = self.0.as_mut()?;
        let kept = held.0.remove(&version);
        if held.0.is_empty() {
            self.0 = None;
        }
        kept
    }

    pub(super) fn waiting_since(&self) -> Option<Instant> {
        self.0.as_ref().map(|held| held.1)
    }

    pub(super) fn take(&mut self) -> std::collections::BTreeMap<u64, Kept> {
        self.0.take().map(|held| held.0).unwrap_or_default()
    }
}

/// A game's players: two, so a short list in place (a hash set was a
/// hundred bytes more a game).
#[derive(Debug, Default)]
pub(super) struct Players(pub(super) SmallVec<[UserId; 2]>);

impl Players {
    pub(super) fn insert(&mut self, player: UserId) {
        if !self.0.contains(&player) {
            self.0.push(player);
        }
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, UserId> {
        self.0.iter()
    }
}

impl Extend<UserId> for Players {
    fn extend<I: IntoIterator<Item = UserId>>(&mut self, players: I) {
        players.into_iter().for_each(|player| self.insert(player));
    }
}

impl<'a> IntoIterator for &'a Players {
    type Item = &'a UserId;
    type IntoIter = std::slice::Iter<'a, UserId>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A game's event kept for resuming clients: the event itself when this
/// node's bus dispatched it (a third of its text's size, and alive anyway
/// while the bus holds it), written out again on the rare resume that
/// replays it; the frame as it came from another node otherwise.
#[derive(Debug, Clone)]
pub(super) enum Kept {
    Event(Envelope),
    Frame(Box<Frame>),
}

impl Kept {
    /// `event` if there is one, else `frame`.
    pub(super) fn of(frame: &Frame, event: Option<&Envelope>) -> Self {
        match event {
            Some(event) => Self::Event(event.clone()),
            None => Self::Frame(Box::new(frame.clone())),
        }
    }

    /// The frame as sent.
    pub(super) fn frame(&self) -> Frame {
        match self {
            Self::Event(event) => event.to_json_text().into(),
            Self::Frame(frame) => Frame::clone(frame),
        }
    }
}
