//! Partial refunds: some seats of a confirmed booking leave it and become free.

use cinebook_protocol::types::{BookedSeat, Booking, BookingStatus, SeatId};

use super::{ShowState, SlotState};
use crate::domain::{DomainError, Event};

/// The seats of `booking` named by `seats`, checked: at least one, no repeats, each one of the
/// booking's now, and not all of them (a refund of every seat is a `Cancel`).
pub fn refunded_seats(booking: &Booking, seats: &[SeatId]) -> Result<Vec<BookedSeat>, DomainError> {
    if booking.status != BookingStatus::Confirmed {
        return Err(DomainError::BookingNotConfirmed(booking.code.clone()));
    }
    if seats.is_empty() {
        return Err(DomainError::InvalidArgument(
            "a partial refund names at least one seat".into(),
        ));
    }
    let mut sorted = seats.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != seats.len() {
        return Err(DomainError::InvalidArgument(
            "a partial refund names each seat once".into(),
        ));
    }
    let missing: Vec<SeatId> = sorted
        .iter()
        .copied()
        .filter(|id| !booking.seats.iter().any(|s| s.seat_id == *id))
        .collect();
    if !missing.is_empty() {
        return Err(DomainError::SeatsNotInBooking {
            code: booking.code.clone(),
            seats: missing,
        });
    }
    if sorted.len() == booking.seats.len() {
        return Err(DomainError::InvalidArgument(format!(
            "every seat of booking {}: refund it with Cancel",
            booking.code
        )));
    }
    Ok(booking
        .seats
        .iter()
        .filter(|s| sorted.binary_search(&s.seat_id).is_ok())
        .cloned()
        .collect())
}

impl ShowState {
    /// Decides `Command::RefundSeats`.
    pub(super) fn decide_refund_seats(
        &self,
        code: String,
        seats: Vec<SeatId>,
    ) -> Result<Vec<Event>, DomainError> {
        let booking = self
            .booking(&code)
            .ok_or_else(|| DomainError::BookingNotFound(code.clone()))?;
        refunded_seats(booking, &seats)?;
        Ok(vec![Event::SeatsRefunded { code, seats }])
    }

    /// Applies `Event::SeatsRefunded`: the seats leave the booking, its total drops by their
    /// prices, and they become free.
    pub(super) fn evolve_seats_refunded(
        &mut self,
        code: &str,
        seats: &[SeatId],
    ) -> Result<(), DomainError> {
        let index = *self
            .booking_index
            .get(code)
            .ok_or_else(|| DomainError::BookingNotFound(code.to_owned()))?;
        let booking = &self.bookings[index as usize].booking;
        let refunded = refunded_seats(booking, seats)?;
        self.expect_slots(seats, SlotState::Sold(index))?;
        let amount_minor: i64 = refunded.iter().map(|s| s.price_minor).sum();
        let entry = &mut self.bookings[index as usize];
        entry.booking.seats.retain(|s| !seats.contains(&s.seat_id));
        entry.booking.total.amount_minor -= amount_minor;
        debug_assert!(
            !entry.booking.seats.is_empty(),
            "a partial refund keeps a seat"
        );
        self.set_slots(seats, SlotState::Free);
        Ok(())
    }
}
