//! [`ShowState`]: one show's seats, holds and bookings, and the rules that change them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use cinebook_protocol::cluster::{BookingSnapshot, HoldSnapshot, ShowSnapshot};
use cinebook_protocol::types::{
    BookedSeat, Booking, BookingStatus, Category, HoldId, HoldInfo, Payment, PaymentMethod, SeatId,
    SeatState, ShowId, TerminalId,
};

mod refund_seats;
mod seat_states;

use seat_states::SeatStates;

pub use refund_seats::refunded_seats;

use super::{
    pick_best, CodeGenerator, Command, DomainError, Event, EventRecord, HoldSpec, Layout, Pricing,
};

/// Candidate booking codes [`ShowState::begin_sale`] tries before giving up. With 23^16 codes a
/// second candidate is already a once-in-10^13 event; more than a few means a broken generator.
pub const CODE_CANDIDATES_MAX: u32 = 8;

/// Limits on holds. Every one is explicit; defaults suit a cinema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldLimits {
    /// How long a new or renewed hold lives.
    pub hold_ttl_ms: u64,
    /// A hold never lives longer than this after its creation, however often renewed.
    pub hold_lifetime_max_ms: u64,
    /// Seats in one hold.
    pub hold_seats_max: u32,
    /// Open holds per terminal on one show.
    pub holds_per_terminal_max: u32,
}

impl Default for HoldLimits {
    fn default() -> Self {
        Self {
            hold_ttl_ms: 10 * 60 * 1000,
            hold_lifetime_max_ms: 30 * 60 * 1000,
            hold_seats_max: 20,
            holds_per_terminal_max: 64,
        }
    }
}

/// One seat's state inside the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Free.
    Free,
    /// In a hold.
    Held(HoldId),
    /// Sold, by index into the show's bookings.
    Sold(u32),
    /// Blocked.
    Blocked,
}

impl SlotState {
    /// The state a viewer sees.
    pub fn view(self) -> SeatState {
        match self {
            SlotState::Free => SeatState::Free,
            SlotState::Held(_) => SeatState::Held,
            SlotState::Sold(_) => SeatState::Sold,
            SlotState::Blocked => SeatState::Blocked,
        }
    }
}

/// An open hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Id.
    pub id: HoldId,
    /// Owner.
    pub terminal_id: TerminalId,
    /// Seats.
    pub seats: Vec<SeatId>,
    /// Creation time.
    pub created_at_ms: u64,
    /// Deadline.
    pub expires_at_ms: u64,
    /// Idempotency key of the hold request.
    pub idempotency_key: Option<String>,
    /// A sale being committed, or whose outcome is unknown, pins the hold (no expiry, no
    /// release) until the store's definite answer arrives.
    pub sale: Option<Box<SaleIntent>>,
    /// The payment order this hold waits for (`Command::AwaitPayment`): the terminal can no
    /// longer renew, release or confirm it; only the order's captured payment sells it.
    pub payment_order: Option<u64>,
}

/// A sale validated by [`ShowState::begin_sale`], waiting for the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleIntent {
    /// The pinned hold.
    pub hold_id: HoldId,
    /// The booking to write.
    pub booking: Booking,
    /// The confirm's idempotency key.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct BookingEntry {
    booking: Booking,
    idempotency_key: String,
}

/// One show's seat map: the pure state machine.
#[derive(Debug, Clone)]
pub struct ShowState {
    show_id: ShowId,
    layout: Arc<Layout>,
    pricing: Pricing,
    limits: HoldLimits,
    slots: SeatStates,
    holds: HashMap<HoldId, Hold>,
    bookings: Vec<BookingEntry>,
    booking_index: HashMap<String, u32>,
    hold_keys: HashMap<(TerminalId, String), HoldId>,
    confirm_keys: HashMap<(TerminalId, String), u32>,
    holds_per_terminal: HashMap<TerminalId, u32>,
    deadlines: BinaryHeap<Reverse<(u64, HoldId)>>,
    free_by_category: [u32; Category::ALL.len()],
    seq: u64,
}

impl ShowState {
    /// An empty seat map: every seat free.
    pub fn new(show_id: ShowId, layout: Arc<Layout>, pricing: Pricing, limits: HoldLimits) -> Self {
        let mut free_by_category = [0u32; Category::ALL.len()];
        for seat in layout.seats() {
            free_by_category[seat.category as usize] += 1;
        }
        Self {
            show_id,
            slots: SeatStates::new(layout.len()),
            layout,
            pricing,
            limits,
            holds: HashMap::new(),
            bookings: Vec::new(),
            booking_index: HashMap::new(),
            hold_keys: HashMap::new(),
            confirm_keys: HashMap::new(),
            holds_per_terminal: HashMap::new(),
            deadlines: BinaryHeap::new(),
            free_by_category,
            seq: 0,
        }
    }

    // ---- reads -------------------------------------------------------------------------------

    /// The show.
    pub fn show_id(&self) -> ShowId {
        self.show_id
    }

    /// The last applied sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The layout.
    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }

    /// The prices.
    pub fn pricing(&self) -> &Pricing {
        &self.pricing
    }

    /// The hold limits.
    pub fn limits(&self) -> &HoldLimits {
        &self.limits
    }

    /// Replaces prices (catalog change); bookings keep the prices they were sold at.
    pub fn set_pricing(&mut self, pricing: Pricing) {
        self.pricing = pricing;
    }

    /// Whether the layout is fixed: a seat is held, sold or blocked, or a booking of any status
    /// exists (recovery replays cancelled bookings onto the layout too).
    pub fn layout_locked(&self) -> bool {
        !self.bookings.is_empty() || self.slots.any_taken()
    }

    /// Replaces the layout of a show nobody has touched (see [`ShowState::layout_locked`]):
    /// every seat of the new layout is free. The sequence number goes on (subscribers and
    /// followers resynchronise). Refused with [`DomainError::LayoutLocked`] otherwise.
    pub fn relayout(&mut self, layout: Arc<Layout>) -> Result<(), DomainError> {
        if self.layout_locked() {
            return Err(DomainError::LayoutLocked(self.show_id));
        }
        let seq = self.seq;
        *self = ShowState::new(self.show_id, layout, self.pricing.clone(), self.limits);
        self.seq = seq;
        Ok(())
    }

    /// Every seat's state, in seat order (decoded from the compact store: a copy).
    pub fn slots(&self) -> Vec<SlotState> {
        self.slots.iter().collect()
    }

    /// One seat's state; `None` for a seat the layout does not have.
    pub fn slot(&self, id: SeatId) -> Option<SlotState> {
        self.slots.get(id)
    }

    /// Whether a seat is free (false for a seat the layout does not have).
    pub fn is_free(&self, id: SeatId) -> bool {
        self.slots.is_free(id)
    }

    /// Every seat's state as a viewer sees it.
    pub fn seat_states(&self) -> Vec<SeatState> {
        self.slots.iter().map(|s| s.view()).collect()
    }

    /// Free seats per category.
    pub fn free_by_category(&self) -> [u32; Category::ALL.len()] {
        self.free_by_category
    }

    /// Free seats in all.
    pub fn free_total(&self) -> u32 {
        self.free_by_category.iter().sum()
    }

    /// An open hold.
    pub fn hold(&self, hold_id: HoldId) -> Option<&Hold> {
        self.holds.get(&hold_id)
    }

    /// Open holds.
    pub fn holds(&self) -> impl Iterator<Item = &Hold> {
        self.holds.values()
    }

    /// The open hold a terminal made with this idempotency key. A `Command::Hold` retried with
    /// the key and the same selection applies no event; this is the hold it answers with.
    pub fn hold_for_key(&self, terminal_id: TerminalId, key: &str) -> Option<&Hold> {
        let id = self.hold_keys.get(&(terminal_id, key.to_owned()))?;
        self.holds.get(id)
    }

    /// The booking a terminal confirmed with this idempotency key.
    pub fn booking_for_key(&self, terminal_id: TerminalId, key: &str) -> Option<&Booking> {
        let index = self.confirm_keys.get(&(terminal_id, key.to_owned()))?;
        self.bookings.get(*index as usize).map(|e| &e.booking)
    }

    /// Every (terminal, confirm idempotency key, booking code).
    pub fn confirm_keys(&self) -> Vec<(TerminalId, String, String)> {
        self.bookings
            .iter()
            .map(|e| {
                (
                    e.booking.terminal_id,
                    e.idempotency_key.clone(),
                    e.booking.code.clone(),
                )
            })
            .collect()
    }

    /// A booking by code.
    pub fn booking(&self, code: &str) -> Option<&Booking> {
        let index = self.booking_index.get(code)?;
        self.bookings.get(*index as usize).map(|e| &e.booking)
    }

    /// Every booking, any status, in sale order.
    pub fn bookings(&self) -> impl Iterator<Item = &Booking> {
        self.bookings.iter().map(|e| &e.booking)
    }

    /// The earliest hold deadline, if any hold is open (may be stale: renewed or gone).
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.deadlines.peek().map(|Reverse((at, _))| *at)
    }

    /// What a client is told about a hold.
    pub fn hold_info(&self, hold: &Hold) -> HoldInfo {
        let total: i64 = hold
            .seats
            .iter()
            .filter_map(|id| self.seat_price(*id))
            .sum();
        HoldInfo {
            hold_id: hold.id,
            show_id: self.show_id,
            seats: hold.seats.clone(),
            labels: hold
                .seats
                .iter()
                .filter_map(|id| self.layout.seat(*id))
                .map(|s| s.label.clone())
                .collect(),
            expires_at_ms: hold.expires_at_ms,
            total: self.pricing.money(total),
        }
    }

    fn seat_price(&self, id: SeatId) -> Option<i64> {
        self.layout
            .seat(id)
            .and_then(|s| self.pricing.price(s.category))
    }

    // ---- commands ----------------------------------------------------------------------------

    /// Checks `command` at `now_ms`, applies the events it causes stamped with `lamport`, and
    /// returns them. On error nothing changed.
    pub fn apply(
        &mut self,
        command: Command,
        now_ms: u64,
        lamport: u64,
    ) -> Result<Vec<EventRecord>, DomainError> {
        let events = self.decide(command, now_ms)?;
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            records.push(self.record(event, lamport)?);
        }
        Ok(records)
    }

    /// Applies an event produced elsewhere (recovery, replication). Its `seq` must be the next one.
    pub fn replay(&mut self, record: &EventRecord) -> Result<(), DomainError> {
        if record.seq != self.seq + 1 {
            return Err(DomainError::BadEvent(format!(
                "show {} expected seq {}, got {}",
                self.show_id,
                self.seq + 1,
                record.seq
            )));
        }
        self.evolve(&record.event)?;
        self.seq = record.seq;
        Ok(())
    }

    /// Applies an event with the next sequence number (recovery from the database).
    pub fn restore(&mut self, event: Event, lamport: u64) -> Result<EventRecord, DomainError> {
        self.record(event, lamport)
    }

    fn record(&mut self, event: Event, lamport: u64) -> Result<EventRecord, DomainError> {
        self.evolve(&event)?;
        self.seq += 1;
        Ok(EventRecord {
            seq: self.seq,
            lamport,
            event,
        })
    }

    fn decide(&mut self, command: Command, now_ms: u64) -> Result<Vec<Event>, DomainError> {
        match command {
            Command::Hold {
                hold_id,
                terminal_id,
                spec,
                idempotency_key,
                sales_close_at_ms,
            } => {
                if now_ms >= sales_close_at_ms {
                    return Err(DomainError::SalesClosed {
                        closes_at_ms: sales_close_at_ms,
                    });
                }
                self.decide_hold(hold_id, terminal_id, spec, idempotency_key, now_ms)
            }
            Command::Renew {
                hold_id,
                terminal_id,
            } => self.decide_renew(hold_id, terminal_id, now_ms),
            Command::Release {
                hold_id,
                terminal_id,
            } => {
                let hold = self.owned_hold(hold_id, terminal_id)?;
                if hold.sale.is_some() {
                    return Err(DomainError::SaleInProgress(hold_id));
                }
                if hold.payment_order.is_some() {
                    return Err(DomainError::AwaitingPayment(hold_id));
                }
                Ok(vec![Event::Released {
                    hold_id,
                    seats: hold.seats.clone(),
                }])
            }
            Command::Sell { hold_id } => {
                let hold = self
                    .holds
                    .get_mut(&hold_id)
                    .ok_or(DomainError::HoldNotFound(hold_id))?;
                let sale = hold.sale.take().ok_or(DomainError::BadEvent(format!(
                    "hold {hold_id} has no sale begun"
                )))?;
                Ok(vec![Event::Sold {
                    hold_id: Some(hold_id),
                    booking: sale.booking,
                    idempotency_key: sale.idempotency_key,
                }])
            }
            Command::Cancel { code, refund } => {
                let booking = self
                    .booking(&code)
                    .ok_or_else(|| DomainError::BookingNotFound(code.clone()))?;
                if booking.status != BookingStatus::Confirmed {
                    return Err(DomainError::BookingNotConfirmed(code));
                }
                Ok(vec![Event::Cancelled { code, refund }])
            }
            Command::Admit { code } => {
                let booking = self
                    .booking(&code)
                    .ok_or_else(|| DomainError::BookingNotFound(code.clone()))?;
                if booking.status != BookingStatus::Confirmed {
                    return Err(DomainError::BookingNotConfirmed(code));
                }
                Ok(vec![Event::Admitted { code }])
            }
            Command::Block { seats, blocked } => self.decide_block(seats, blocked),
            Command::RefundSeats { code, seats } => self.decide_refund_seats(code, seats),
            Command::Expire => Ok(self.decide_expire(now_ms)),
            Command::AwaitPayment {
                hold_id,
                terminal_id,
                order_id,
                until_ms,
            } => self.decide_await_payment(hold_id, terminal_id, order_id, until_ms, now_ms),
            Command::ReleaseUnpaid {
                hold_id,
                terminal_id,
                order_id,
            } => self.decide_release_unpaid(hold_id, terminal_id, order_id),
        }
    }

    fn decide_hold(
        &self,
        hold_id: HoldId,
        terminal_id: TerminalId,
        spec: HoldSpec,
        idempotency_key: Option<String>,
        now_ms: u64,
    ) -> Result<Vec<Event>, DomainError> {
        if self.holds.contains_key(&hold_id) {
            return Err(DomainError::InvalidArgument(format!(
                "hold id {hold_id} is in use"
            )));
        }
        if let Some(key) = &idempotency_key {
            if let Some(existing) = self.hold_for_key(terminal_id, key) {
                // A retry of the request that made the hold gets it back (the caller reads it
                // with `hold_for_key`); the same key for another selection is another request.
                return if self.selects(existing, &spec) {
                    Ok(Vec::new())
                } else {
                    Err(DomainError::KeyReused(key.clone()))
                };
            }
        }
        let open = self
            .holds_per_terminal
            .get(&terminal_id)
            .copied()
            .unwrap_or(0);
        if open >= self.limits.holds_per_terminal_max {
            return Err(DomainError::Limit(format!(
                "a terminal may have {} open holds on a show",
                self.limits.holds_per_terminal_max
            )));
        }
        let seats = self.resolve_seats(spec)?;
        for id in &seats {
            let seat = self
                .layout
                .seat(*id)
                .ok_or_else(|| DomainError::UnknownSeats(id.to_string()))?;
            if self.pricing.price(seat.category).is_none() {
                return Err(DomainError::NotOnSale(seat.category));
            }
        }
        Ok(vec![Event::Held {
            hold_id,
            terminal_id,
            seats,
            expires_at_ms: now_ms.saturating_add(self.limits.hold_ttl_ms),
            created_at_ms: now_ms,
            idempotency_key,
        }])
    }

    /// Whether `spec` asks for what `hold` holds: the same seats (by id or label, in any order),
    /// or, for best-available, as many seats of the same category. The hold's seats are the
    /// selection its idempotency key was used with; they survive replication and snapshots,
    /// so a retry is recognised on a new leader too.
    fn selects(&self, hold: &Hold, spec: &HoldSpec) -> bool {
        let mut held = hold.seats.clone();
        held.sort_unstable();
        let mut asked: Vec<SeatId> = match spec {
            HoldSpec::Seats(ids) => ids.clone(),
            HoldSpec::Labels(labels) => {
                let ids: Vec<SeatId> = labels
                    .iter()
                    .filter_map(|l| self.layout.by_label(l))
                    .collect();
                if ids.len() != labels.len() {
                    return false;
                }
                ids
            }
            HoldSpec::Best { count, category } => {
                let category = category.unwrap_or(Category::Standard);
                return held.len() == *count as usize
                    && held
                        .iter()
                        .all(|id| self.layout.seat(*id).map(|s| s.category) == Some(category));
            }
        };
        asked.sort_unstable();
        asked == held
    }

    fn resolve_seats(&self, spec: HoldSpec) -> Result<Vec<SeatId>, DomainError> {
        let seats = match spec {
            HoldSpec::Best { count, category } => {
                self.check_count(count as usize)?;
                return pick_best(
                    &self.layout,
                    &|id| self.slots.is_free(id),
                    count,
                    category.unwrap_or(Category::Standard),
                );
            }
            HoldSpec::Seats(ids) => ids,
            HoldSpec::Labels(labels) => {
                let mut unknown = Vec::new();
                let ids = labels
                    .iter()
                    .filter_map(|l| {
                        self.layout.by_label(l).or_else(|| {
                            unknown.push(l.clone());
                            None
                        })
                    })
                    .collect();
                if !unknown.is_empty() {
                    return Err(DomainError::UnknownSeats(unknown.join(",")));
                }
                ids
            }
        };
        self.check_count(seats.len())?;
        let unknown: Vec<String> = seats
            .iter()
            .filter(|id| self.layout.seat(**id).is_none())
            .map(|id| id.to_string())
            .collect();
        if !unknown.is_empty() {
            return Err(DomainError::UnknownSeats(unknown.join(",")));
        }
        let mut sorted = seats.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(DomainError::InvalidArgument(
                "a seat is listed twice".into(),
            ));
        }
        let taken: Vec<SeatId> = seats
            .iter()
            .copied()
            .filter(|id| !self.slots.is_free(*id))
            .collect();
        if !taken.is_empty() {
            return Err(DomainError::SeatUnavailable { seats: taken });
        }
        Ok(seats)
    }

    fn check_count(&self, count: usize) -> Result<(), DomainError> {
        if count == 0 || count > self.limits.hold_seats_max as usize {
            return Err(DomainError::InvalidArgument(format!(
                "a hold has 1..={} seats, not {count}",
                self.limits.hold_seats_max
            )));
        }
        Ok(())
    }

    fn decide_await_payment(
        &self,
        hold_id: HoldId,
        terminal_id: TerminalId,
        order_id: u64,
        until_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<Event>, DomainError> {
        let hold = self.owned_hold(hold_id, terminal_id)?;
        match hold.payment_order {
            // Retried: the hold already waits for this order.
            Some(known) if known == order_id => return Ok(Vec::new()),
            Some(_) => return Err(DomainError::AwaitingPayment(hold_id)),
            None => {}
        }
        if hold.sale.is_some() {
            return Err(DomainError::SaleInProgress(hold_id));
        }
        if hold.expires_at_ms <= now_ms {
            return Err(DomainError::HoldExpired(hold_id));
        }
        if until_ms <= now_ms {
            return Err(DomainError::InvalidArgument(format!(
                "a payment window ending at {until_ms} is already over"
            )));
        }
        Ok(vec![Event::AwaitingPayment {
            hold_id,
            order_id,
            expires_at_ms: until_ms,
        }])
    }

    fn decide_release_unpaid(
        &self,
        hold_id: HoldId,
        terminal_id: TerminalId,
        order_id: u64,
    ) -> Result<Vec<Event>, DomainError> {
        let hold = self.owned_hold(hold_id, terminal_id)?;
        if hold.sale.is_some() {
            return Err(DomainError::SaleInProgress(hold_id));
        }
        if hold.payment_order != Some(order_id) {
            return Err(DomainError::InvalidArgument(format!(
                "hold {hold_id} does not wait for payment order {order_id}"
            )));
        }
        Ok(vec![Event::Released {
            hold_id,
            seats: hold.seats.clone(),
        }])
    }

    fn decide_renew(
        &self,
        hold_id: HoldId,
        terminal_id: TerminalId,
        now_ms: u64,
    ) -> Result<Vec<Event>, DomainError> {
        let hold = self.owned_hold(hold_id, terminal_id)?;
        if hold.payment_order.is_some() {
            return Err(DomainError::AwaitingPayment(hold_id));
        }
        if hold.expires_at_ms <= now_ms {
            return Err(DomainError::HoldExpired(hold_id));
        }
        let ceiling = hold
            .created_at_ms
            .saturating_add(self.limits.hold_lifetime_max_ms);
        let expires_at_ms = now_ms.saturating_add(self.limits.hold_ttl_ms).min(ceiling);
        if expires_at_ms <= hold.expires_at_ms {
            return Err(DomainError::Limit(format!(
                "hold {hold_id} reached its maximum lifetime of {} ms",
                self.limits.hold_lifetime_max_ms
            )));
        }
        Ok(vec![Event::Renewed {
            hold_id,
            expires_at_ms,
        }])
    }

    fn decide_block(&self, seats: Vec<SeatId>, blocked: bool) -> Result<Vec<Event>, DomainError> {
        let want = if blocked {
            SlotState::Free
        } else {
            SlotState::Blocked
        };
        let mut wrong = Vec::new();
        for id in &seats {
            match self.slots.get(*id) {
                None => return Err(DomainError::UnknownSeats(id.to_string())),
                Some(slot) if slot != want => wrong.push(*id),
                Some(_) => {}
            }
        }
        if !wrong.is_empty() {
            return Err(DomainError::SeatUnavailable { seats: wrong });
        }
        Ok(vec![Event::Blocked { seats, blocked }])
    }

    fn decide_expire(&mut self, now_ms: u64) -> Vec<Event> {
        let mut events = Vec::new();
        let mut pinned = Vec::new();
        while let Some(Reverse((at, hold_id))) = self.deadlines.peek().copied() {
            if at > now_ms {
                break;
            }
            self.deadlines.pop();
            match self.holds.get(&hold_id) {
                // Stale entry: the hold was renewed, released or sold since.
                Some(hold) if hold.expires_at_ms != at => {}
                None => {}
                Some(hold) if hold.sale.is_some() => pinned.push((at, hold_id)),
                Some(hold) => events.push(Event::Expired {
                    hold_id,
                    seats: hold.seats.clone(),
                }),
            }
        }
        // Pinned holds expire after their sale is aborted, never during it.
        self.deadlines.extend(pinned.into_iter().map(Reverse));
        events
    }

    fn owned_hold(&self, hold_id: HoldId, terminal_id: TerminalId) -> Result<&Hold, DomainError> {
        let hold = self
            .holds
            .get(&hold_id)
            .ok_or(DomainError::HoldNotFound(hold_id))?;
        if hold.terminal_id != terminal_id {
            return Err(DomainError::NotYourHold(hold_id));
        }
        Ok(hold)
    }

    // ---- the two-step sale -------------------------------------------------------------------

    /// Validates a confirm and pins the hold: the returned intent is what the database must
    /// commit before [`Command::Sell`]. Candidate codes come from the caller's generator
    /// (randomness is plumbing); one already in use on this show is skipped, up to
    /// [`CODE_CANDIDATES_MAX`] candidates. A retry of an aborted attempt re-sends its code.
    /// A new sale at or after `sales_close_at_ms` is [`DomainError::SalesClosed`]; the retry of
    /// an aborted attempt is not (its outcome may be committed already, and it is re-sent so the
    /// store can say so).
    #[allow(clippy::too_many_arguments)]
    pub fn begin_sale(
        &mut self,
        hold_id: HoldId,
        terminal_id: TerminalId,
        payment: Payment,
        idempotency_key: String,
        codes: &mut dyn CodeGenerator,
        sales_close_at_ms: u64,
        now_ms: u64,
        lamport: u64,
        node_id: u32,
    ) -> Result<SaleIntent, DomainError> {
        if self
            .confirm_keys
            .contains_key(&(terminal_id, idempotency_key.clone()))
        {
            return Err(DomainError::KeyReused(idempotency_key));
        }
        let hold = self.owned_hold(hold_id, terminal_id)?;
        if hold.sale.is_some() {
            return Err(DomainError::SaleInProgress(hold_id));
        }
        // Only the hold's own captured payment sells a hold that waits for one; a gateway
        // payment sells nothing else.
        let by_gateway = payment.method == PaymentMethod::Gateway;
        if hold.payment_order.is_some() != by_gateway {
            return Err(if by_gateway {
                DomainError::InvalidArgument(format!("hold {hold_id} has no payment order"))
            } else {
                DomainError::AwaitingPayment(hold_id)
            });
        }
        if hold.expires_at_ms <= now_ms {
            return Err(DomainError::HoldExpired(hold_id));
        }
        if now_ms >= sales_close_at_ms {
            return Err(DomainError::SalesClosed {
                closes_at_ms: sales_close_at_ms,
            });
        }
        let mut seats = Vec::with_capacity(hold.seats.len());
        for id in &hold.seats {
            let seat = self
                .layout
                .seat(*id)
                .ok_or_else(|| DomainError::UnknownSeats(id.to_string()))?;
            let price_minor = self
                .pricing
                .price(seat.category)
                .ok_or(DomainError::NotOnSale(seat.category))?;
            seats.push(BookedSeat {
                seat_id: *id,
                label: seat.label.clone(),
                category: seat.category,
                price_minor,
            });
        }
        let code = self.free_code(codes)?;
        let price_total: i64 = seats.iter().map(|s| s.price_minor).sum();
        let charged = if payment.method == PaymentMethod::Comp {
            0
        } else {
            price_total
        };
        if payment.amount.amount_minor != charged
            || payment.amount.currency != self.pricing.currency
        {
            return Err(DomainError::InvalidArgument(format!(
                "payment of {} {} does not match the amount due, {charged} {}",
                payment.amount.amount_minor, payment.amount.currency, self.pricing.currency
            )));
        }
        let booking = Booking {
            code,
            show_id: self.show_id,
            seats,
            total: self.pricing.money(charged),
            payment,
            status: BookingStatus::Confirmed,
            terminal_id,
            sold_at_ms: now_ms,
            lamport,
            node_id,
        };
        let intent = SaleIntent {
            hold_id,
            booking,
            idempotency_key,
        };
        if let Some(hold) = self.holds.get_mut(&hold_id) {
            hold.sale = Some(Box::new(intent.clone()));
        }
        Ok(intent)
    }

    /// The first candidate code not in use on this show.
    fn free_code(&self, codes: &mut dyn CodeGenerator) -> Result<String, DomainError> {
        (0..CODE_CANDIDATES_MAX)
            .map(|_| codes.next_code())
            .find(|code| !self.booking_index.contains_key(code))
            .ok_or(DomainError::CodesExhausted(CODE_CANDIDATES_MAX))
    }

    /// Unpins a hold whose sale is definitely not committed: its seats stay held until its
    /// deadline, and a retry with the same key is a new attempt.
    pub fn abort_sale(&mut self, hold_id: HoldId) {
        if let Some(hold) = self.holds.get_mut(&hold_id) {
            hold.sale = None;
        }
    }

    // ---- snapshots ---------------------------------------------------------------------------

    /// The whole state at its sequence number, for a follower that is too far behind.
    pub fn snapshot(&self) -> ShowSnapshot {
        let mut holds: Vec<HoldSnapshot> = self
            .holds
            .values()
            .map(|h| HoldSnapshot {
                hold_id: h.id,
                terminal_id: h.terminal_id,
                seats: h.seats.clone(),
                created_at_ms: h.created_at_ms,
                expires_at_ms: h.expires_at_ms,
                idempotency_key: h.idempotency_key.clone(),
            })
            .collect();
        holds.sort_by_key(|h| h.hold_id);
        ShowSnapshot {
            show_id: self.show_id,
            seq: self.seq,
            bookings: self
                .bookings
                .iter()
                .map(|e| BookingSnapshot {
                    booking: e.booking.clone(),
                    idempotency_key: e.idempotency_key.clone(),
                })
                .collect(),
            holds,
            blocked: (0..self.slots.seat_count() as SeatId)
                .filter(|id| self.slots.get(*id) == Some(SlotState::Blocked))
                .collect(),
        }
    }

    /// Rebuilds a show from a snapshot, through the same `evolve` as every event.
    ///
    /// Order matters: bookings first (each sold, then cancelled if it was, in sale order, so a
    /// seat sold, cancelled and sold again ends sold), then the blocked seats (a seat may be
    /// blocked after its booking was cancelled), then the open holds (on seats that are free
    /// once every booking and block is in place).
    pub fn from_snapshot(
        layout: Arc<Layout>,
        pricing: Pricing,
        limits: HoldLimits,
        snapshot: &ShowSnapshot,
    ) -> Result<Self, DomainError> {
        let mut state = ShowState::new(snapshot.show_id, layout, pricing, limits);
        for entry in &snapshot.bookings {
            let mut booking = entry.booking.clone();
            let status = booking.status;
            // Admitted bookings keep their seats and their status.
            if !status.is_live() {
                booking.status = BookingStatus::Confirmed;
            }
            let code = booking.code.clone();
            state.evolve(&Event::Sold {
                hold_id: None,
                booking,
                idempotency_key: entry.idempotency_key.clone(),
            })?;
            if !status.is_live() {
                state.evolve(&Event::Cancelled {
                    code,
                    refund: status == BookingStatus::Refunded,
                })?;
            }
        }
        state.evolve(&Event::Blocked {
            seats: snapshot.blocked.clone(),
            blocked: true,
        })?;
        for hold in &snapshot.holds {
            state.evolve(&Event::Held {
                hold_id: hold.hold_id,
                terminal_id: hold.terminal_id,
                seats: hold.seats.clone(),
                expires_at_ms: hold.expires_at_ms,
                created_at_ms: hold.created_at_ms,
                idempotency_key: hold.idempotency_key.clone(),
            })?;
        }
        state.seq = snapshot.seq;
        Ok(state)
    }

    /// The largest hold id in this show (a new leader continues above it).
    pub fn max_hold_id(&self) -> Option<HoldId> {
        self.holds.keys().copied().max()
    }

    // ---- events ------------------------------------------------------------------------------

    /// Applies one event; checks it fits before changing anything.
    fn evolve(&mut self, event: &Event) -> Result<(), DomainError> {
        match event {
            Event::Held {
                hold_id,
                terminal_id,
                seats,
                expires_at_ms,
                created_at_ms,
                idempotency_key,
            } => {
                self.expect_slots(seats, SlotState::Free)?;
                if self.holds.contains_key(hold_id) {
                    return Err(DomainError::BadEvent(format!("hold {hold_id} exists")));
                }
                self.set_slots(seats, SlotState::Held(*hold_id));
                *self.holds_per_terminal.entry(*terminal_id).or_insert(0) += 1;
                if let Some(key) = idempotency_key {
                    self.hold_keys.insert((*terminal_id, key.clone()), *hold_id);
                }
                self.deadlines.push(Reverse((*expires_at_ms, *hold_id)));
                self.holds.insert(
                    *hold_id,
                    Hold {
                        id: *hold_id,
                        terminal_id: *terminal_id,
                        seats: seats.clone(),
                        created_at_ms: *created_at_ms,
                        expires_at_ms: *expires_at_ms,
                        idempotency_key: idempotency_key.clone(),
                        sale: None,
                        payment_order: None,
                    },
                );
            }
            Event::Renewed {
                hold_id,
                expires_at_ms,
            } => {
                let hold = self
                    .holds
                    .get_mut(hold_id)
                    .ok_or(DomainError::HoldNotFound(*hold_id))?;
                hold.expires_at_ms = *expires_at_ms;
                self.deadlines.push(Reverse((*expires_at_ms, *hold_id)));
            }
            Event::AwaitingPayment {
                hold_id,
                order_id,
                expires_at_ms,
            } => {
                let hold = self
                    .holds
                    .get_mut(hold_id)
                    .ok_or(DomainError::HoldNotFound(*hold_id))?;
                hold.expires_at_ms = *expires_at_ms;
                hold.payment_order = Some(*order_id);
                self.deadlines.push(Reverse((*expires_at_ms, *hold_id)));
            }
            Event::Released { hold_id, seats } | Event::Expired { hold_id, seats } => {
                self.expect_slots(seats, SlotState::Held(*hold_id))?;
                let hold = self.remove_hold(*hold_id)?;
                debug_assert_eq!(
                    &hold.seats, seats,
                    "a release names exactly the hold's seats"
                );
                self.set_slots(&hold.seats, SlotState::Free);
            }
            Event::Sold {
                hold_id,
                booking,
                idempotency_key,
            } => self.evolve_sold(*hold_id, booking, idempotency_key)?,
            Event::Cancelled { code, refund } => {
                let index = *self
                    .booking_index
                    .get(code)
                    .ok_or_else(|| DomainError::BookingNotFound(code.clone()))?;
                let entry = &mut self.bookings[index as usize];
                if entry.booking.status != BookingStatus::Confirmed {
                    return Err(DomainError::BookingNotConfirmed(code.clone()));
                }
                entry.booking.status = if *refund {
                    BookingStatus::Refunded
                } else {
                    BookingStatus::Cancelled
                };
                let seats: Vec<SeatId> = entry.booking.seats.iter().map(|s| s.seat_id).collect();
                self.set_slots(&seats, SlotState::Free);
            }
            Event::SeatsRefunded { code, seats } => self.evolve_seats_refunded(code, seats)?,
            Event::Admitted { code } => {
                let index = *self
                    .booking_index
                    .get(code)
                    .ok_or_else(|| DomainError::BookingNotFound(code.clone()))?;
                let entry = &mut self.bookings[index as usize];
                if entry.booking.status != BookingStatus::Confirmed {
                    return Err(DomainError::BookingNotConfirmed(code.clone()));
                }
                entry.booking.status = BookingStatus::Admitted;
            }
            Event::Blocked { seats, blocked } => {
                let (from, to) = if *blocked {
                    (SlotState::Free, SlotState::Blocked)
                } else {
                    (SlotState::Blocked, SlotState::Free)
                };
                self.expect_slots(seats, from)?;
                self.set_slots(seats, to);
            }
        }
        Ok(())
    }

    fn evolve_sold(
        &mut self,
        hold_id: Option<HoldId>,
        booking: &Booking,
        key: &str,
    ) -> Result<(), DomainError> {
        if self.booking_index.contains_key(&booking.code) {
            return Err(DomainError::BadEvent(format!(
                "booking {} exists",
                booking.code
            )));
        }
        let seats: Vec<SeatId> = booking.seats.iter().map(|s| s.seat_id).collect();
        match hold_id {
            Some(id) => {
                self.expect_slots(&seats, SlotState::Held(id))?;
                self.remove_hold(id)?;
            }
            None if booking.status.is_live() => self.expect_slots(&seats, SlotState::Free)?,
            None => {}
        }
        let index = u32::try_from(self.bookings.len())
            .map_err(|_| DomainError::BadEvent("too many bookings on one show".into()))?;
        if booking.status.is_live() {
            self.set_slots(&seats, SlotState::Sold(index));
        }
        self.booking_index.insert(booking.code.clone(), index);
        self.confirm_keys
            .insert((booking.terminal_id, key.to_owned()), index);
        self.bookings.push(BookingEntry {
            booking: booking.clone(),
            idempotency_key: key.to_owned(),
        });
        Ok(())
    }

    fn remove_hold(&mut self, hold_id: HoldId) -> Result<Hold, DomainError> {
        let hold = self
            .holds
            .remove(&hold_id)
            .ok_or(DomainError::HoldNotFound(hold_id))?;
        if let Some(open) = self.holds_per_terminal.get_mut(&hold.terminal_id) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                self.holds_per_terminal.remove(&hold.terminal_id);
            }
        }
        if let Some(key) = &hold.idempotency_key {
            self.hold_keys.remove(&(hold.terminal_id, key.clone()));
        }
        Ok(hold)
    }

    fn expect_slots(&self, seats: &[SeatId], want: SlotState) -> Result<(), DomainError> {
        let wrong: Vec<SeatId> = seats
            .iter()
            .copied()
            .filter(|id| self.slots.get(*id) != Some(want))
            .collect();
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(DomainError::SeatUnavailable { seats: wrong })
        }
    }

    /// Sets seats to `to`, keeping the free counters in step. Callers have checked the seats exist.
    fn set_slots(&mut self, seats: &[SeatId], to: SlotState) {
        for id in seats {
            let Some(category) = self.layout.seat(*id).map(|s| s.category as usize) else {
                continue;
            };
            let Some(was_free) = self.slots.set(*id, to) else {
                continue;
            };
            match (was_free, to == SlotState::Free) {
                (true, false) => self.free_by_category[category] -= 1,
                (false, true) => self.free_by_category[category] += 1,
                _ => {}
            }
        }
        debug_assert_eq!(
            self.free_by_category.iter().sum::<u32>() as usize,
            self.slots.free_count(),
            "free counters out of step with the seats"
        );
    }
}
