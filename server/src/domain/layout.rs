//! [`Layout`]: a screen's seats arranged for selection; [`Pricing`]: a show's prices.

use std::collections::HashMap;

use cinebook_protocol::types::{Category, Money, Screen, Seat, SeatId, Show};

use super::DomainError;

/// The largest number of seats a screen may have.
pub const SCREEN_SEATS_MAX: usize = 4096;

/// A screen's seats, grouped into rows and adjacency blocks (runs of seats with consecutive x in
/// one row; a gap in x is an aisle). Built once per screen and shared by its shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    seats: Vec<Seat>,
    by_label: HashMap<String, SeatId>,
    /// Each block: seat ids left to right; blocks ordered by row then x.
    blocks: Vec<Vec<SeatId>>,
    /// Ideal horizontal position, doubled (to stay integral).
    ideal_x2: i64,
    /// Ideal row position, doubled.
    ideal_y2: i64,
}

impl Layout {
    /// Builds a layout, checking that `seats[i].id == i` and labels are unique.
    pub fn new(screen: &Screen) -> Result<Self, DomainError> {
        let seats = screen.seats.clone();
        if seats.is_empty() || seats.len() > SCREEN_SEATS_MAX {
            return Err(DomainError::InvalidArgument(format!(
                "a screen has 1..={SCREEN_SEATS_MAX} seats, screen {} has {}",
                screen.id,
                seats.len()
            )));
        }
        let mut by_label = HashMap::with_capacity(seats.len());
        for (index, seat) in seats.iter().enumerate() {
            if seat.id as usize != index {
                return Err(DomainError::InvalidArgument(format!(
                    "seat ids must be 0..n in order: seat {} is at position {index}",
                    seat.id
                )));
            }
            if by_label.insert(seat.label.clone(), seat.id).is_some() {
                return Err(DomainError::InvalidArgument(format!(
                    "duplicate seat label {}",
                    seat.label
                )));
            }
        }
        let blocks = adjacency_blocks(&seats);
        let (min_x, max_x) = min_max(seats.iter().map(|s| s.x));
        let (min_y, max_y) = min_max(seats.iter().map(|s| s.y));
        // The best seats are centred, about two thirds of the way back.
        let ideal_x2 = i64::from(min_x) + i64::from(max_x);
        let ideal_y2 = 2 * i64::from(min_y) + (4 * (i64::from(max_y) - i64::from(min_y))) / 3;
        Ok(Self {
            seats,
            by_label,
            blocks,
            ideal_x2,
            ideal_y2,
        })
    }

    /// Every seat; `seats()[i].id == i`.
    pub fn seats(&self) -> &[Seat] {
        &self.seats
    }

    /// Number of seats.
    pub fn len(&self) -> usize {
        self.seats.len()
    }

    /// Whether the layout has no seats (never true for a built layout).
    pub fn is_empty(&self) -> bool {
        self.seats.is_empty()
    }

    /// A seat by id.
    pub fn seat(&self, id: SeatId) -> Option<&Seat> {
        self.seats.get(id as usize)
    }

    /// A seat id by label.
    pub fn by_label(&self, label: &str) -> Option<SeatId> {
        self.by_label.get(label).copied()
    }

    /// Adjacency blocks, each left to right.
    pub fn blocks(&self) -> &[Vec<SeatId>] {
        &self.blocks
    }

    /// Distance of a window of seats from the ideal position (lower is better).
    pub fn distance(&self, window: &[SeatId]) -> i64 {
        let (Some(first), Some(last)) = (window.first(), window.last()) else {
            return i64::MAX;
        };
        let (Some(a), Some(b)) = (self.seat(*first), self.seat(*last)) else {
            return i64::MAX;
        };
        let centre_x2 = i64::from(a.x) + i64::from(b.x);
        let dx = (centre_x2 - self.ideal_x2).abs();
        let dy = (2 * i64::from(a.y) - self.ideal_y2).abs();
        // A row is worth more than a seat sideways.
        dx + 2 * dy
    }
}

fn min_max(values: impl Iterator<Item = u16>) -> (u16, u16) {
    values.fold((u16::MAX, u16::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

fn adjacency_blocks(seats: &[Seat]) -> Vec<Vec<SeatId>> {
    let mut order: Vec<&Seat> = seats.iter().collect();
    order.sort_by_key(|s| (s.y, s.x));
    let mut blocks: Vec<Vec<SeatId>> = Vec::new();
    let mut previous: Option<&Seat> = None;
    for seat in order {
        let adjacent =
            previous.is_some_and(|p| p.y == seat.y && u32::from(p.x) + 1 == u32::from(seat.x));
        match blocks.last_mut() {
            Some(block) if adjacent => block.push(seat.id),
            _ => blocks.push(vec![seat.id]),
        }
        previous = Some(seat);
    }
    blocks
}

/// A show's prices per category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    /// ISO 4217 currency.
    pub currency: String,
    prices: [Option<i64>; Category::ALL.len()],
}

impl Pricing {
    /// Prices from a show; a negative price is refused.
    pub fn new(show: &Show) -> Result<Self, DomainError> {
        let mut prices = [None; Category::ALL.len()];
        for price in &show.prices {
            if price.amount_minor < 0 {
                return Err(DomainError::InvalidArgument(format!(
                    "negative price for {}",
                    price.category.name()
                )));
            }
            prices[price.category as usize] = Some(price.amount_minor);
        }
        Ok(Self {
            currency: show.currency.clone(),
            prices,
        })
    }

    /// The price of a category, `None` if not on sale.
    pub fn price(&self, category: Category) -> Option<i64> {
        self.prices[category as usize]
    }

    /// Money in this show's currency.
    pub fn money(&self, amount_minor: i64) -> Money {
        Money {
            amount_minor,
            currency: self.currency.clone(),
        }
    }
}
