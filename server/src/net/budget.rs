//! A connection's outbound byte budget (`outbound_queue_max_bytes`): the encoded frames queued to
//! it and not yet on the socket, plus what its running requests have reserved for their replies.
//!
//! Two gates read it. The connection reads another frame only while frames plus reservations are
//! under the budget; a read request builds its reply, and a push is queued, only while the frames
//! alone are (a reply's real size is known only once it is built, so a read that waits here
//! keeps its reservation but does not block itself).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Bytes queued and reserved on one connection, against one maximum.
#[derive(Debug)]
pub(super) struct Budget {
    /// Encoded frames queued or being written.
    frames_bytes: AtomicUsize,
    /// Reserved by requests still running (`in_flight_reply_reserve_bytes` a read,
    /// `in_flight_write_reserve_bytes` a write).
    reserved_bytes: AtomicUsize,
    /// `outbound_queue_max_bytes`.
    max_bytes: usize,
    /// Woken whenever either count goes down.
    room: Notify,
}

impl Budget {
    pub(super) fn new(max_bytes: usize) -> Self {
        Self {
            frames_bytes: AtomicUsize::new(0),
            reserved_bytes: AtomicUsize::new(0),
            max_bytes: max_bytes.max(1),
            room: Notify::new(),
        }
    }

    /// A frame of `bytes` entered the queue.
    pub(super) fn queued(&self, bytes: usize) {
        self.frames_bytes.fetch_add(bytes, Ordering::AcqRel);
    }

    /// A frame of `bytes` left the queue (written, or dropped with the connection).
    pub(super) fn written(&self, bytes: usize) {
        Self::sub(&self.frames_bytes, bytes);
        self.room.notify_waiters();
    }

    /// A request started that will answer with a reply.
    pub(super) fn reserve(&self, bytes: usize) {
        self.reserved_bytes.fetch_add(bytes, Ordering::AcqRel);
    }

    /// A request's reply was queued (or the request dropped).
    pub(super) fn unreserve(&self, bytes: usize) {
        Self::sub(&self.reserved_bytes, bytes);
        self.room.notify_waiters();
    }

    fn sub(count: &AtomicUsize, bytes: usize) {
        let before = count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(bytes))
            })
            .unwrap_or_else(|n| n);
        debug_assert!(before >= bytes, "released more bytes than were counted");
    }

    /// Whether the connection may read another frame: frames and reservations under the budget.
    pub(super) fn may_read(&self) -> bool {
        let frames = self.frames_bytes.load(Ordering::Acquire);
        let reserved = self.reserved_bytes.load(Ordering::Acquire);
        frames.saturating_add(reserved) < self.max_bytes
    }

    /// Whether a reply may be built or a push queued: frames under the budget.
    pub(super) fn may_queue(&self) -> bool {
        self.frames_bytes.load(Ordering::Acquire) < self.max_bytes
    }

    /// Encoded frames queued or being written, bytes.
    #[cfg(test)]
    pub(super) fn frames_bytes(&self) -> usize {
        self.frames_bytes.load(Ordering::Acquire)
    }

    /// Resolves once `gate` holds (or `closed` is cancelled).
    pub(super) async fn until(&self, gate: fn(&Budget) -> bool, closed: &CancellationToken) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if gate(self) || closed.is_cancelled() {
                return;
            }
            tokio::select! {
                _ = notified => {}
                _ = closed.cancelled() => return,
            }
        }
    }

    /// Wakes every waiter (the connection closed).
    pub(super) fn wake_all(&self) {
        self.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn reservations_stop_reading_but_not_queueing() {
        let budget = Budget::new(100);
        assert!(budget.may_read() && budget.may_queue());
        budget.reserve(60);
        budget.queued(30);
        assert!(budget.may_read());
        budget.reserve(10);
        assert!(
            !budget.may_read(),
            "frames and reservations fill the budget"
        );
        assert!(budget.may_queue(), "reservations alone do not stop a reply");
        budget.queued(70);
        assert!(!budget.may_queue());
        budget.written(70);
        budget.unreserve(70);
        assert!(budget.may_read() && budget.may_queue());
        assert_eq!(budget.frames_bytes(), 30);
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_frames_are_written() {
        let budget = Arc::new(Budget::new(10));
        budget.queued(10);
        let closed = CancellationToken::new();
        let waiter = {
            let (budget, closed) = (budget.clone(), closed.clone());
            tokio::spawn(async move { budget.until(Budget::may_queue, &closed).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "woke while the budget was full");
        budget.written(1);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter did not wake")
            .expect("join");
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_connection_closes() {
        let budget = Budget::new(1);
        budget.queued(1);
        let closed = CancellationToken::new();
        closed.cancel();
        tokio::time::timeout(
            Duration::from_secs(5),
            budget.until(Budget::may_read, &closed),
        )
        .await
        .expect("a closed connection's waiter must return");
    }
}
