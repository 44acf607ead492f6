//! Which states kept on disk only may be in the table: a Bloom filter of
//! their keys, so that a read of one that is not there (every game's end
//! loads its record, absent until then; every tenth game of a player its
//! next page of history) and the writer's check of its version skip the
//! table.
//!
//! Those lookups were a row read on the reader's connection and another
//! on the writer's, each a read transaction over the WAL (its locks, the
//! pages read back from the log the fold writes): 2.7% of the server's
//! samples at 1,000 games (docs/performance.md, "Absent records known
//! absent").
//!
//! A filter says "absent" only for a key never inserted; "may be there"
//! for the rest (about one in a hundred absent keys as well), which the
//! table then answers. So every key of the table goes in when the store
//! opens, and every state the writer journals goes in before a read can
//! miss it in [`Unwritten`](super::journal::Unwritten) (which forgets a
//! state only once a fold has written it to the table). A key removed
//! stays in: a filter cannot forget, and "may be there" is always safe.
//! (So a row another process adds to the file behind the store's back
//! goes unseen; the store is the file's one writer, as it is the
//! journal's.)
//!
//! Full, a filter is joined by one twice its size (a scalable Bloom
//! filter), so the false positives stay near one in a hundred however
//! many records a site keeps.

use bus::StateKey;
use fastbloom::BloomFilter;

/// Keys the first filter is sized for (about 77 KB); each next one holds
/// twice as many as the one before.
const FIRST_CAPACITY: usize = 64 * 1024;

/// The false positive rate each filter is sized for.
const FALSE_POSITIVES: f64 = 0.01;

/// The keys of the states kept on disk only that may be in the table.
#[derive(Debug)]
pub(crate) struct OnDiskKeys {
    /// Each full at its capacity but the last.
    filters: Vec<Filter>,
}

#[derive(Debug)]
struct Filter {
    bloom: BloomFilter,
    capacity: usize,
    len: usize,
}

impl Filter {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            bloom: BloomFilter::with_false_pos(FALSE_POSITIVES).expected_items(capacity),
            capacity,
            len: 0,
        }
    }
}

impl OnDiskKeys {
    /// A filter that knows every key the table holds: `keys`, by type and
    /// id.
    pub(crate) fn seeded<'a>(keys: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut known = Self {
            filters: vec![Filter::with_capacity(FIRST_CAPACITY)],
        };
        for (state_type, id) in keys {
            known.insert(state_type, id);
        }
        known
    }

    /// The state may be in the table (or was once): `false` only for a
    /// key never inserted.
    pub(crate) fn may_hold(&self, key: &StateKey) -> bool {
        self.holds(&(key.state_type, key.id.as_str()))
    }

    fn holds(&self, item: &(&str, &str)) -> bool {
        self.filters
            .iter()
            .any(|filter| filter.bloom.contains(item))
    }

    /// The state is about to be in the table.
    pub(crate) fn insert(&mut self, state_type: &str, id: &str) {
        let item = (state_type, id);
        if self.holds(&item) {
            return;
        }
        let filters = &mut self.filters;
        let last = match filters.last_mut() {
            Some(last) if last.len < last.capacity => last,
            full => {
                let capacity = full.map_or(FIRST_CAPACITY, |full| full.capacity * 2);
                filters.push(Filter::with_capacity(capacity));
                filters.last_mut().expect("just pushed")
            }
        };
        last.bloom.insert(&item);
        last.len += 1;
    }

    /// How many filters there are (tests).
    #[cfg(test)]
    fn filters(&self) -> usize {
        self.filters.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> StateKey {
        StateKey {
            state_type: "GameRecord",
            id: id.to_owned(),
        }
    }

    #[test]
    fn seeded_a_key_of_the_table_or_inserted_may_be_there_and_most_others_not() {
        let mut keys = OnDiskKeys::seeded([("GameRecord", "in the table")]);
        keys.insert("GameRecord", "journaled");
        assert!(keys.may_hold(&key("in the table")));
        assert!(keys.may_hold(&key("journaled")));
        // Another type with the same id is another key.
        let history = StateKey {
            state_type: "HistoryPage",
            id: "journaled".to_owned(),
        };
        let others = (0..10_000)
            .map(|n| key(&format!("absent {n}")))
            .chain([history])
            .filter(|absent| keys.may_hold(absent))
            .count();
        assert!(others < 300, "{others} of 10,001 absent keys may be there");
    }

    #[test]
    fn full_it_grows_and_keeps_every_key_and_its_false_positives_low() {
        let mut keys = OnDiskKeys::seeded([]);
        // Past the first two (a key a filter thinks it holds already is
        // not inserted again, so a little more than their capacity).
        let many = FIRST_CAPACITY * 3 + 5_000;
        for n in 0..many {
            keys.insert("GameRecord", &n.to_string());
        }
        assert_eq!(keys.filters(), 3, "64 Ki, then 128 Ki, then 256 Ki keys");
        assert!((0..many).all(|n| keys.may_hold(&key(&n.to_string()))));
        let absent = (0..10_000)
            .filter(|n| keys.may_hold(&key(&format!("absent {n}"))))
            .count();
        assert!(absent < 400, "{absent} of 10,000 absent keys may be there");
    }
}
