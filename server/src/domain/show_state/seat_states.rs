//! [`SeatStates`]: a show's seat states in one byte a seat, with the hold and booking that own a
//! seat in side tables, so that a show nobody touched costs one byte a seat (400 B for 400
//! seats, where a `Vec<SlotState>` cost 16 B a seat) and no seat has a heap allocation.
//!
//! [`SlotState`] stays the value callers see; this type only stores it compactly.

use std::collections::HashMap;

use cinebook_protocol::types::{HoldId, SeatId};

use super::SlotState;

const FREE: u8 = 0;
const BLOCKED: u8 = 1;
const HELD: u8 = 2;
const SOLD: u8 = 3;

/// Seat states: `kinds[seat]` is free, blocked, held or sold; the hold of a held seat is in
/// `held_by`, the booking index of a sold seat in `sold_to` (allocated at the first sale).
#[derive(Debug, Clone, Default)]
pub struct SeatStates {
    kinds: Vec<u8>,
    held_by: HashMap<SeatId, HoldId>,
    sold_to: Vec<u32>,
}

impl SeatStates {
    /// `len` free seats.
    pub fn new(len: usize) -> Self {
        Self {
            kinds: vec![FREE; len],
            held_by: HashMap::new(),
            sold_to: Vec::new(),
        }
    }

    /// Seats.
    pub fn seat_count(&self) -> usize {
        self.kinds.len()
    }

    /// A seat's state; `None` for a seat the layout does not have.
    pub fn get(&self, id: SeatId) -> Option<SlotState> {
        let kind = *self.kinds.get(id as usize)?;
        Some(match kind {
            FREE => SlotState::Free,
            BLOCKED => SlotState::Blocked,
            HELD => {
                let hold = self.held_by.get(&id).copied();
                debug_assert!(hold.is_some(), "a held seat has its hold");
                SlotState::Held(hold.unwrap_or_default())
            }
            _ => {
                let booking = self.sold_to.get(id as usize).copied();
                debug_assert!(booking.is_some(), "a sold seat has its booking");
                SlotState::Sold(booking.unwrap_or_default())
            }
        })
    }

    /// Whether a seat is free (false for a seat the layout does not have).
    pub fn is_free(&self, id: SeatId) -> bool {
        self.kinds.get(id as usize) == Some(&FREE)
    }

    /// Whether any seat is not free.
    pub fn any_taken(&self) -> bool {
        self.kinds.iter().any(|k| *k != FREE)
    }

    /// Free seats.
    pub fn free_count(&self) -> usize {
        self.kinds.iter().filter(|k| **k == FREE).count()
    }

    /// Every seat's state, in seat order.
    pub fn iter(&self) -> impl Iterator<Item = SlotState> + '_ {
        (0..self.kinds.len() as SeatId).filter_map(|id| self.get(id))
    }

    /// Sets a seat (that exists) to `to`; returns whether it was free.
    pub fn set(&mut self, id: SeatId, to: SlotState) -> Option<bool> {
        let len = self.kinds.len();
        let kind = self.kinds.get_mut(id as usize)?;
        let was_free = *kind == FREE;
        if *kind == HELD {
            self.held_by.remove(&id);
        }
        *kind = match to {
            SlotState::Free => FREE,
            SlotState::Blocked => BLOCKED,
            SlotState::Held(hold) => {
                self.held_by.insert(id, hold);
                HELD
            }
            SlotState::Sold(booking) => {
                if self.sold_to.is_empty() {
                    self.sold_to = vec![0; len];
                }
                self.sold_to[id as usize] = booking;
                SOLD
            }
        };
        Some(was_free)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_and_held_seats_leave_the_side_table() {
        let mut seats = SeatStates::new(4);
        assert_eq!(seats.free_count(), 4);
        seats.set(0, SlotState::Held(77));
        seats.set(1, SlotState::Sold(3));
        seats.set(2, SlotState::Blocked);
        let all: Vec<SlotState> = seats.iter().collect();
        assert_eq!(
            all,
            vec![
                SlotState::Held(77),
                SlotState::Sold(3),
                SlotState::Blocked,
                SlotState::Free
            ]
        );
        assert_eq!(seats.set(0, SlotState::Sold(4)), Some(false));
        assert!(
            seats.held_by.is_empty(),
            "a seat sold out of a hold leaves held_by"
        );
        assert_eq!(seats.get(0), Some(SlotState::Sold(4)));
        assert_eq!(seats.get(9), None);
        assert_eq!(seats.set(9, SlotState::Free), None);
        assert!(!seats.is_free(9));
    }
}
