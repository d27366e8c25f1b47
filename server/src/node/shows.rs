//! [`ShowSlot`]: one show's state machine behind its mutex, the fail-fast free-seat counters, and
//! the push channel its subscribers listen on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use cinebook_protocol::types::{Category, ChangeCause, SeatChange, ShowId};
use cinebook_protocol::{Envelope, Push};
use parking_lot::Mutex;
use tokio::sync::broadcast;

use super::shared_push::SharedPush;
use crate::domain::{Event, EventRecord, ShowState};

/// One show inside the node.
#[derive(Debug)]
pub struct ShowSlot {
    /// The show.
    pub show_id: ShowId,
    /// The seat map. Private: it changes only through `Node::apply_input` (the show core's one
    /// entry), and is read through [`ShowSlot::read`].
    state: Mutex<ShowState>,
    /// Free seats per category, published after every change: a counting semaphore read without
    /// the mutex so a sold-out show answers at once.
    free: [AtomicU32; Category::ALL.len()],
    /// Earliest hold deadline (`u64::MAX` for none), for the sweeper.
    next_deadline_ms: AtomicU64,
    /// Seat-change pushes; bounded, so a slow subscriber lags instead of slowing the show.
    /// Made at the first `subscribe`: a channel allocates its `push_buffer_max` slots at once
    /// (about 160 KB at 4,096), which for 10,000 shows nobody watches was most of the node's
    /// memory (docs/ARCHITECTURE.md, "Catalog at scale").
    pushes: OnceLock<broadcast::Sender<Arc<SharedPush>>>,
    push_buffer_max: usize,
    /// The last events applied, for followers that reconnect (bounded).
    backlog: Mutex<VecDeque<EventRecord>>,
    backlog_events_max: usize,
}

impl ShowSlot {
    /// Wraps a state machine.
    pub fn new(state: ShowState, push_buffer_max: usize, backlog_events_max: usize) -> Self {
        let slot = Self {
            show_id: state.show_id(),
            free: Default::default(),
            next_deadline_ms: AtomicU64::new(u64::MAX),
            state: Mutex::new(state),
            pushes: OnceLock::new(),
            push_buffer_max: push_buffer_max.max(1),
            backlog: Mutex::new(VecDeque::new()),
            backlog_events_max,
        };
        slot.publish_counters(&slot.state.lock());
        slot
    }

    /// The show's state, read-only, locked for as long as the guard lives (keep it short: copy
    /// what you need and drop it).
    pub fn read(&self) -> ShowRead<'_> {
        ShowRead(self.state.lock())
    }

    /// The state, locked for a change. Only the show core's entry (`Node::apply_input`) uses it.
    pub(crate) fn lock_for_input(&self) -> parking_lot::MutexGuard<'_, ShowState> {
        self.state.lock()
    }

    /// The state, locked for a change if nobody holds it now (never waits).
    pub(crate) fn try_lock_for_input(&self) -> Option<parking_lot::MutexGuard<'_, ShowState>> {
        self.state.try_lock()
    }

    /// Free seats of a category, without the lock.
    pub fn free(&self, category: Category) -> u32 {
        self.free[category as usize].load(Ordering::Acquire)
    }

    /// Free seats in all, without the lock.
    pub fn free_total(&self) -> u32 {
        self.free.iter().map(|f| f.load(Ordering::Acquire)).sum()
    }

    /// The earliest deadline of an open hold.
    pub fn next_deadline_ms(&self) -> u64 {
        self.next_deadline_ms.load(Ordering::Acquire)
    }

    /// A receiver of this show's pushes from now on. Call with the state locked so the receiver
    /// starts exactly after the state's current `seq`.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<SharedPush>> {
        self.pushes
            .get_or_init(|| broadcast::channel(self.push_buffer_max).0)
            .subscribe()
    }

    /// The push channel, if anyone ever subscribed (nobody listens otherwise).
    fn listened(&self) -> Option<&broadcast::Sender<Arc<SharedPush>>> {
        self.pushes.get().filter(|tx| tx.receiver_count() > 0)
    }

    /// After a change, with the state still locked: refresh the counters and push the events to
    /// subscribers in sequence order.
    pub fn published(&self, state: &ShowState, records: &[EventRecord]) {
        self.publish_counters(state);
        if self.backlog_events_max > 0 && !records.is_empty() {
            let mut backlog = self.backlog.lock();
            backlog.extend(records.iter().cloned());
            while backlog.len() > self.backlog_events_max {
                backlog.pop_front();
            }
        }
        let Some(pushes) = self.listened() else {
            return;
        };
        for record in records {
            if let Some(push) = push_for(state, record) {
                // An error only means nobody listens any more.
                let _ = pushes.send(Arc::new(SharedPush::new(push)));
            }
        }
    }

    /// The events after `from_seq` up to `to_seq`, if the backlog still holds all of them.
    pub fn backlog_after(&self, from_seq: u64, to_seq: u64) -> Option<Vec<EventRecord>> {
        if from_seq > to_seq {
            return None;
        }
        let backlog = self.backlog.lock();
        let wanted: Vec<EventRecord> = backlog
            .iter()
            .filter(|r| r.seq > from_seq && r.seq <= to_seq)
            .cloned()
            .collect();
        let complete = wanted.len() as u64 == to_seq - from_seq
            && wanted.first().is_none_or(|r| r.seq == from_seq + 1);
        complete.then_some(wanted)
    }

    /// The state was replaced wholesale (a snapshot): forget the backlog, refresh the counters,
    /// and tell subscribers to fetch the seat map again.
    pub fn replaced(&self, state: &ShowState) {
        self.backlog.lock().clear();
        self.publish_counters(state);
        if let Some(pushes) = self.listened() {
            let _ = pushes.send(Arc::new(SharedPush::new(Push::Resync {
                show_id: self.show_id,
            })));
        }
    }

    fn publish_counters(&self, state: &ShowState) {
        for (counter, value) in self.free.iter().zip(state.free_by_category()) {
            counter.store(value, Ordering::Release);
        }
        self.next_deadline_ms.store(
            state.next_deadline_ms().unwrap_or(u64::MAX),
            Ordering::Release,
        );
    }
}

/// A show's state, locked for reading: it derefs to `&ShowState` only.
#[derive(Debug)]
pub struct ShowRead<'a>(parking_lot::MutexGuard<'a, ShowState>);

impl std::ops::Deref for ShowRead<'_> {
    type Target = ShowState;

    fn deref(&self) -> &ShowState {
        &self.0
    }
}

/// The push for one event: which seats changed, to what, and why.
pub fn push_for(state: &ShowState, record: &EventRecord) -> Option<Push> {
    let (cause, seats): (ChangeCause, Vec<u32>) = match &record.event {
        Event::Held { seats, .. } => (ChangeCause::Held, seats.clone()),
        // An admission changes no seat (they stay sold): an empty push keeps `seq` unbroken.
        Event::Renewed { .. } | Event::AwaitingPayment { .. } | Event::Admitted { .. } => {
            return Some(empty_push(state, record))
        }
        Event::Released { seats, .. } => (ChangeCause::Released, seats.clone()),
        Event::Expired { seats, .. } => (ChangeCause::Expired, seats.clone()),
        Event::Sold { booking, .. } => (
            ChangeCause::Sold,
            booking.seats.iter().map(|s| s.seat_id).collect(),
        ),
        Event::Cancelled { code, .. } => (
            ChangeCause::Cancelled,
            state
                .booking(code)
                .map(|b| b.seats.iter().map(|s| s.seat_id).collect())
                .unwrap_or_default(),
        ),
        Event::SeatsRefunded { seats, .. } => (ChangeCause::Cancelled, seats.clone()),
        Event::Blocked { seats, .. } => (ChangeCause::Blocked, seats.clone()),
    };
    let changes = seats
        .into_iter()
        .filter_map(|seat_id| {
            state.slot(seat_id).map(|s| SeatChange {
                seat_id,
                state: s.view(),
            })
        })
        .collect();
    Some(Push::SeatsChanged {
        show_id: state.show_id(),
        seq: record.seq,
        cause,
        changes,
    })
}

fn empty_push(state: &ShowState, record: &EventRecord) -> Push {
    // A renewal changes no seat, but it has a sequence number: subscribers must see it to keep
    // their sequence unbroken.
    Push::SeatsChanged {
        show_id: state.show_id(),
        seq: record.seq,
        cause: ChangeCause::Held,
        changes: Vec::new(),
    }
}

/// Wraps a push into a frame.
pub fn push_envelope(lamport: u64, push: &Push) -> Envelope {
    Envelope::push(lamport, push.clone())
}
