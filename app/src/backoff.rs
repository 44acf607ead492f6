//! Reconnection delays: exponential, capped, with jitter so that a thousand
//! browsers cut off by one server restart do not all come back at once.

/// Delays between reconnection attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    attempt: u32,
    base_ms: u32,
    max_ms: u32,
}

impl Backoff {
    /// Starts at `base_ms`, doubles per failed attempt, never above `max_ms`.
    pub const fn new(base_ms: u32, max_ms: u32) -> Self {
        Self {
            attempt: 0,
            base_ms,
            max_ms,
        }
    }

    /// How many attempts have failed since the last success.
    pub const fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt, counting this one as failed.
    ///
    /// `jitter` is a random number in `[0, 1)`; the delay lands between half
    /// and all of the exponential step ("equal jitter").
    pub fn next_delay_ms(&mut self, jitter: f64) -> u32 {
        let step = self
            .base_ms
            .saturating_mul(1u32.checked_shl(self.attempt).unwrap_or(u32::MAX))
            .min(self.max_ms);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = jitter.clamp(0.0, 1.0);
        let half = f64::from(step) / 2.0;
        (half + half * jitter) as u32
    }

    /// A connection succeeded: the next failure starts from `base_ms` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let mut backoff = Backoff::new(500, 4_000);
        let delays: Vec<u32> = (0..6).map(|_| backoff.next_delay_ms(1.0)).collect();
        assert_eq!(delays, [500, 1_000, 2_000, 4_000, 4_000, 4_000]);
        assert_eq!(backoff.attempt(), 6);
    }

    #[test]
    fn jitter_stays_between_half_and_full_step() {
        let mut backoff = Backoff::new(1_000, 10_000);
        assert_eq!(backoff.next_delay_ms(0.0), 500);
        assert_eq!(backoff.next_delay_ms(0.5), 1_500);
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::new(500, 10_000);
        for _ in 0..5 {
            backoff.next_delay_ms(1.0);
        }
        backoff.reset();
        assert_eq!(backoff.next_delay_ms(1.0), 500);
    }

    #[test]
    fn many_failures_neither_overflow_nor_pass_the_cap() {
        let mut backoff = Backoff::new(3_000, 10_000);
        let last = (0..100).map(|_| backoff.next_delay_ms(1.0)).last();
        assert_eq!(last, Some(10_000));
        let mut huge = Backoff::new(u32::MAX / 2, u32::MAX);
        let last = (0..100).map(|_| huge.next_delay_ms(1.0)).last();
        assert_eq!(last, Some(u32::MAX));
    }
}
