//! [`Command`]s in, [`Event`]s out.

use cinebook_protocol::types::{Category, HoldId, SeatId, TerminalId};

/// Which seats a hold asks for, after labels were resolved to ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldSpec {
    /// Exactly these seats.
    Seats(Vec<SeatId>),
    /// Labels, resolved by the state machine (unknown labels are an error).
    Labels(Vec<String>),
    /// Best-available `count` adjacent seats of a category (`None`: standard).
    Best {
        /// Seats wanted.
        count: u32,
        /// Category.
        category: Option<Category>,
    },
}

/// A request to change a show's seat map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Hold seats for a terminal. `hold_id` is assigned by the caller (unique per cluster).
    Hold {
        /// New hold's id.
        hold_id: HoldId,
        /// Owner.
        terminal_id: TerminalId,
        /// Seats.
        spec: HoldSpec,
        /// Optional idempotency key (see [`super::ShowState::hold_for_key`]).
        idempotency_key: Option<String>,
        /// The caller's sales window closes at this time ([`super::sales_close_at_ms`]); at or
        /// after it the hold is refused with [`super::DomainError::SalesClosed`].
        sales_close_at_ms: u64,
    },
    /// Push a hold's deadline to `now + ttl`, capped by the ceiling.
    Renew {
        /// Hold.
        hold_id: HoldId,
        /// Caller, who must own it.
        terminal_id: TerminalId,
    },
    /// Give a hold's seats back.
    Release {
        /// Hold.
        hold_id: HoldId,
        /// Caller, who must own it.
        terminal_id: TerminalId,
    },
    /// Complete a sale begun with [`super::ShowState::begin_sale`], after the database committed it.
    Sell {
        /// The pinned hold.
        hold_id: HoldId,
    },
    /// Cancel a booking (after the database recorded it), freeing its seats.
    Cancel {
        /// Booking code.
        code: String,
        /// Whether it was refunded.
        refund: bool,
    },
    /// Refund some seats of a confirmed booking (after the database recorded it): they leave
    /// the booking and become free; the booking keeps the others.
    RefundSeats {
        /// Booking code.
        code: String,
        /// The seats: some, not all, of the booking's.
        seats: Vec<SeatId>,
    },
    /// Admit a confirmed booking at the door (after the store recorded it): it becomes
    /// `Admitted` and keeps its seats. Any other status is refused.
    Admit {
        /// Booking code.
        code: String,
    },
    /// Block or unblock seats. Only free seats can be blocked; only blocked seats unblocked.
    Block {
        /// Seats.
        seats: Vec<SeatId>,
        /// Block (`true`) or unblock.
        blocked: bool,
    },
    /// Release every hold whose deadline is at or before now.
    Expire,
    /// Pin a hold to a payment order until `until_ms` (the payment window's end): no renew,
    /// release or ordinary confirm; it expires then unless the order's payment sells it.
    AwaitPayment {
        /// Hold.
        hold_id: HoldId,
        /// Caller, who must own it.
        terminal_id: TerminalId,
        /// The payment order.
        order_id: u64,
        /// The hold's new deadline.
        until_ms: u64,
    },
    /// Give back the seats of a hold pinned to payment order `order_id` that was not paid (the
    /// customer declined at the checkout or left; the payment path checked the gateway first
    /// and ended the order). The ordinary `Release` stays refused for a pinned hold.
    ReleaseUnpaid {
        /// Hold.
        hold_id: HoldId,
        /// Caller, who must own it.
        terminal_id: TerminalId,
        /// The order the hold must be pinned to.
        order_id: u64,
    },
}

/// A state change of one show. Replaying a show's events in order rebuilds its state.
///
/// It is the wire type followers receive (`ReplicatedEvent`): the leader streams exactly what its
/// state machine produced, and the append-only rule of the protocol keeps old events readable.
pub use cinebook_protocol::cluster::ReplicatedEvent as Event;

/// An event with its place in the show's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// The show's sequence number after this event (1 for the first).
    pub seq: u64,
    /// Lamport time of the change.
    pub lamport: u64,
    /// The change.
    pub event: Event,
}
