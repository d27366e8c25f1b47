//! [`DomainError`]: why the seat map refused a command.

use cinebook_protocol::types::{Category, HoldId, SeatId};
use cinebook_protocol::{ErrorBody, ErrorCode};

/// Why a command was refused. Nothing changed when a command returns one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Some seats are not free; nothing was held.
    #[error("seats not available: {seats:?}")]
    SeatUnavailable {
        /// The seats that are held, sold or blocked.
        seats: Vec<SeatId>,
    },
    /// Seat ids or labels that do not exist on this screen.
    #[error("no such seats on this screen: {0}")]
    UnknownSeats(String),
    /// Not enough free seats of the category.
    #[error("sold out: {wanted} {category} seats wanted, {free} free")]
    SoldOut {
        /// Category asked for.
        category: &'static str,
        /// Seats wanted.
        wanted: u32,
        /// Seats free.
        free: u32,
    },
    /// Enough free seats, but no adjacent block of the size asked for.
    #[error("no {wanted} adjacent {category} seats in one row: the largest free block is {largest_block} ({free} free in all)")]
    NoAdjacentBlock {
        /// Category asked for.
        category: &'static str,
        /// Seats wanted.
        wanted: u32,
        /// Largest adjacent free block.
        largest_block: u32,
        /// Seats free.
        free: u32,
    },
    /// The hold does not exist (never did, was released, or was sold).
    #[error("hold {0} not found")]
    HoldNotFound(HoldId),
    /// The hold's deadline has passed.
    #[error("hold {0} expired")]
    HoldExpired(HoldId),
    /// The hold belongs to another terminal.
    #[error("hold {0} belongs to another terminal")]
    NotYourHold(HoldId),
    /// The booking does not exist on this show.
    #[error("booking {0} not found")]
    BookingNotFound(String),
    /// Seats named for a partial refund that the booking does not own (any more).
    #[error("booking {code} does not own seats {seats:?} (refunded before, or never its own)")]
    SeatsNotInBooking {
        /// Booking code.
        code: String,
        /// The seats it does not own.
        seats: Vec<SeatId>,
    },
    /// The booking is not confirmed (already cancelled or refunded).
    #[error("booking {0} is not confirmed")]
    BookingNotConfirmed(String),
    /// A sale of this hold is being committed (by a confirm with another idempotency key).
    #[error("hold {0} is being confirmed by another request; retry with that request's idempotency key to get its answer")]
    SaleInProgress(HoldId),
    /// The hold waits for an online payment: only its captured payment sells it, and it ends
    /// with its payment window.
    #[error("hold {0} is waiting for its online payment")]
    AwaitingPayment(HoldId),
    /// An argument is out of range.
    #[error("{0}")]
    InvalidArgument(String),
    /// A per-terminal or per-hold limit was reached.
    #[error("limit reached: {0}")]
    Limit(String),
    /// An idempotency key was reused for a different request.
    #[error("idempotency key {0:?} was already used for a different request")]
    KeyReused(String),
    /// A category with no price for this show.
    #[error("{} seats are not on sale for this show", .0.name())]
    NotOnSale(Category),
    /// The show's sales window is closed for this caller.
    #[error("sales for this show closed at {closes_at_ms} (ms since the epoch)")]
    SalesClosed {
        /// When the caller's window closed.
        closes_at_ms: u64,
    },
    /// The show has held, sold or blocked seats or bookings: its layout cannot change.
    #[error("show {0} has held, sold or blocked seats or bookings; its layout cannot change")]
    LayoutLocked(u64),
    /// Every candidate booking code was in use on the show (a broken code generator).
    #[error("{0} candidate booking codes were all in use")]
    CodesExhausted(u32),
    /// A replayed event does not fit the state (a bug or a gap in the stream).
    #[error("event does not apply: {0}")]
    BadEvent(String),
}

impl DomainError {
    /// The wire error for this refusal.
    pub fn to_wire(&self) -> ErrorBody {
        let code = match self {
            DomainError::SeatUnavailable { seats } => ErrorCode::SeatUnavailable {
                seats: seats.clone(),
            },
            DomainError::UnknownSeats(_)
            | DomainError::InvalidArgument(_)
            | DomainError::NotOnSale(_) => ErrorCode::InvalidArgument,
            DomainError::SoldOut { .. } => ErrorCode::SoldOut,
            DomainError::NoAdjacentBlock {
                largest_block,
                free,
                ..
            } => ErrorCode::NoAdjacentSeats {
                largest_block: *largest_block,
                free: *free,
            },
            DomainError::HoldNotFound(_) | DomainError::BookingNotFound(_) => ErrorCode::NotFound,
            DomainError::HoldExpired(_) => ErrorCode::HoldExpired,
            DomainError::NotYourHold(_) => ErrorCode::Forbidden,
            // Another confirm of this hold (with another key) is committing: whatever its outcome,
            // this one cannot sell the hold. (A retry with that confirm's key gets its answer.)
            DomainError::SaleInProgress(_)
            | DomainError::BookingNotConfirmed(_)
            | DomainError::SeatsNotInBooking { .. }
            | DomainError::Limit(_)
            | DomainError::KeyReused(_)
            | DomainError::AwaitingPayment(_)
            | DomainError::LayoutLocked(_) => ErrorCode::Conflict,
            DomainError::BadEvent(_) | DomainError::CodesExhausted(_) => ErrorCode::Internal,
            DomainError::SalesClosed { .. } => ErrorCode::SalesClosed,
        };
        ErrorBody::new(code, self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragmentation_has_its_own_code_and_not_sold_out() {
        let error = DomainError::NoAdjacentBlock {
            category: "standard",
            wanted: 4,
            largest_block: 2,
            free: 5,
        };
        assert_eq!(
            error.to_wire().code,
            ErrorCode::NoAdjacentSeats {
                largest_block: 2,
                free: 5
            }
        );
        let sold_out = DomainError::SoldOut {
            category: "standard",
            wanted: 4,
            free: 3,
        };
        assert_eq!(sold_out.to_wire().code, ErrorCode::SoldOut);
    }

    #[test]
    fn a_second_confirm_of_a_hold_being_confirmed_is_a_conflict_not_unavailable() {
        // Unavailable says "the database is down, retry": this confirm can never sell the hold.
        let code = DomainError::SaleInProgress(7).to_wire().code;
        assert_eq!(code, ErrorCode::Conflict);
        assert!(!code.is_retryable());
    }
}
