//! [`ExpiredHolds`]: the ids of the holds that expired most recently, so that `Renew`, `Release`
//! and `Confirm` of a hold the sweeper already removed answer `HoldExpired` (hold again) rather
//! than `NotFound` (no such hold), the same answer they give before the sweep.

use std::collections::{HashSet, VecDeque};

/// How many expired hold ids a node remembers. An older expiry, or one from before a restart or
/// a failover, is answered `NotFound` like a hold that never existed (PROTOCOL.md §8).
pub const EXPIRED_HOLDS_REMEMBERED_MAX: usize = 65_536;

/// A bounded first-in-first-out set of hold ids.
#[derive(Debug, Default)]
pub struct ExpiredHolds {
    ids: HashSet<u64>,
    order: VecDeque<u64>,
}

impl ExpiredHolds {
    /// Remembers that `hold_id` expired, forgetting the oldest beyond the bound.
    pub fn insert(&mut self, hold_id: u64) {
        if !self.ids.insert(hold_id) {
            return;
        }
        self.order.push_back(hold_id);
        while self.order.len() > EXPIRED_HOLDS_REMEMBERED_MAX {
            if let Some(oldest) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
        debug_assert_eq!(self.ids.len(), self.order.len());
    }

    /// Whether `hold_id` is among the remembered expiries.
    pub fn contains(&self, hold_id: u64) -> bool {
        self.ids.contains(&hold_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_up_to_the_bound_and_forgets_the_oldest_first() {
        let mut expired = ExpiredHolds::default();
        for id in 0..EXPIRED_HOLDS_REMEMBERED_MAX as u64 + 2 {
            expired.insert(id);
        }
        expired.insert(5);
        assert!(!expired.contains(0));
        assert!(!expired.contains(1));
        assert!(expired.contains(2));
        assert!(expired.contains(EXPIRED_HOLDS_REMEMBERED_MAX as u64 + 1));
        assert_eq!(expired.order.len(), EXPIRED_HOLDS_REMEMBERED_MAX);
    }
}
