//! The leader's record of what its followers acknowledged (`ReplicaAck`), and the two rules
//! built on it:
//!
//! - **Lease**: the leader grants holds only while it confirmed its leadership within
//!   `leader_lease_ms`: a follower acknowledged its stream, or its lease in the store was
//!   renewed (sent) that recently. While either holds nobody else can lead: followers elect only
//!   after `leader_timeout_ms` of silence, and a claim loses over a live stored lease. A paused
//!   leader resumes with neither and grants nothing until it learns whether it still leads.
//! - **Replicated holds**: a hold (or renewal) is answered only once every caught-up follower
//!   that acknowledged within the lease (and a node being handed over to) acknowledged the
//!   show's sequence number, so whichever of them leads next has the cart. A follower silent
//!   for longer is not waited for: it cannot lead while the stored lease lives.
//!
//! A hand-over (`ReplicaAck{taking_over}`) stops the leader granting holds until the new leader
//! announces itself, or `handover_timeout_ms` passes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cinebook_protocol::cluster::ShowPosition;
use cinebook_protocol::types::ShowId;
use parking_lot::Mutex;
use tokio::sync::Notify;

#[derive(Debug, Default)]
struct Follower {
    /// Open `Follow` streams to it (0: not following us now).
    streams: u32,
    /// When it last acknowledged on a stream that is open.
    last_ack: Option<Instant>,
    /// Acknowledged positions of the current streams.
    positions: HashMap<ShowId, u64>,
}

impl Follower {
    fn caught_up(&self) -> bool {
        self.streams > 0 && self.last_ack.is_some()
    }

    fn acked_within(&self, lease: Duration) -> bool {
        self.caught_up() && self.last_ack.is_some_and(|t| t.elapsed() < lease)
    }
}

#[derive(Debug, Default)]
struct Inner {
    followers: HashMap<u32, Follower>,
    /// Handing over to this node until this instant.
    handover: Option<(u32, Instant)>,
    /// When the last successful renewal of the stored lease was sent.
    store_renewed: Option<Instant>,
}

impl Inner {
    fn handing_over(&mut self) -> Option<u32> {
        match self.handover {
            Some((to, until)) if Instant::now() < until => Some(to),
            Some(_) => {
                self.handover = None;
                None
            }
            None => None,
        }
    }
}

/// What the followers acknowledged.
#[derive(Debug, Default)]
pub struct Acks {
    inner: Mutex<Inner>,
    changed: Notify,
}

/// Why a hold is not granted or not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReplicated {
    /// No follower acknowledged within the lease.
    NoLease,
    /// Handing over to this node.
    HandingOver(u32),
    /// Not every follower acknowledged within the timeout.
    Timeout(Vec<u32>),
}

impl std::fmt::Display for NotReplicated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReplicated::NoLease => {
                write!(f, "no follower acknowledged within the leader lease; retry")
            }
            NotReplicated::HandingOver(to) => write!(f, "handing over to node {to}; retry"),
            NotReplicated::Timeout(missing) => write!(
                f,
                "held, but not yet acknowledged by node(s) {missing:?}; retry with the same key"
            ),
        }
    }
}

/// Ends a stream's registration when dropped.
#[derive(Debug)]
pub struct StreamGuard<'a> {
    acks: &'a Acks,
    follower: u32,
}

impl Drop for StreamGuard<'_> {
    fn drop(&mut self) {
        let mut inner = self.acks.inner.lock();
        if let Some(f) = inner.followers.get_mut(&self.follower) {
            f.streams = f.streams.saturating_sub(1);
            if f.streams == 0 {
                f.last_ack = None;
                f.positions.clear();
            }
        }
        drop(inner);
        self.acks.changed.notify_waiters();
    }
}

impl Acks {
    /// A `Follow` stream to `follower` starts; it counts once it acknowledges.
    pub fn stream_started(&self, follower: u32) -> StreamGuard<'_> {
        let mut inner = self.inner.lock();
        let f = inner.followers.entry(follower).or_default();
        f.streams += 1;
        StreamGuard {
            acks: self,
            follower,
        }
    }

    /// `follower` acknowledged `positions`. Ignored unless it has a stream open.
    pub fn record(&self, follower: u32, positions: &[ShowPosition]) {
        let mut inner = self.inner.lock();
        if let Some(f) = inner.followers.get_mut(&follower).filter(|f| f.streams > 0) {
            f.last_ack = Some(Instant::now());
            for p in positions {
                let seq = f.positions.entry(p.show_id).or_insert(0);
                *seq = (*seq).max(p.seq);
            }
        }
        drop(inner);
        self.changed.notify_waiters();
    }

    /// Stop granting: hand over to `to` (a higher node) for at most `timeout`.
    pub fn begin_handover(&self, to: u32, timeout: Duration) {
        self.inner.lock().handover = Some((to, Instant::now() + timeout));
        self.changed.notify_waiters();
    }

    /// A hand-over that could not be made: grant again (the lease is untouched).
    pub fn cancel_handover(&self) {
        self.inner.lock().handover = None;
        self.changed.notify_waiters();
    }

    /// Forget a hand-over and the stored lease (this node took over, or stepped down).
    pub fn clear_handover(&self) {
        let mut inner = self.inner.lock();
        inner.handover = None;
        inner.store_renewed = None;
    }

    /// A renewal of the stored lease, sent at `sent`, succeeded.
    pub fn store_renewed(&self, sent: Instant) {
        let mut inner = self.inner.lock();
        if inner.store_renewed.is_none_or(|t| t < sent) {
            inner.store_renewed = Some(sent);
        }
    }

    /// Whether a hold may be granted now.
    pub fn may_grant(&self, lease: Duration) -> Result<(), NotReplicated> {
        let mut inner = self.inner.lock();
        if let Some(to) = inner.handing_over() {
            return Err(NotReplicated::HandingOver(to));
        }
        let acked = inner.followers.values().any(|f| f.acked_within(lease));
        let stored = inner.store_renewed.is_some_and(|t| t.elapsed() < lease);
        if acked || stored {
            Ok(())
        } else {
            Err(NotReplicated::NoLease)
        }
    }

    /// Whether a follower acknowledged within `lease`.
    pub fn followers_ack(&self, lease: Duration) -> bool {
        self.inner
            .lock()
            .followers
            .values()
            .any(|f| f.acked_within(lease))
    }

    /// The nodes that have not acknowledged `seq` of `show_id` yet, of those that must.
    fn missing(&self, show_id: ShowId, seq: u64, lease: Duration) -> Vec<u32> {
        let mut inner = self.inner.lock();
        let target = inner.handing_over();
        let mut missing: Vec<u32> = inner
            .followers
            .iter()
            .filter(|(id, f)| f.acked_within(lease) || Some(**id) == target)
            .filter(|(_, f)| f.positions.get(&show_id).copied().unwrap_or(0) < seq)
            .map(|(id, _)| *id)
            .collect();
        if let Some(to) = target {
            if !inner.followers.contains_key(&to) {
                missing.push(to);
            }
        }
        missing
    }

    /// Waits (at most `timeout`) until every node that must has acknowledged `seq` of `show_id`.
    pub async fn replicated(
        &self,
        show_id: ShowId,
        seq: u64,
        timeout: Duration,
        lease: Duration,
    ) -> Result<(), NotReplicated> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let missing = self.missing(show_id, seq, lease);
            if missing.is_empty() {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(NotReplicated::Timeout(missing));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(show_id: ShowId, seq: u64) -> Vec<ShowPosition> {
        vec![ShowPosition { show_id, seq }]
    }

    #[tokio::test]
    async fn a_hold_waits_for_every_caught_up_follower() {
        let acks = Acks::default();
        let lease = Duration::from_millis(300);
        assert_eq!(acks.may_grant(lease), Err(NotReplicated::NoLease));
        let one = acks.stream_started(1);
        let _two = acks.stream_started(2);
        acks.record(1, &at(7, 5));
        assert_eq!(acks.may_grant(lease), Ok(()));
        acks.record(2, &at(7, 3));
        let wait = Duration::from_millis(50);
        assert_eq!(
            acks.replicated(7, 5, wait, lease).await,
            Err(NotReplicated::Timeout(vec![2]))
        );
        acks.record(2, &at(7, 5));
        assert_eq!(acks.replicated(7, 5, wait, lease).await, Ok(()));
        drop(one);
        acks.record(1, &at(7, 9));
        assert_eq!(
            acks.replicated(7, 9, wait, lease).await,
            Err(NotReplicated::Timeout(vec![2])),
            "an ack on a closed stream counts for nothing"
        );
    }

    #[tokio::test]
    async fn a_hand_over_stops_granting_and_waits_for_the_new_leader() {
        let acks = Acks::default();
        let lease = Duration::from_millis(300);
        let _one = acks.stream_started(1);
        let three = acks.stream_started(3);
        acks.record(1, &at(7, 5));
        acks.record(3, &at(7, 5));
        acks.begin_handover(3, Duration::from_secs(2));
        assert_eq!(acks.may_grant(lease), Err(NotReplicated::HandingOver(3)));
        drop(three);
        assert_eq!(
            acks.replicated(7, 5, Duration::from_millis(20), lease)
                .await,
            Err(NotReplicated::Timeout(vec![3])),
            "the node taken over by must have every answered hold"
        );
        acks.clear_handover();
        assert_eq!(acks.may_grant(lease), Ok(()));
    }

    #[tokio::test]
    async fn a_renewed_stored_lease_grants_alone_and_a_silent_follower_is_not_waited_for() {
        let acks = Acks::default();
        let lease = Duration::from_millis(40);
        let _one = acks.stream_started(1);
        acks.record(1, &at(7, 1));
        acks.store_renewed(Instant::now());
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(
            acks.may_grant(lease),
            Err(NotReplicated::NoLease),
            "both went stale"
        );
        acks.store_renewed(Instant::now());
        assert_eq!(acks.may_grant(lease), Ok(()), "the store confirms the lead");
        assert_eq!(
            acks.replicated(7, 5, Duration::from_millis(20), lease)
                .await,
            Ok(()),
            "node 1 has been silent longer than the lease: it cannot lead while the lease lives"
        );
    }
}
