//! The per-address hold limit: at most `holds_per_address_max` holds per client address in any
//! `holds_per_address_window_ms`, so one script cannot hold a whole hall. Kept per process:
//! behind N replicas an address may place up to N times the limit.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use parking_lot::Mutex;

/// Addresses remembered at most; beyond this the oldest-seen entries are dropped first.
pub const ADDRESSES_MAX: usize = 100_000;

/// Counts holds per address in a sliding window.
#[derive(Debug)]
pub struct HoldLimiter {
    max: u32,
    window_ms: u64,
    seen: Mutex<HashMap<IpAddr, VecDeque<u64>>>,
}

impl HoldLimiter {
    /// A limiter of `max` holds per `window_ms`.
    pub fn new(max: u32, window_ms: u64) -> HoldLimiter {
        HoldLimiter {
            max,
            window_ms,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records a hold by `addr` at `now_ms` if within the limit; `false` when over it.
    pub fn admit(&self, addr: IpAddr, now_ms: u64) -> bool {
        let mut seen = self.seen.lock();
        if seen.len() >= ADDRESSES_MAX && !seen.contains_key(&addr) {
            let cutoff = now_ms.saturating_sub(self.window_ms);
            seen.retain(|_, times| times.back().is_some_and(|t| *t > cutoff));
            if seen.len() >= ADDRESSES_MAX {
                return false;
            }
        }
        let times = seen.entry(addr).or_default();
        while times.front().is_some_and(|t| *t + self.window_ms <= now_ms) {
            times.pop_front();
        }
        if times.len() >= self.max as usize {
            return false;
        }
        times.push_back(now_ms);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_per_window_and_per_address() {
        let limiter = HoldLimiter::new(2, 1_000);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        assert!(limiter.admit(a, 0));
        assert!(limiter.admit(a, 10));
        assert!(!limiter.admit(a, 20));
        assert!(limiter.admit(b, 20));
        assert!(limiter.admit(a, 1_000));
        assert!(!limiter.admit(a, 1_001));
    }
}
