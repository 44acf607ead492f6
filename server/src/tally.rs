//! Counts per key under a cap, forgetting a key whose count is back to
//! none: what the connection caps keep per address and the socket caps
//! per user or address.

use std::collections::HashMap;
use std::hash::Hash;

/// How many each key holds.
#[derive(Debug)]
pub(crate) struct Tally<K>(HashMap<K, u32>);

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<K: Eq + Hash> Tally<K> {
    /// One more for `key`, unless it holds `cap` already (`None`: no cap).
    pub(crate) fn take(&mut self, key: K, cap: Option<u32>) -> bool {
        let count = self.0.entry(key).or_default();
        if cap.is_some_and(|cap| *count >= cap) {
            return false;
        }
        *count += 1;
        true
    }

    /// One fewer for `key`.
    pub(crate) fn release(&mut self, key: &K) {
        if let Some(count) = self.0.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                self.0.remove(key);
            }
        }
    }

    /// Whether no key holds anything.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
