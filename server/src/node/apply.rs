//! The show core's one entry: [`Node::apply_input`]. Every change to a show — a client's
//! command on a worker, a sale's result from the writer or the resolver, a replicated event or
//! snapshot on a follower, the store's facts at start-up and take-over, new prices — goes
//! through it, under the show's mutex, and leaves through the same publication (pushes,
//! indexes, replication).

use std::sync::Arc;

use crate::cluster::replication::ReplicationItem;
use crate::domain::{DomainError, Event, EventRecord, ShowInput, ShowOutput, ShowState};

use super::{now_ms, Node, ShowSlot};

impl Node {
    /// Applies `input` to `slot`'s show and publishes what it changed. On the leader (or a
    /// single node) due holds expire first; followers apply only the leader's expiries.
    pub(crate) fn apply_input(
        &self,
        slot: &ShowSlot,
        input: ShowInput,
    ) -> Result<ShowOutput, DomainError> {
        self.apply_locked(slot, slot.lock_for_input(), input)
    }

    /// The body of [`Node::apply_input`], with the show's mutex already taken.
    pub(crate) fn apply_locked(
        &self,
        slot: &ShowSlot,
        mut state: parking_lot::MutexGuard<'_, ShowState>,
        input: ShowInput,
    ) -> Result<ShowOutput, DomainError> {
        let now_ms = now_ms();
        #[cfg(feature = "fault-injection")]
        self.faults.hit(super::faults::FaultPoint::Worker);
        let replicating = matches!(input, ShowInput::Replicated(_) | ShowInput::Snapshot(_));
        if !replicating && self.accepts_writes() {
            match state.handle(ShowInput::Tick, now_ms, self.lamport.tick()) {
                Ok(expired) => self.after_apply(slot, &state, &expired.records),
                Err(e) => {
                    tracing::error!(show_id = slot.show_id, error = %e, "expiry refused")
                }
            }
        }
        let output = state.handle(input, now_ms, self.lamport.tick())?;
        if output.replaced {
            self.reindex_show(slot.show_id, &state);
            slot.replaced(&state);
        } else {
            self.after_apply(slot, &state, &output.records);
        }
        Ok(output)
    }

    /// After a show changed (with its state still locked): push to subscribers, keep the indexes,
    /// and stream to followers.
    fn after_apply(&self, slot: &ShowSlot, state: &ShowState, records: &[EventRecord]) {
        slot.published(state, records);
        self.index_events(slot.show_id, records);
        if self.cluster.is_some() && self.replication.receiver_count() > 0 {
            for record in records {
                let item = ReplicationItem::Event {
                    show_id: slot.show_id,
                    record: record.clone(),
                };
                let _ = self.replication.send(Arc::new(item));
            }
        }
    }

    /// Keeps the hold, booking and idempotency-key indexes in step with a show's events.
    fn index_events(&self, show_id: u64, records: &[EventRecord]) {
        for record in records {
            match &record.event {
                Event::Held { hold_id, .. } => {
                    self.hold_shows.lock().insert(*hold_id, show_id);
                }
                Event::Released { hold_id, .. } => {
                    self.hold_shows.lock().remove(hold_id);
                }
                Event::Expired { hold_id, .. } => {
                    self.hold_shows.lock().remove(hold_id);
                    self.expired_holds.lock().insert(*hold_id);
                }
                Event::Sold {
                    hold_id,
                    booking,
                    idempotency_key,
                } => {
                    if let Some(hold_id) = hold_id {
                        self.hold_shows.lock().remove(hold_id);
                    }
                    self.booking_shows
                        .lock()
                        .insert(booking.code.clone(), show_id);
                    self.confirm_keys.lock().insert(
                        (booking.terminal_id, idempotency_key.clone()),
                        (booking.code.clone(), *hold_id),
                    );
                }
                Event::Renewed { .. }
                | Event::AwaitingPayment { .. }
                | Event::Cancelled { .. }
                | Event::SeatsRefunded { .. }
                | Event::Admitted { .. }
                | Event::Blocked { .. } => {}
            }
        }
    }

    /// Rebuilds the hold/booking/key indexes of one show from its state.
    fn reindex_show(&self, show_id: u64, state: &ShowState) {
        self.hold_shows.lock().retain(|_, s| *s != show_id);
        for hold in state.holds() {
            self.hold_shows.lock().insert(hold.id, show_id);
        }
        for booking in state.bookings() {
            self.booking_shows
                .lock()
                .insert(booking.code.clone(), show_id);
        }
        for (terminal_id, key, code) in state.confirm_keys() {
            self.confirm_keys
                .lock()
                .entry((terminal_id, key))
                .or_insert((code, None));
        }
    }
}
