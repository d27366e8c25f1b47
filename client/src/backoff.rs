//! Exponential backoff with jitter, and the random idempotency keys.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// 64 random bits from the standard library's per-process random hash keys, mixed with a counter
/// so that two calls never repeat.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// A fresh idempotency key for [`crate::Client::confirm`] (128 random bits, hex).
///
/// Keep the key with the sale until the confirm has an answer: retrying with the same key can never
/// sell twice, while a new key is a new sale.
pub fn new_idempotency_key() -> String {
    format!("cb-{:016x}{:016x}", random_u64(), random_u64())
}

/// The pause before retry number `attempt` (0 for the first retry): `initial_ms * 2^attempt`, capped
/// at `max_ms`, then "equal jitter" (a random point in the upper half) so that many kiosks that lost
/// the same node do not all come back in the same millisecond.
pub(crate) fn delay(attempt: u32, initial_ms: u64, max_ms: u64) -> Duration {
    let ceiling_ms = initial_ms
        .saturating_mul(1u64 << attempt.min(20))
        .min(max_ms)
        .max(1);
    let half_ms = ceiling_ms / 2;
    let jitter_ms = random_u64() % (ceiling_ms - half_ms + 1);
    Duration::from_millis(half_ms + jitter_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_and_is_capped() {
        for _ in 0..100 {
            let first = delay(0, 100, 1_000);
            assert!((50..=100).contains(&first.as_millis()), "{first:?}");
            let third = delay(2, 100, 1_000);
            assert!((200..=400).contains(&third.as_millis()), "{third:?}");
            let late = delay(30, 100, 1_000);
            assert!((500..=1_000).contains(&late.as_millis()), "{late:?}");
        }
    }

    #[test]
    fn idempotency_keys_differ() {
        let a = new_idempotency_key();
        let b = new_idempotency_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 32);
    }
}
