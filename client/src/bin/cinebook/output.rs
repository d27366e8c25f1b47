//! What `--json` prints: the command line's own serializable view of the protocol's values (the
//! protocol crate stays free of JSON concerns).

use cinebook_client::types::{
    Booking, City, HoldInfo, Money, Movie, SeatChange, SeatMap, ShiftReport, ShowSummary,
};
use serde::Serialize;

use crate::{grid, ticket, when};

#[derive(Debug, Serialize)]
pub struct CityOut {
    pub id: u64,
    pub name: String,
}

impl From<&City> for CityOut {
    fn from(c: &City) -> Self {
        CityOut {
            id: c.id,
            name: c.name.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MovieOut {
    pub id: u64,
    pub title: String,
    pub runtime_min: u16,
    pub rating: String,
}

impl From<&Movie> for MovieOut {
    fn from(m: &Movie) -> Self {
        MovieOut {
            id: m.id,
            title: m.title.clone(),
            runtime_min: m.runtime_min,
            rating: m.rating.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MoneyOut {
    pub amount_minor: i64,
    pub currency: String,
}

impl From<&Money> for MoneyOut {
    fn from(m: &Money) -> Self {
        MoneyOut {
            amount_minor: m.amount_minor,
            currency: m.currency.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PriceOut {
    pub category: &'static str,
    pub amount_minor: i64,
}

#[derive(Debug, Serialize)]
pub struct ShowOut {
    pub id: u64,
    pub movie_id: u64,
    pub movie: String,
    pub city_id: u64,
    pub theater_id: u64,
    pub theater: String,
    pub screen_id: u64,
    pub screen: String,
    pub starts_at_ms: u64,
    pub starts_at: String,
    pub currency: String,
    pub prices: Vec<PriceOut>,
    pub seats_free: u32,
    pub seats_total: u32,
}

impl From<&ShowSummary> for ShowOut {
    fn from(s: &ShowSummary) -> Self {
        ShowOut {
            id: s.show.id,
            movie_id: s.show.movie_id,
            movie: s.movie_title.clone(),
            city_id: s.city_id,
            theater_id: s.theater_id,
            theater: s.theater_name.clone(),
            screen_id: s.show.screen_id,
            screen: s.screen_name.clone(),
            starts_at_ms: s.show.starts_at_ms,
            starts_at: when::rfc3339(s.show.starts_at_ms),
            currency: s.show.currency.clone(),
            prices: s
                .show
                .prices
                .iter()
                .map(|p| PriceOut {
                    category: p.category.name(),
                    amount_minor: p.amount_minor,
                })
                .collect(),
            seats_free: s.seats_free,
            seats_total: s.seats_total,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SeatOut {
    pub id: u32,
    pub label: String,
    pub row: String,
    pub x: u16,
    pub y: u16,
    pub category: &'static str,
    pub state: &'static str,
}

#[derive(Debug, Serialize)]
pub struct SeatMapOut {
    pub show: ShowOut,
    pub seq: u64,
    pub seats: Vec<SeatOut>,
}

pub fn state_name(state: cinebook_client::types::SeatState) -> &'static str {
    use cinebook_client::types::SeatState;
    match state {
        SeatState::Free => "free",
        SeatState::Held => "held",
        SeatState::Sold => "sold",
        SeatState::Blocked => "blocked",
    }
}

impl From<&SeatMap> for SeatMapOut {
    fn from(map: &SeatMap) -> Self {
        SeatMapOut {
            show: ShowOut::from(&map.summary),
            seq: map.seq,
            seats: map
                .seats
                .iter()
                .enumerate()
                .map(|(i, s)| SeatOut {
                    id: s.id,
                    label: s.label.clone(),
                    row: s.row.clone(),
                    x: s.x,
                    y: s.y,
                    category: s.category.name(),
                    state: state_name(grid::state(map, i)),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct HoldOut {
    pub hold_id: u64,
    pub show_id: u64,
    pub seats: Vec<String>,
    pub seat_ids: Vec<u32>,
    pub expires_at_ms: u64,
    pub expires_at: String,
    pub total: MoneyOut,
}

impl From<&HoldInfo> for HoldOut {
    fn from(h: &HoldInfo) -> Self {
        HoldOut {
            hold_id: h.hold_id,
            show_id: h.show_id,
            seats: h.labels.clone(),
            seat_ids: h.seats.clone(),
            expires_at_ms: h.expires_at_ms,
            expires_at: when::rfc3339(h.expires_at_ms),
            total: MoneyOut::from(&h.total),
        }
    }
}

/// `cinebook renew --json`: the hold, and whether its new expiry is its ceiling.
#[derive(Debug, Serialize)]
pub struct RenewOut {
    #[serde(flatten)]
    pub hold: HoldOut,
    pub at_ceiling: bool,
}

impl RenewOut {
    pub fn new(hold: &HoldInfo, at_ceiling: bool) -> Self {
        RenewOut {
            hold: HoldOut::from(hold),
            at_ceiling,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct BookedSeatOut {
    pub seat_id: u32,
    pub label: String,
    pub category: &'static str,
    pub price_minor: i64,
}

#[derive(Debug, Serialize)]
pub struct BookingOut {
    pub code: String,
    pub show_id: u64,
    pub status: &'static str,
    pub seats: Vec<BookedSeatOut>,
    pub total: MoneyOut,
    pub payment_method: &'static str,
    pub payment_amount: MoneyOut,
    pub payment_reference: Option<String>,
    pub terminal_id: u64,
    pub sold_at_ms: u64,
    pub sold_at: String,
    pub lamport: u64,
    pub node_id: u32,
}

impl From<&Booking> for BookingOut {
    fn from(b: &Booking) -> Self {
        BookingOut {
            code: b.code.clone(),
            show_id: b.show_id,
            status: ticket::status(b.status),
            seats: b
                .seats
                .iter()
                .map(|s| BookedSeatOut {
                    seat_id: s.seat_id,
                    label: s.label.clone(),
                    category: s.category.name(),
                    price_minor: s.price_minor,
                })
                .collect(),
            total: MoneyOut::from(&b.total),
            payment_method: b.payment.method.name(),
            payment_amount: MoneyOut::from(&b.payment.amount),
            payment_reference: b.payment.reference.clone(),
            terminal_id: b.terminal_id,
            sold_at_ms: b.sold_at_ms,
            sold_at: when::rfc3339(b.sold_at_ms),
            lamport: b.lamport,
            node_id: b.node_id,
        }
    }
}

/// `confirm` and `booking`: the booking, plus the printable ticket.
#[derive(Debug, Serialize)]
pub struct TicketOut {
    pub booking: BookingOut,
    pub ticket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ReleasedOut {
    pub hold_id: u64,
    pub released: bool,
}

#[derive(Debug, Serialize)]
pub struct ChangeOut {
    pub show_id: u64,
    pub seq: u64,
    pub cause: &'static str,
    pub seats: Vec<ChangedSeatOut>,
}

#[derive(Debug, Serialize)]
pub struct ChangedSeatOut {
    pub seat_id: u32,
    pub label: Option<String>,
    pub state: &'static str,
}

impl ChangedSeatOut {
    pub fn new(change: &SeatChange, map: Option<&SeatMap>) -> Self {
        ChangedSeatOut {
            seat_id: change.seat_id,
            label: map
                .and_then(|m| m.seats.get(change.seat_id as usize))
                .map(|s| s.label.clone()),
            state: state_name(change.state),
        }
    }
}

pub fn cause_name(cause: cinebook_client::types::ChangeCause) -> &'static str {
    use cinebook_client::types::ChangeCause;
    match cause {
        ChangeCause::Held => "held",
        ChangeCause::Released => "released",
        ChangeCause::Expired => "expired",
        ChangeCause::Sold => "sold",
        ChangeCause::Cancelled => "cancelled",
        ChangeCause::Blocked => "blocked",
    }
}

#[derive(Debug, Serialize)]
pub struct ReportLineOut {
    pub method: &'static str,
    pub sales: u32,
    pub seats: u32,
    pub sales_minor: i64,
    pub refunds: u32,
    pub refunds_minor: i64,
}

#[derive(Debug, Serialize)]
pub struct ReportOut {
    pub terminal_id: u64,
    pub from_ms: u64,
    pub from: String,
    pub to_ms: u64,
    pub to: String,
    pub currency: String,
    pub lines: Vec<ReportLineOut>,
    pub net_minor: i64,
}

impl From<&ShiftReport> for ReportOut {
    fn from(r: &ShiftReport) -> Self {
        ReportOut {
            terminal_id: r.terminal_id,
            from_ms: r.from_ms,
            from: when::rfc3339(r.from_ms),
            to_ms: r.to_ms,
            to: when::rfc3339(r.to_ms),
            currency: r.currency.clone(),
            lines: r
                .lines
                .iter()
                .map(|l| ReportLineOut {
                    method: l.method.name(),
                    sales: l.sales,
                    seats: l.seats,
                    sales_minor: l.sales_minor,
                    refunds: l.refunds,
                    refunds_minor: l.refunds_minor,
                })
                .collect(),
            net_minor: net_minor(r),
        }
    }
}

/// Sales minus refunds over every method.
pub fn net_minor(report: &ShiftReport) -> i64 {
    report
        .lines
        .iter()
        .map(|l| l.sales_minor - l.refunds_minor.abs())
        .sum()
}

#[derive(Debug, Serialize)]
pub struct ErrorOut {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    pub kind: &'static str,
    pub message: String,
    pub exit_code: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_map_json_names_categories_and_states() {
        let map = crate::grid::tests::sample_map();
        let json = serde_json::to_value(SeatMapOut::from(&map)).expect("json");
        assert_eq!(json["show"]["movie"], "Metropolis");
        assert_eq!(json["seq"], 9);
        assert_eq!(json["seats"][1]["state"], "sold");
        assert_eq!(json["seats"][3]["category"], "premium");
    }

    #[test]
    fn booking_json_has_the_code_and_money_in_minor_units() {
        let booking = crate::ticket::tests::sample_booking();
        let json = serde_json::to_value(BookingOut::from(&booking)).expect("json");
        assert_eq!(json["code"], "K7QX-3MPA");
        assert_eq!(json["total"]["amount_minor"], 2_400);
        assert_eq!(json["payment_method"], "cash");
        assert_eq!(json["status"], "confirmed");
    }
}
