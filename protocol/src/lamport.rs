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
    pub fn tick(&self) -> u64 {
        self.now.fetch_add(1, Ordering::AcqRel).saturating_add(1)
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
}
