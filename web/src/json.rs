//! The JSON shapes of the API (docs/WEB.md). Enums are lowercase names.

use cinebook_protocol::types::{
    Booking, Category, HoldInfo, Money, PaymentOrderInfo, SeatMap, SeatState, ShowSummary,
};
use serde::{Deserialize, Serialize};

/// An amount.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MoneyJson {
    /// Minor units.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
}

impl From<&Money> for MoneyJson {
    fn from(m: &Money) -> MoneyJson {
        MoneyJson {
            amount_minor: m.amount_minor,
            currency: m.currency.clone(),
        }
    }
}

/// A category's price.
#[derive(Debug, Clone, Serialize)]
pub struct PriceJson {
    /// Category name.
    pub category: &'static str,
    /// Minor units of the show's currency.
    pub amount_minor: i64,
}

/// A show in a listing.
#[derive(Debug, Clone, Serialize)]
pub struct ShowJson {
    /// Show id.
    pub show_id: u64,
    /// Movie id.
    pub movie_id: u64,
    /// Movie title.
    pub movie_title: String,
    /// City id.
    pub city_id: u64,
    /// Theater id.
    pub theater_id: u64,
    /// Theater name.
    pub theater_name: String,
    /// Screen name.
    pub screen_name: String,
    /// Start, ms since the Unix epoch.
    pub starts_at_ms: u64,
    /// Currency of the prices.
    pub currency: String,
    /// Prices per category.
    pub prices: Vec<PriceJson>,
    /// Seats free now.
    pub seats_free: u32,
    /// Seats in the hall.
    pub seats_total: u32,
}

impl From<&ShowSummary> for ShowJson {
    fn from(s: &ShowSummary) -> ShowJson {
        ShowJson {
            show_id: s.show.id,
            movie_id: s.show.movie_id,
            movie_title: s.movie_title.clone(),
            city_id: s.city_id,
            theater_id: s.theater_id,
            theater_name: s.theater_name.clone(),
            screen_name: s.screen_name.clone(),
            starts_at_ms: s.show.starts_at_ms,
            currency: s.show.currency.clone(),
            prices: s
                .show
                .prices
                .iter()
                .map(|p| PriceJson {
                    category: p.category.name(),
                    amount_minor: p.amount_minor,
                })
                .collect(),
            seats_free: s.seats_free,
            seats_total: s.seats_total,
        }
    }
}

/// The lowercase name of a seat state.
pub fn state_name(state: SeatState) -> &'static str {
    match state {
        SeatState::Free => "free",
        SeatState::Held => "held",
        SeatState::Sold => "sold",
        SeatState::Blocked => "blocked",
    }
}

/// One seat of a map.
#[derive(Debug, Clone, Serialize)]
pub struct SeatJson {
    /// Seat id.
    pub id: u32,
    /// Row name.
    pub row: String,
    /// Label.
    pub label: String,
    /// Category name.
    pub category: &'static str,
    /// Column in layout units (gaps are aisles).
    pub x: u16,
    /// Row position, 0 nearest the screen.
    pub y: u16,
    /// `free`, `held`, `sold` or `blocked`.
    pub state: &'static str,
}

/// A seat map.
#[derive(Debug, Clone, Serialize)]
pub struct SeatMapJson {
    /// The show.
    pub show: ShowJson,
    /// The show's sequence number this map reflects.
    pub seq: u64,
    /// Every seat.
    pub seats: Vec<SeatJson>,
}

impl From<&SeatMap> for SeatMapJson {
    fn from(map: &SeatMap) -> SeatMapJson {
        let seats = map
            .seats
            .iter()
            .zip(&map.states)
            .map(|(seat, state)| SeatJson {
                id: seat.id,
                row: seat.row.clone(),
                label: seat.label.clone(),
                category: seat.category.name(),
                x: seat.x,
                y: seat.y,
                state: state_name(*state),
            })
            .collect();
        SeatMapJson {
            show: ShowJson::from(&map.summary),
            seq: map.seq,
            seats,
        }
    }
}

/// `POST /api/holds`: exactly one of `seats`, `labels` or `best`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// The show.
    pub show_id: u64,
    /// Seat ids.
    pub seats: Option<Vec<u32>>,
    /// Seat labels.
    pub labels: Option<Vec<String>>,
    /// Best available.
    pub best: Option<BestRequest>,
}

/// `best` of a hold request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BestRequest {
    /// How many seats.
    pub count: u16,
    /// Category name; absent is standard-like seats.
    pub category: Option<String>,
}

/// A hold.
#[derive(Debug, Clone, Serialize)]
pub struct HoldJson {
    /// Hold id.
    pub hold_id: u64,
    /// Show.
    pub show_id: u64,
    /// Seat ids.
    pub seats: Vec<u32>,
    /// Labels, same order.
    pub labels: Vec<String>,
    /// Expiry, ms since the Unix epoch.
    pub expires_at_ms: u64,
    /// Total.
    pub total: MoneyJson,
}

impl From<&HoldInfo> for HoldJson {
    fn from(h: &HoldInfo) -> HoldJson {
        HoldJson {
            hold_id: h.hold_id,
            show_id: h.show_id,
            seats: h.seats.clone(),
            labels: h.labels.clone(),
            expires_at_ms: h.expires_at_ms,
            total: MoneyJson::from(&h.total),
        }
    }
}

/// `POST /api/holds/{hold_id}/checkout`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// The customer's name.
    pub name: String,
    /// The customer's e-mail.
    pub email: String,
}

/// A payment order.
#[derive(Debug, Clone, Serialize)]
pub struct OrderJson {
    /// Our order id.
    pub order_id: u64,
    /// The hold it pays for.
    pub hold_id: u64,
    /// Where the customer pays (with this site's return link), once the gateway has it.
    pub checkout_url: Option<String>,
    /// Amount due.
    pub amount: MoneyJson,
    /// State name, such as `awaiting_payment` or `booked`.
    pub state: &'static str,
    /// The hold stays pinned until then, ms since the Unix epoch.
    pub window_ends_at_ms: u64,
    /// The booking, once sold.
    pub booking_code: Option<String>,
    /// The gateway's payment id, once captured.
    pub payment_id: Option<String>,
    /// Why it ended without a booking.
    pub reason: Option<String>,
}

impl OrderJson {
    /// The order, with `checkout_url` as this site hands it out.
    pub fn new(o: &PaymentOrderInfo, checkout_url: Option<String>) -> OrderJson {
        OrderJson {
            order_id: o.order_id,
            hold_id: o.hold_id,
            checkout_url,
            amount: MoneyJson::from(&o.amount),
            state: o.state.name(),
            window_ends_at_ms: o.window_ends_at_ms,
            booking_code: o.booking_code.clone(),
            payment_id: o.payment_id.clone(),
            reason: o.reason.clone(),
        }
    }
}

/// A booked seat.
#[derive(Debug, Clone, Serialize)]
pub struct BookedSeatJson {
    /// Seat id.
    pub seat_id: u32,
    /// Label.
    pub label: String,
    /// Category name.
    pub category: &'static str,
    /// Price paid, minor units.
    pub price_minor: i64,
}

/// A booking.
#[derive(Debug, Clone, Serialize)]
pub struct BookingJson {
    /// Code.
    pub code: String,
    /// Show.
    pub show_id: u64,
    /// Seats.
    pub seats: Vec<BookedSeatJson>,
    /// Total.
    pub total: MoneyJson,
    /// `confirmed`, `cancelled`, `refunded` or `admitted`.
    pub status: String,
    /// Payment method name.
    pub payment_method: &'static str,
    /// The gateway's payment id (or another reference).
    pub payment_reference: Option<String>,
    /// Sale time, ms since the Unix epoch.
    pub sold_at_ms: u64,
}

impl From<&Booking> for BookingJson {
    fn from(b: &Booking) -> BookingJson {
        BookingJson {
            code: b.code.clone(),
            show_id: b.show_id,
            seats: b
                .seats
                .iter()
                .map(|s| BookedSeatJson {
                    seat_id: s.seat_id,
                    label: s.label.clone(),
                    category: s.category.name(),
                    price_minor: s.price_minor,
                })
                .collect(),
            total: MoneyJson::from(&b.total),
            status: format!("{:?}", b.status).to_lowercase(),
            payment_method: b.payment.method.name(),
            payment_reference: b.payment.reference.clone(),
            sold_at_ms: b.sold_at_ms,
        }
    }
}

/// Parses a category name for the API.
pub fn category(name: &str) -> Option<Category> {
    Category::parse(name)
}
