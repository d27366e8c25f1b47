//! Per-show lanes of one connection: requests on the same show run in the order sent.

use std::collections::HashMap;

use cinebook_protocol::page::PagedList;
use cinebook_protocol::Request;
use tokio::sync::oneshot;

use crate::node::Node;

/// The show a request touches, for the per-show ordering of one connection's requests.
pub(super) fn show_of(node: &Node, request: &Request) -> Option<u64> {
    match request {
        Request::GetSeatMap { show_id }
        | Request::Hold { show_id, .. }
        | Request::ListBookings { show_id }
        | Request::BlockSeats { show_id, .. }
        | Request::Availability { show_id, .. }
        | Request::CancelShow { show_id, .. }
        | Request::AuditTrail { show_id } => Some(*show_id),
        Request::UpsertShow(show) => Some(show.id),
        Request::ListPage(page) => match page.list {
            PagedList::Bookings { show_id } | PagedList::AuditTrail { show_id } => Some(show_id),
            _ => None,
        },
        Request::Renew { hold_id }
        | Request::Release { hold_id }
        | Request::Confirm { hold_id, .. }
        | Request::ConfirmWithContact { hold_id, .. } => {
            node.show_of_hold(*hold_id).map(|slot| slot.show_id)
        }
        Request::Cancel { code, .. } => node.show_of_booking(code),
        _ => None,
    }
}

/// Per-show lanes of one connection: the completion signal of the last request on each show.
#[derive(Debug, Default)]
pub(super) struct Lanes {
    last: HashMap<u64, oneshot::Receiver<()>>,
}

/// Lanes kept before finished ones are pruned.
const LANES_PRUNE_AT: usize = 64;

impl Lanes {
    /// Whether a request on `show` may run at once: no earlier request of this connection on
    /// the same show is still running.
    pub(super) fn idle(&mut self, show: Option<u64>) -> bool {
        let Some(show) = show else {
            return true;
        };
        let Some(rx) = self.last.get_mut(&show) else {
            return true;
        };
        if matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)) {
            return false;
        }
        // Finished: forget it, so nobody awaits a receiver that has completed.
        self.last.remove(&show);
        true
    }

    /// For a request on `show`: what to wait for first, and the guard that signals this request
    /// finished (dropped when done).
    pub(super) fn enter(
        &mut self,
        show: Option<u64>,
    ) -> (Option<oneshot::Receiver<()>>, Option<oneshot::Sender<()>>) {
        let Some(show) = show else {
            return (None, None);
        };
        if self.last.len() >= LANES_PRUNE_AT {
            self.last
                .retain(|_, rx| matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
        }
        let (tx, rx) = oneshot::channel();
        (self.last.insert(show, rx), Some(tx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lane_seen_idle_is_never_awaited_again() {
        let mut lanes = Lanes::default();
        let (after, done) = lanes.enter(Some(1));
        assert!(after.is_none());
        assert!(!lanes.idle(Some(1)), "the first request still runs");
        drop(done);
        assert!(lanes.idle(Some(1)));
        // The finished receiver was read by `idle`: the next request must not get it to await
        // (a completed oneshot polled again panics).
        let (after, _done) = lanes.enter(Some(1));
        assert!(after.is_none());
        assert!(lanes.idle(None));
    }
}
