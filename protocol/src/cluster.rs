//! Values that only cluster nodes exchange: the replicated event stream, show snapshots for a
//! follower that is too far behind, and the audit trail.

use serde::{Deserialize, Serialize};

use crate::types::{Booking, HoldId, SeatId, ShowId, TerminalId};

/// A seat-map change as the leader replicates it to followers. Mirrors the server's events;
/// append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicatedEvent {
    /// (0) Seats were held.
    Held {
        /// Hold.
        hold_id: HoldId,
        /// Owner.
        terminal_id: TerminalId,
        /// Seats.
        seats: Vec<SeatId>,
        /// Deadline.
        expires_at_ms: u64,
        /// Creation time.
        created_at_ms: u64,
        /// Idempotency key of the hold request.
        idempotency_key: Option<String>,
    },
    /// (1) A hold's deadline moved.
    Renewed {
        /// Hold.
        hold_id: HoldId,
        /// New deadline.
        expires_at_ms: u64,
    },
    /// (2) A hold was released.
    Released {
        /// Hold.
        hold_id: HoldId,
        /// Its seats.
        seats: Vec<SeatId>,
    },
    /// (3) A hold expired.
    Expired {
        /// Hold.
        hold_id: HoldId,
        /// Its seats.
        seats: Vec<SeatId>,
    },
    /// (4) A sale was committed.
    Sold {
        /// The hold it came from (`None` when rebuilt from the database).
        hold_id: Option<HoldId>,
        /// The booking.
        booking: Booking,
        /// The confirm's idempotency key.
        idempotency_key: String,
    },
    /// (5) A booking was cancelled.
    Cancelled {
        /// Code.
        code: String,
        /// Refunded or not.
        refund: bool,
    },
    /// (6) Seats were blocked or unblocked.
    Blocked {
        /// Seats.
        seats: Vec<SeatId>,
        /// Blocked or unblocked.
        blocked: bool,
    },
    /// (7) A hold waits for an online payment: it can no longer be renewed, released or
    /// confirmed by its terminal, and expires at `expires_at_ms` unless the payment is captured.
    AwaitingPayment {
        /// Hold.
        hold_id: HoldId,
        /// The payment order.
        order_id: u64,
        /// The end of the payment window: the hold's new deadline.
        expires_at_ms: u64,
    },
    /// (8) Some seats of a confirmed booking were refunded: they leave the booking (its total
    /// drops by their prices) and become free; the booking keeps its other seats.
    SeatsRefunded {
        /// Booking code.
        code: String,
        /// The seats refunded (each one of the booking's).
        seats: Vec<SeatId>,
    },
    /// (9) A confirmed booking was admitted at the door (after the store recorded it): its
    /// status becomes `Admitted`; it keeps its seats.
    Admitted {
        /// Booking code.
        code: String,
    },
}

/// One open hold in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldSnapshot {
    /// Hold.
    pub hold_id: HoldId,
    /// Owner.
    pub terminal_id: TerminalId,
    /// Seats.
    pub seats: Vec<SeatId>,
    /// Creation time.
    pub created_at_ms: u64,
    /// Deadline.
    pub expires_at_ms: u64,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
}

/// A booking with the key that created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingSnapshot {
    /// The booking, with its current status.
    pub booking: Booking,
    /// The confirm's idempotency key.
    pub idempotency_key: String,
}

/// A whole show's seat map at a sequence number: what a follower too far behind starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowSnapshot {
    /// The show.
    pub show_id: ShowId,
    /// The sequence number the snapshot reflects.
    pub seq: u64,
    /// Every booking, any status, in sale order.
    pub bookings: Vec<BookingSnapshot>,
    /// Open holds.
    pub holds: Vec<HoldSnapshot>,
    /// Blocked seats.
    pub blocked: Vec<SeatId>,
}

/// Where a follower is in one show's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowPosition {
    /// The show.
    pub show_id: ShowId,
    /// The last sequence number applied.
    pub seq: u64,
}

/// One line of a show's audit trail, listed in `(lamport, node_id)` order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Lamport time of the change.
    pub lamport: u64,
    /// Node that made it.
    pub node_id: u32,
    /// Kind, such as `sale` or `refund`.
    pub kind: String,
    /// Booking code, if any.
    pub code: Option<String>,
    /// Human-readable detail.
    pub detail: String,
    /// Wall-clock time, ms since the Unix epoch.
    pub at_ms: u64,
}
