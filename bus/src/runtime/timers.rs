//! The in-memory index of pending schedules: what is due next, and what is
//! pending under a key. The store holds the same schedules durably; this
//! index only makes "next due" and "cancel by key" cheap (both O(log n)).

use std::collections::BTreeMap;

use foldhash::HashMap;

use crate::effect::Envelope;
use crate::runtime::store::{ScheduleId, Scheduled};

/// One pending schedule, ready to fire.
#[derive(Debug, Clone)]
pub struct Timer {
    /// Its id in the store.
    pub id: ScheduleId,
    /// The key it was scheduled under.
    pub key: String,
    /// When the event is due.
    pub due_at_ms: u64,
    /// Period of update events, if any.
    pub updates_every_ms: Option<u64>,
    /// The event.
    pub event: Envelope,
}

impl Timer {
    /// The timer of a pending schedule, with its event decoded.
    pub fn of(scheduled: Scheduled, event: Envelope) -> Self {
        Self {
            id: scheduled.id,
            key: scheduled.key,
            due_at_ms: scheduled.due_at_ms,
            updates_every_ms: scheduled.updates_every_ms,
            event,
        }
    }
}

/// What became due.
#[derive(Debug)]
pub enum Fired {
    /// An update of a schedule that is still pending.
    Update {
        /// The schedule.
        timer: Timer,
        /// When this update was due.
        at_ms: u64,
    },
    /// The schedule itself: deliver its event.
    Due(Timer),
}

/// Ordered by (fire time, insertion sequence): equal times fire in the
/// order they were scheduled.
type Slot = (u64, u64);

/// Pending schedules by fire time and by key.
#[derive(Debug, Default)]
pub struct TimerIndex {
    /// Boxed: a cancel removes from the middle of a node, which shifts the
    /// entries after it; whole timers (about 150 bytes each) made that
    /// shift 2% of the server's CPU per move (each move cancels its turn's
    /// deadline), pointers make it a few bytes.
    by_time: BTreeMap<Slot, Box<Timer>>,
    by_key: HashMap<String, Vec<Slot>>,
    next_sequence: u64,
}

impl TimerIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many schedules are pending.
    pub fn len(&self) -> usize {
        self.by_time.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_time.is_empty()
    }

    /// When the next thing (update or event) is due.
    pub fn next_due(&self) -> Option<u64> {
        self.by_time.keys().next().map(|(at, _)| *at)
    }

    /// Adds a schedule made at `now_ms`.
    pub fn add(&mut self, timer: Timer, now_ms: u64) {
        let first_fire = match timer.updates_every_ms {
            Some(period) => now_ms.saturating_add(period).min(timer.due_at_ms),
            None => timer.due_at_ms,
        };
        self.insert(first_fire, timer);
    }

    fn insert(&mut self, at_ms: u64, timer: Timer) {
        let slot = (at_ms, self.next_sequence);
        self.next_sequence += 1;
        self.by_key.entry(timer.key.clone()).or_default().push(slot);
        self.by_time.insert(slot, Box::new(timer));
    }

    /// Drops every schedule under `key`; how many there were.
    pub fn cancel(&mut self, key: &str) -> usize {
        let slots = self.by_key.remove(key).unwrap_or_default();
        slots
            .iter()
            .filter(|slot| self.by_time.remove(slot).is_some())
            .count()
    }

    /// Takes the earliest entry if it is due at `now_ms`. A schedule with
    /// updates goes back in for its next update or its due time.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<Fired> {
        let (&slot, _) = self
            .by_time
            .iter()
            .next()
            .filter(|(slot, _)| slot.0 <= now_ms)?;
        let timer = *self.by_time.remove(&slot)?;
        self.forget_slot(&timer.key, slot);
        let at_ms = slot.0;
        if at_ms >= timer.due_at_ms {
            return Some(Fired::Due(timer));
        }
        let period = timer.updates_every_ms.unwrap_or(u64::MAX);
        let next = at_ms.saturating_add(period).min(timer.due_at_ms);
        self.insert(next, timer.clone());
        Some(Fired::Update { timer, at_ms })
    }

    fn forget_slot(&mut self, key: &str, slot: Slot) {
        if let Some(slots) = self.by_key.get_mut(key) {
            slots.retain(|other| *other != slot);
            if slots.is_empty() {
                self.by_key.remove(key);
            }
        }
    }
}
