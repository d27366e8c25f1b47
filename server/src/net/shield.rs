//! What one node remembers about its clients to keep a few of them from taking it down: open
//! connections per source address, guest connections, failed `Hello`s per address (with a
//! growing backoff), wrong token hashes, and when each address was last warned about.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ConnectionLimits;

/// Failed `Hello`s of one address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// Shared by a node's accept loop and its connections.
#[derive(Debug)]
pub struct Shield {
    limits: ConnectionLimits,
    guests: Arc<Semaphore>,
    /// `guest_reads_running_max` slots shared by every guest connection.
    guest_reads: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
    wrong_tokens: Mutex<HashMap<String, Instant>>,
    warned: Mutex<HashMap<IpAddr, Instant>>,
}

/// One admitted connection of an address; dropping it frees the place.
#[derive(Debug)]
pub struct AddressPermit {
    shield: Arc<Shield>,
    ip: IpAddr,
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut open = self.shield.per_address.lock();
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Drops the entries of `map` that `stale` says are old when it is full; whether there is room.
fn make_room<K, V>(map: &mut HashMap<K, V>, max: usize, stale: impl Fn(&V) -> bool) -> bool {
    if map.len() >= max {
        map.retain(|_, v| !stale(v));
    }
    map.len() < max
}

impl Shield {
    /// Nothing remembered yet.
    pub fn new(limits: ConnectionLimits) -> Self {
        Self {
            guests: Arc::new(Semaphore::new(limits.guest_connections_max)),
            guest_reads: Arc::new(Semaphore::new(limits.guest_reads_running_max.max(1))),
            limits,
            per_address: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            wrong_tokens: Mutex::new(HashMap::new()),
            warned: Mutex::new(HashMap::new()),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    /// A place for one more connection from `ip`, unless it has `connections_per_address_max`.
    pub fn admit_address(self: &Arc<Self>, ip: IpAddr) -> Option<AddressPermit> {
        let mut open = self.per_address.lock();
        let n = open.entry(ip).or_insert(0);
        if *n >= self.limits.connections_per_address_max {
            return None;
        }
        *n += 1;
        Some(AddressPermit {
            shield: self.clone(),
            ip,
        })
    }

    /// A guest place, unless `guest_connections_max` guests are connected.
    pub fn admit_guest(&self) -> Option<OwnedSemaphorePermit> {
        self.guests.clone().try_acquire_owned().ok()
    }

    /// The node-wide read slots every guest's read requests share (`guest_reads_running_max`).
    pub fn guest_reads(&self) -> Arc<Semaphore> {
        self.guest_reads.clone()
    }

    /// How much longer `ip` is backed off, if it is.
    pub fn backed_off(&self, ip: IpAddr) -> Option<Duration> {
        let failures = self.failures.lock();
        let until = failures.get(&ip)?.blocked_until?;
        until.checked_duration_since(Instant::now())
    }

    /// Whether this token hash was refused a moment ago (within `auth_negative_cache_ms`).
    pub fn known_wrong(&self, token_sha256: &str) -> bool {
        let ttl = Duration::from_millis(self.limits.auth_negative_cache_ms);
        self.wrong_tokens
            .lock()
            .get(token_sha256)
            .is_some_and(|at| at.elapsed() < ttl)
    }

    /// A `Hello` from `ip` failed; `Some(backoff)` when this failure (re)starts a backoff.
    pub fn failed(&self, ip: IpAddr, token_sha256: Option<&str>) -> Option<Duration> {
        let limits = &self.limits;
        let now = Instant::now();
        if let Some(hash) = token_sha256 {
            let ttl = Duration::from_millis(limits.auth_negative_cache_ms);
            let mut wrong = self.wrong_tokens.lock();
            if make_room(&mut wrong, limits.auth_memory_entries_max, |at| {
                at.elapsed() >= ttl
            }) {
                wrong.insert(hash.to_owned(), now);
            }
        }
        let window = Duration::from_millis(limits.auth_failure_window_ms);
        let mut failures = self.failures.lock();
        if !make_room(&mut failures, limits.auth_memory_entries_max, |f| {
            f.last.elapsed() >= window
        }) && !failures.contains_key(&ip)
        {
            return None;
        }
        let entry = failures.entry(ip).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: None,
        });
        if entry.last.elapsed() >= window {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        let over = entry
            .count
            .checked_sub(limits.auth_failures_before_backoff)?;
        let backoff = Duration::from_millis(
            limits
                .auth_backoff_ms
                .saturating_mul(1u64 << over.min(20))
                .min(limits.auth_backoff_max_ms),
        );
        entry.blocked_until = Some(now + backoff);
        Some(backoff)
    }

    /// A `Hello` from `ip` succeeded with a token: its failures are forgotten.
    pub fn succeeded(&self, ip: IpAddr) {
        self.failures.lock().remove(&ip);
    }

    /// Whether a warning about `ip` may be logged now (at most one per
    /// `peer_warning_interval_ms`).
    pub fn may_warn(&self, ip: IpAddr) -> bool {
        let interval = Duration::from_millis(self.limits.peer_warning_interval_ms);
        let mut warned = self.warned.lock();
        if let Some(at) = warned.get(&ip) {
            if at.elapsed() < interval {
                return false;
            }
        }
        if make_room(&mut warned, self.limits.auth_memory_entries_max, |at| {
            at.elapsed() >= interval
        }) {
            warned.insert(ip, Instant::now());
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> IpAddr {
        IpAddr::from([10, 0, 0, 1])
    }

    #[test]
    fn backoff_starts_after_the_allowed_failures_and_doubles() {
        let limits = ConnectionLimits {
            auth_failures_before_backoff: 2,
            auth_backoff_ms: 100,
            auth_backoff_max_ms: 350,
            ..ConnectionLimits::default()
        };
        let shield = Shield::new(limits);
        assert_eq!(shield.failed(ip(), Some("a")), None);
        assert!(shield.backed_off(ip()).is_none());
        // The second failure is the last one allowed: it starts the backoff.
        assert_eq!(
            shield.failed(ip(), Some("b")),
            Some(Duration::from_millis(100))
        );
        assert_eq!(shield.failed(ip(), None), Some(Duration::from_millis(200)));
        assert_eq!(shield.failed(ip(), None), Some(Duration::from_millis(350)));
        assert!(shield.backed_off(ip()).is_some());
        assert!(shield.known_wrong("a") && !shield.known_wrong("c"));
        shield.succeeded(ip());
        assert!(shield.backed_off(ip()).is_none());
    }

    #[test]
    fn address_places_are_counted_and_freed() {
        let shield = Arc::new(Shield::new(ConnectionLimits {
            connections_per_address_max: 1,
            ..ConnectionLimits::default()
        }));
        let first = shield.admit_address(ip()).expect("first");
        assert!(shield.admit_address(ip()).is_none());
        drop(first);
        assert!(shield.admit_address(ip()).is_some());
    }
}
