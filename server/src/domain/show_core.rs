//! The show core: the one way a show changes.
//!
//! Every change to a show arrives as a typed [`ShowInput`]: a client's command, the database's
//! answer for a pinned sale, an event or a snapshot from the leader, the durable facts read from
//! the store (recovery, take-over), or the passing of time. [`ShowState::handle`] applies it and
//! returns a [`ShowOutput`]; nothing else in the node writes a show (the node's
//! `Node::apply_input` is the only caller, under the show's mutex). Like the rest of the domain
//! it reads no clock, does no I/O and takes no lock.
//!
//! # A sale's outcome
//! A sale is begun ([`ShowInput::BeginSale`]: validated, hold pinned), then the database answers:
//! - committed → [`SaleResult::Committed`]: the hold's seats become sold;
//! - definitely not committed (refused, database down before `COMMIT`) → [`SaleResult::Failed`]:
//!   the hold is unpinned, its seats stay held until its deadline;
//! - unknown (no answer to `COMMIT`) → *no input at all*: the hold stays pinned — it can neither
//!   expire nor be released — until the node has read the store and sends one of the two above.

use std::sync::Arc;

use cinebook_protocol::cluster::ShowSnapshot;
use cinebook_protocol::types::{Booking, BookingStatus, HoldId, HoldInfo, Payment, SeatId};

use super::{
    Command, DomainError, Event, EventRecord, Layout, Pricing, SaleIntent, SeededCodes, ShowState,
    SlotState,
};

/// A confirm, as the show core validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRequest {
    /// The hold to sell.
    pub hold_id: HoldId,
    /// The terminal confirming (must own the hold).
    pub terminal_id: u64,
    /// The payment taken.
    pub payment: Payment,
    /// The confirm's idempotency key.
    pub idempotency_key: String,
    /// Seeds the booking-code candidates ([`SeededCodes`]): randomness is plumbing, so the
    /// caller draws the seed and the same seed gives the same codes.
    pub code_seed: u64,
    /// When the caller's sales window closes ([`super::sales_close_at_ms`]).
    pub sales_close_at_ms: u64,
    /// This node, stamped on the booking.
    pub node_id: u32,
}

/// The database's definite answer for a pinned sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleResult {
    /// Durable: sell the seats.
    Committed,
    /// Definitely not durable: unpin the hold (its seats stay held until its deadline).
    Failed,
}

/// What the store holds for one show: the durable truth after a restart or a failover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DurableShow {
    /// Every booking of the show, any status, with the confirm's idempotency key; any order.
    pub bookings: Vec<(Booking, String)>,
    /// The seats blocked now (`None`: leave blocks as they are).
    pub blocked: Option<Vec<SeatId>>,
}

/// Every way a show changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowInput {
    /// A client's command: hold, renew, release; block and cancel after the store recorded them.
    Command(Command),
    /// Validate a confirm and pin its hold; the output's `sale` is what the store must commit.
    BeginSale(SaleRequest),
    /// The store's definite answer for the sale pinned on `hold_id`.
    SaleResult {
        /// The pinned hold.
        hold_id: HoldId,
        /// What the store said.
        result: SaleResult,
    },
    /// The store committed the sales pinned on these holds (one group-commit batch of this
    /// show): sell each. The output's `sold` says, per hold, whether it applied.
    Committed(Vec<HoldId>),
    /// An event from the leader's stream; one already applied is skipped, a gap is an error.
    Replicated(EventRecord),
    /// The leader's whole show replaces this one.
    Snapshot(Box<ShowSnapshot>),
    /// Bring the show in line with the store (recovery, take-over): bookings and blocks the store
    /// has and memory does not are applied; memory's other holds on those seats are released.
    Durable(DurableShow),
    /// New prices from the catalog; bookings keep the prices they were sold at.
    Pricing(Pricing),
    /// A new layout for a show with no held, sold or blocked seat and no booking (refused
    /// otherwise): the show starts over on it, keeping its sequence number.
    Relayout(Arc<Layout>),
    /// Time passed: expire every due hold that is not pinned.
    Tick,
}

/// What an input did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShowOutput {
    /// The events it caused, already applied, in order.
    pub records: Vec<EventRecord>,
    /// For [`ShowInput::BeginSale`]: the booking to commit.
    pub sale: Option<SaleIntent>,
    /// The hold the input named, as it is now (`None` if gone or none named).
    pub hold: Option<HoldInfo>,
    /// Whether the whole state was replaced (a snapshot): subscribers must re-fetch.
    pub replaced: bool,
    /// For [`ShowInput::Committed`]: each hold, and why its sale did not apply (a bug: it is
    /// durable), in order.
    pub sold: Vec<(HoldId, Option<DomainError>)>,
    /// For [`ShowInput::Durable`]: stored facts that did not fit this show (each skipped, the
    /// rest applied). Empty unless memory or the store is wrong.
    pub diverged: Vec<String>,
}

impl ShowOutput {
    fn events(records: Vec<EventRecord>) -> Self {
        Self {
            records,
            ..Self::default()
        }
    }
}

impl ShowState {
    /// Applies one input at `now_ms`, stamping new events with `lamport`. On error nothing
    /// changed.
    pub fn handle(
        &mut self,
        input: ShowInput,
        now_ms: u64,
        lamport: u64,
    ) -> Result<ShowOutput, DomainError> {
        match input {
            ShowInput::Command(command) => {
                let hold_id = command_hold(&command);
                // A hold retried with its key makes no new hold: the output names the original.
                let retried = match &command {
                    Command::Hold {
                        terminal_id,
                        idempotency_key: Some(key),
                        ..
                    } => Some((*terminal_id, key.clone())),
                    _ => None,
                };
                let records = self.apply(command, now_ms, lamport)?;
                let hold = hold_id.and_then(|id| self.hold_view(id)).or_else(|| {
                    let (terminal_id, key) = retried?;
                    self.hold_for_key(terminal_id, &key)
                        .map(|h| self.hold_info(h))
                });
                Ok(ShowOutput {
                    records,
                    hold,
                    ..ShowOutput::default()
                })
            }
            ShowInput::BeginSale(request) => {
                let hold_id = request.hold_id;
                let intent = self.begin_sale(
                    request.hold_id,
                    request.terminal_id,
                    request.payment,
                    request.idempotency_key,
                    &mut SeededCodes::new(request.code_seed),
                    request.sales_close_at_ms,
                    now_ms,
                    lamport,
                    request.node_id,
                )?;
                Ok(ShowOutput {
                    sale: Some(intent),
                    hold: self.hold_view(hold_id),
                    ..ShowOutput::default()
                })
            }
            ShowInput::SaleResult { hold_id, result } => self.sale_result(hold_id, result, lamport),
            ShowInput::Committed(holds) => {
                let mut output = ShowOutput::default();
                for hold_id in holds {
                    match self.apply(Command::Sell { hold_id }, 0, lamport) {
                        Ok(mut records) => {
                            output.records.append(&mut records);
                            output.sold.push((hold_id, None));
                        }
                        Err(e) => output.sold.push((hold_id, Some(e))),
                    }
                }
                Ok(output)
            }
            ShowInput::Replicated(record) => {
                if record.seq <= self.seq() {
                    return Ok(ShowOutput::default());
                }
                self.replay(&record)?;
                Ok(ShowOutput::events(vec![record]))
            }
            ShowInput::Snapshot(snapshot) => {
                *self = ShowState::from_snapshot(
                    self.layout().clone(),
                    self.pricing().clone(),
                    *self.limits(),
                    &snapshot,
                )?;
                Ok(ShowOutput {
                    replaced: true,
                    ..ShowOutput::default()
                })
            }
            ShowInput::Durable(durable) => self.reconcile(durable, lamport),
            ShowInput::Pricing(pricing) => {
                self.set_pricing(pricing);
                Ok(ShowOutput::default())
            }
            ShowInput::Relayout(layout) => {
                self.relayout(layout)?;
                Ok(ShowOutput {
                    replaced: true,
                    ..ShowOutput::default()
                })
            }
            ShowInput::Tick => {
                if self.next_deadline_ms().is_none_or(|at| at > now_ms) {
                    return Ok(ShowOutput::default());
                }
                self.apply(Command::Expire, now_ms, lamport)
                    .map(ShowOutput::events)
            }
        }
    }

    fn hold_view(&self, hold_id: HoldId) -> Option<HoldInfo> {
        self.hold(hold_id).map(|h| self.hold_info(h))
    }

    fn sale_result(
        &mut self,
        hold_id: HoldId,
        result: SaleResult,
        lamport: u64,
    ) -> Result<ShowOutput, DomainError> {
        match result {
            SaleResult::Committed => {
                // `Sell` reads no time: a committed sale completes whatever the clock says.
                let records = self.apply(Command::Sell { hold_id }, 0, lamport)?;
                Ok(ShowOutput::events(records))
            }
            SaleResult::Failed => {
                if self.hold(hold_id).is_none_or(|h| h.sale.is_none()) {
                    return Err(DomainError::BadEvent(format!(
                        "hold {hold_id} has no sale to fail"
                    )));
                }
                self.abort_sale(hold_id);
                Ok(ShowOutput {
                    hold: self.hold_view(hold_id),
                    ..ShowOutput::default()
                })
            }
        }
    }

    /// The events that make this show agree with the store, applied. Works whatever order the
    /// bookings come in and whatever their Lamport times: bookings that are no longer live
    /// (cancelled, refunded) own no seat and go first; live ones own their seats exclusively
    /// (the store's primary key), so their order does not matter either.
    fn reconcile(&mut self, durable: DurableShow, lamport: u64) -> Result<ShowOutput, DomainError> {
        let mut output = ShowOutput::default();
        let (mut history, mut live): (Vec<_>, Vec<_>) = durable
            .bookings
            .into_iter()
            .partition(|(b, _)| !b.status.is_live());
        history.sort_by(|a, b| a.0.code.cmp(&b.0.code));
        live.sort_by(|a, b| a.0.code.cmp(&b.0.code));
        for (booking, key) in history.into_iter().chain(live) {
            let code = booking.code.clone();
            let events = self.events_for_booking(booking, key);
            if let Err(e) = self.restore_all(events, lamport, &mut output.records) {
                output.diverged.push(format!("booking {code}: {e}"));
            }
        }
        if let Some(blocked) = &durable.blocked {
            let events = self.events_for_blocks(blocked);
            if let Err(e) = self.restore_all(events, lamport, &mut output.records) {
                output.diverged.push(format!("blocked seats: {e}"));
            }
        }
        Ok(output)
    }

    /// Applies `events` in order; stops at the first that does not fit (those before it stay).
    fn restore_all(
        &mut self,
        events: Vec<Event>,
        lamport: u64,
        records: &mut Vec<EventRecord>,
    ) -> Result<(), DomainError> {
        for event in events {
            let lamport = match &event {
                Event::Sold { booking, .. } => booking.lamport.max(lamport),
                _ => lamport,
            };
            records.push(self.restore(event, lamport)?);
        }
        Ok(())
    }

    /// The events that bring this show in line with one stored booking.
    fn events_for_booking(&self, stored: Booking, key: String) -> Vec<Event> {
        let code = stored.code.clone();
        let status = stored.status;
        let cancelled = Event::Cancelled {
            code: code.clone(),
            refund: status == BookingStatus::Refunded,
        };
        if let Some(known) = self.booking(&code) {
            let live_here = known.status.is_live();
            if live_here && !status.is_live() {
                return vec![cancelled];
            }
            // Admitted in the store on a path whose answer was lost.
            let admitted = (known.status == BookingStatus::Confirmed
                && status == BookingStatus::Admitted)
                .then(|| Event::Admitted { code: code.clone() });
            // Seats refunded in the store on a path whose answer was lost.
            let refunded: Vec<SeatId> = known
                .seats
                .iter()
                .map(|s| s.seat_id)
                .filter(|id| !stored.seats.iter().any(|s| s.seat_id == *id))
                .collect();
            let mut events = if live_here && !refunded.is_empty() && !stored.seats.is_empty() {
                vec![Event::SeatsRefunded {
                    code,
                    seats: refunded,
                }]
            } else {
                Vec::new()
            };
            events.extend(admitted);
            return events;
        }
        if !status.is_live() {
            // History only: it owns no seat any more.
            return vec![Event::Sold {
                hold_id: None,
                booking: stored,
                idempotency_key: key,
            }];
        }
        let seats: Vec<SeatId> = stored.seats.iter().map(|s| s.seat_id).collect();
        let mut events = Vec::new();
        // The old leader committed this sale; its hold (replicated) may still be open here.
        let own_hold = self
            .holds()
            .find(|h| same_seats(&h.seats, &seats) && h.terminal_id == stored.terminal_id)
            .map(|h| h.id);
        if own_hold.is_none() {
            // A committed sale wins over any other hold on its seats.
            for hold in self
                .holds()
                .filter(|h| h.seats.iter().any(|s| seats.contains(s)))
            {
                events.push(Event::Released {
                    hold_id: hold.id,
                    seats: hold.seats.clone(),
                });
            }
            let blocked: Vec<SeatId> = seats
                .iter()
                .copied()
                .filter(|s| self.slot(*s) == Some(SlotState::Blocked))
                .collect();
            if !blocked.is_empty() {
                events.push(Event::Blocked {
                    seats: blocked,
                    blocked: false,
                });
            }
        }
        events.push(Event::Sold {
            hold_id: own_hold,
            booking: stored,
            idempotency_key: key,
        });
        events
    }

    /// The events that make exactly `blocked` (of the free or blocked seats) blocked.
    fn events_for_blocks(&self, blocked: &[SeatId]) -> Vec<Event> {
        let mut block = Vec::new();
        let mut unblock = Vec::new();
        for (id, slot) in self.slots().iter().enumerate() {
            let id = id as SeatId;
            let wanted = blocked.contains(&id);
            match slot {
                SlotState::Free if wanted => block.push(id),
                SlotState::Blocked if !wanted => unblock.push(id),
                _ => {}
            }
        }
        let mut events = Vec::new();
        if !unblock.is_empty() {
            events.push(Event::Blocked {
                seats: unblock,
                blocked: false,
            });
        }
        if !block.is_empty() {
            events.push(Event::Blocked {
                seats: block,
                blocked: true,
            });
        }
        events
    }
}

fn command_hold(command: &Command) -> Option<HoldId> {
    match command {
        Command::Hold { hold_id, .. }
        | Command::Renew { hold_id, .. }
        | Command::Release { hold_id, .. }
        | Command::Sell { hold_id }
        | Command::AwaitPayment { hold_id, .. }
        | Command::ReleaseUnpaid { hold_id, .. } => Some(*hold_id),
        Command::Cancel { .. }
        | Command::Admit { .. }
        | Command::RefundSeats { .. }
        | Command::Block { .. }
        | Command::Expire => None,
    }
}

fn same_seats(a: &[SeatId], b: &[SeatId]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}
