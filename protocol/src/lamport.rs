//! Lamport clocks: every frame carries the sender's time; a receiver takes `max(local, received) + 1`.

use std::sync::atomic::{AtomicU64, Ordering};

/// A thread-safe Lamport clock.
#[derive(Debug, Default)]
pub struct LamportClock {
    now: AtomicU64,
}

impl LamportClock {
    /// A clock starting at `start`.
    pub fn new(start: u64) -> Self {
        Self {
            now: AtomicU64::new(start),
        }
    }

    /// The current time, without advancing.
    pub fn now(&self) -> u64 {
        self.now.load(Ordering::Acquire)
    }

    /// A local event (such as sending a frame): advance by one and return the new time.
    /// Saturates at `u64::MAX` (PROTOCOL.md 12 rule 3): it never wraps to 0.
    pub fn tick(&self) -> u64 {
        let previous = self
            .now
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(1))
            })
            .unwrap_or_else(|t| t);
        previous.saturating_add(1)
    }

    /// Like [`LamportClock::observe`], but a `received` time more than `ahead_max` ahead of the
    /// clock is not applied: `None`, the clock unchanged. A peer cannot push the clock to the end
    /// of its range with one frame.
    pub fn observe_within(&self, received: u64, ahead_max: u64) -> Option<u64> {
        let mut current = self.now.load(Ordering::Acquire);
        loop {
            if received > current.saturating_add(ahead_max) {
                return None;
            }
            let next = current.max(received).saturating_add(1);
            match self
                .now
                .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(next),
                Err(actual) => current = actual,
            }
        }
    }

    /// A frame arrived carrying `received`: set the clock to `max(local, received) + 1` and return it.
    pub fn observe(&self, received: u64) -> u64 {
        let mut current = self.now.load(Ordering::Acquire);
        loop {
            let next = current.max(received).saturating_add(1);
            match self
                .now
                .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return next,
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observe_takes_max_plus_one() {
        let clock = LamportClock::new(5);
        assert_eq!(clock.observe(3), 6);
        assert_eq!(clock.observe(10), 11);
        assert_eq!(clock.tick(), 12);
        assert_eq!(clock.now(), 12);
    }

    #[test]
    fn tick_and_observe_saturate_instead_of_wrapping() {
        let clock = LamportClock::new(u64::MAX - 1);
        assert_eq!(clock.tick(), u64::MAX);
        assert_eq!(clock.tick(), u64::MAX);
        assert_eq!(clock.now(), u64::MAX);
        assert_eq!(clock.observe(u64::MAX), u64::MAX);
        assert_eq!(clock.now(), u64::MAX);
    }

    #[test]
    fn observe_within_refuses_a_time_too_far_ahead() {
        let clock = LamportClock::new(100);
        assert_eq!(clock.observe_within(u64::MAX, 1_000), None);
        assert_eq!(clock.now(), 100);
        assert_eq!(clock.observe_within(1_100, 1_000), Some(1_101));
        assert_eq!(clock.observe_within(5, 1_000), Some(1_102));
    }
}
