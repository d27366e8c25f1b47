//! Domain values carried by messages.
//!
//! Money is integer minor units plus an ISO 4217 currency code; time is integer milliseconds since
//! the Unix epoch (`_ms` suffix); no floats travel on the wire. Ids are opaque unsigned integers
//! assigned by the server (catalog ids may also be chosen by an admin upsert).

use serde::{Deserialize, Serialize};

/// A city id.
pub type CityId = u64;
/// A theater id.
pub type TheaterId = u64;
/// A screen (auditorium) id.
pub type ScreenId = u64;
/// A movie id.
pub type MovieId = u64;
/// A show (one screening of a movie on a screen at a time) id.
pub type ShowId = u64;
/// A seat id: the index of the seat in its screen's layout, stable for the screen's lifetime.
pub type SeatId = u32;
/// A hold (cart) id, unique per node cluster.
pub type HoldId = u64;
/// A terminal id.
pub type TerminalId = u64;

/// An amount of money in minor units (cents) of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in minor units (see [`crate::money`] to print it); never negative from the
    /// reference server (a refund is the positive amount given back).
    pub amount_minor: i64,
    /// ISO 4217 code such as `EUR`.
    pub currency: String,
}

/// A seat category. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Category {
    /// An ordinary seat.
    Standard,
    /// A better seat at a higher price.
    Premium,
    /// A reclining seat.
    Recliner,
    /// A wheelchair place; given by best-available only when asked for.
    Wheelchair,
    /// A companion seat next to a wheelchair place; given only when asked for.
    Companion,
}

impl Category {
    /// Every category, in wire order.
    pub const ALL: [Category; 5] = [
        Category::Standard,
        Category::Premium,
        Category::Recliner,
        Category::Wheelchair,
        Category::Companion,
    ];

    /// The lowercase name used by command lines and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Category::Standard => "standard",
            Category::Premium => "premium",
            Category::Recliner => "recliner",
            Category::Wheelchair => "wheelchair",
            Category::Companion => "companion",
        }
    }

    /// Parses [`Category::name`], case-insensitively.
    pub fn parse(text: &str) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(text))
    }
}

/// The role of an authenticated terminal. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// No token: browse and subscribe only.
    Guest,
    /// Self-service kiosk: hold, confirm with card, its own holds.
    Kiosk,
    /// Box office: also cash and comp, cancel/refund, reprint, shift report.
    BoxOffice,
    /// Catalog and terminal management, plus everything a box office can do.
    Admin,
    /// Another CineBook node (replication); reserved for peers.
    Node,
    /// The customer web site (`cinebook-web`), selling on behalf of many customers: holds and
    /// gateway payments only; no card, cash or comp confirms, no refunds, reports or
    /// administration.
    Web,
    /// A door terminal (ticket scanner): scans tickets (`Scan`), reports offline admissions
    /// (`ReportAdmissions`) and reads; it sells nothing.
    Door,
}

impl Role {
    /// The lowercase name used by command lines and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Kiosk => "kiosk",
            Role::BoxOffice => "box-office",
            Role::Admin => "admin",
            Role::Node => "node",
            Role::Web => "web",
            Role::Door => "door",
        }
    }

    /// Parses [`Role::name`].
    pub fn parse(text: &str) -> Option<Role> {
        [
            Role::Guest,
            Role::Kiosk,
            Role::BoxOffice,
            Role::Admin,
            Role::Node,
            Role::Web,
            Role::Door,
        ]
        .into_iter()
        .find(|r| r.name().eq_ignore_ascii_case(text))
    }
}

/// The cluster role of the node that answered. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeRole {
    /// A single node that is its own leader.
    Standalone,
    /// The cluster leader: accepts writes.
    Leader,
    /// A follower: serves reads and subscriptions, answers writes with `NotLeader`.
    Follower,
}

/// A seat position in a screen layout (what a seat map draws).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    /// Stable id within the screen.
    pub id: SeatId,
    /// Row name, such as `A`.
    pub row: String,
    /// Seat label printed on the ticket, such as `A12`.
    pub label: String,
    /// Category, which decides the price.
    pub category: Category,
    /// Column in layout units; gaps between columns are aisles.
    pub x: u16,
    /// Row position in layout units, 0 nearest the screen.
    pub y: u16,
}

/// The state of one seat for one show, as a viewer sees it. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SeatState {
    /// Can be held.
    Free,
    /// In somebody's cart.
    Held,
    /// Sold.
    Sold,
    /// Not for sale (house seat, broken).
    Blocked,
}

/// A city.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct City {
    /// Id.
    pub id: CityId,
    /// Display name.
    pub name: String,
}

/// A theater (cinema building).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Theater {
    /// Id.
    pub id: TheaterId,
    /// The city it is in.
    pub city_id: CityId,
    /// Display name.
    pub name: String,
}

/// A screen (auditorium) and its seat layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screen {
    /// Id.
    pub id: ScreenId,
    /// The theater it is in.
    pub theater_id: TheaterId,
    /// Display name.
    pub name: String,
    /// Every seat; `seats[i].id == i`.
    pub seats: Vec<Seat>,
}

/// A movie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movie {
    /// Id.
    pub id: MovieId,
    /// Title.
    pub title: String,
    /// Running time in minutes.
    pub runtime_min: u16,
    /// Age rating, such as `PG-13`.
    pub rating: String,
}

/// The price of one category for one show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// Category.
    pub category: Category,
    /// Amount in minor units of the show's currency.
    pub amount_minor: i64,
}

/// A show as listed and as upserted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Show {
    /// Id.
    pub id: ShowId,
    /// Movie shown.
    pub movie_id: MovieId,
    /// Screen it plays on.
    pub screen_id: ScreenId,
    /// Start time, ms since the Unix epoch.
    pub starts_at_ms: u64,
    /// ISO 4217 currency of the prices.
    pub currency: String,
    /// Price per category; a category without a price is not for sale.
    pub prices: Vec<Price>,
}

/// A show with what a listing needs to display it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowSummary {
    /// The show.
    pub show: Show,
    /// Movie title.
    pub movie_title: String,
    /// Theater id.
    pub theater_id: TheaterId,
    /// Theater name.
    pub theater_name: String,
    /// City id.
    pub city_id: CityId,
    /// Screen name.
    pub screen_name: String,
    /// Seats free right now.
    pub seats_free: u32,
    /// Seats in the layout.
    pub seats_total: u32,
}

/// Filters for listing shows; every `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowFilter {
    /// Only shows in this city.
    pub city_id: Option<CityId>,
    /// Only shows of this movie.
    pub movie_id: Option<MovieId>,
    /// Only shows in this theater.
    pub theater_id: Option<TheaterId>,
    /// Only shows starting at or after this time.
    pub from_ms: Option<u64>,
    /// Only shows starting before this time.
    pub to_ms: Option<u64>,
}

/// A show's full seat map: layout, prices and the state of every seat at sequence `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatMap {
    /// The show and its listing data.
    pub summary: ShowSummary,
    /// The layout, `seats[i].id == i`.
    pub seats: Vec<Seat>,
    /// `states[i]` is the state of `seats[i]`.
    pub states: Vec<SeatState>,
    /// The show's sequence number this map reflects; pushes continue from `seq + 1`.
    pub seq: u64,
}

/// Which seats to hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeatSelection {
    /// Exactly these seat ids.
    Ids(Vec<SeatId>),
    /// Exactly these seat labels (such as `A12`).
    Labels(Vec<String>),
    /// The server picks `count` adjacent seats in one row; `category: None` means standard-like
    /// seats (never wheelchair or companion places).
    Best {
        /// Number of seats.
        count: u16,
        /// Category wanted.
        category: Option<Category>,
    },
}

/// A held cart of seats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldInfo {
    /// Hold id.
    pub hold_id: HoldId,
    /// The show.
    pub show_id: ShowId,
    /// Seats held, in the order chosen.
    pub seats: Vec<SeatId>,
    /// Their labels, same order.
    pub labels: Vec<String>,
    /// When the hold expires unless renewed or confirmed.
    pub expires_at_ms: u64,
    /// What confirming will cost.
    pub total: Money,
}

/// How a booking was paid. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PaymentMethod {
    /// Cash at the box office.
    Cash,
    /// Card.
    Card,
    /// Complimentary ticket, amount zero.
    Comp,
    /// Paid online through the node's payment gateway; the reference is the gateway's payment
    /// id. Only the node itself records it (after the gateway captured the payment): no
    /// terminal may confirm with it.
    Gateway,
}

impl PaymentMethod {
    /// The lowercase name used by command lines and JSON.
    pub fn name(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Card => "card",
            PaymentMethod::Comp => "comp",
            PaymentMethod::Gateway => "gateway",
        }
    }

    /// Parses [`PaymentMethod::name`].
    pub fn parse(text: &str) -> Option<PaymentMethod> {
        [
            PaymentMethod::Cash,
            PaymentMethod::Card,
            PaymentMethod::Comp,
            PaymentMethod::Gateway,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(text))
    }
}

/// A payment taken for a booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Method.
    pub method: PaymentMethod,
    /// Amount taken; must equal the hold's total (zero for comp).
    pub amount: Money,
    /// Card authorisation or receipt reference.
    pub reference: Option<String>,
}

/// The lifecycle state of a booking. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BookingStatus {
    /// Sold and valid.
    Confirmed,
    /// Cancelled without a refund.
    Cancelled,
    /// Cancelled and refunded.
    Refunded,
    /// Admitted at the door.
    Admitted,
}

impl BookingStatus {
    /// Whether the booking owns its seats: confirmed, or admitted at the door.
    pub fn is_live(self) -> bool {
        matches!(self, BookingStatus::Confirmed | BookingStatus::Admitted)
    }
}

/// One seat on a booking, with the price recorded at sale time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookedSeat {
    /// Seat id.
    pub seat_id: SeatId,
    /// Seat label.
    pub label: String,
    /// Category at sale time.
    pub category: Category,
    /// Price at sale time, minor units.
    pub price_minor: i64,
}

/// A booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// Short human-readable code, such as `K7QX-3MPA`.
    pub code: String,
    /// The show.
    pub show_id: ShowId,
    /// The seats with their prices.
    pub seats: Vec<BookedSeat>,
    /// Total charged.
    pub total: Money,
    /// The payment.
    pub payment: Payment,
    /// Status.
    pub status: BookingStatus,
    /// Selling terminal.
    pub terminal_id: TerminalId,
    /// Sale time, ms since the Unix epoch.
    pub sold_at_ms: u64,
    /// Lamport time of the sale.
    pub lamport: u64,
    /// Node that sold it.
    pub node_id: u32,
}

/// Totals for one payment method in a shift report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodTotals {
    /// Method.
    pub method: PaymentMethod,
    /// Bookings sold.
    pub sales: u32,
    /// Seats sold.
    pub seats: u32,
    /// Amount taken, minor units.
    pub sales_minor: i64,
    /// Refunds made.
    pub refunds: u32,
    /// Amount refunded, minor units.
    pub refunds_minor: i64,
}

/// A shift report: sales, refunds and comps by payment method for one terminal and time range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftReport {
    /// Terminal.
    pub terminal_id: TerminalId,
    /// Range start, inclusive.
    pub from_ms: u64,
    /// Range end, exclusive.
    pub to_ms: u64,
    /// Currency of every amount.
    pub currency: String,
    /// One line per payment method that saw activity.
    pub lines: Vec<MethodTotals>,
}

/// A terminal as listed by admins (never carries the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terminal {
    /// Id.
    pub id: TerminalId,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Whether its token has been revoked.
    pub revoked: bool,
}

/// One seat whose state changed, as pushed to subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatChange {
    /// Seat id.
    pub seat_id: SeatId,
    /// New state.
    pub state: SeatState,
}

/// Why seats changed. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeCause {
    /// A hold was placed.
    Held,
    /// A hold was released by its owner.
    Released,
    /// A hold expired.
    Expired,
    /// A hold was confirmed into a sale.
    Sold,
    /// A booking was cancelled or refunded.
    Cancelled,
    /// Seats were blocked or unblocked by an admin.
    Blocked,
}

/// Where a payment order is in its life (docs/PAYMENTS.md has the diagram). Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PaymentOrderState {
    /// Recorded; the gateway's order is not known yet (being created, or creation failed and
    /// will be retried with the same receipt).
    Creating,
    /// The gateway has the order; the hold waits for the customer to pay.
    AwaitingPayment,
    /// A payment was captured; the sale is being committed.
    Captured,
    /// Sold: the booking exists.
    Booked,
    /// A captured payment could not become a booking (window over, seats gone); its refund
    /// is being made through the gateway.
    RefundPending,
    /// The captured payment was refunded in full; no booking.
    Refunded,
    /// Nothing was captured before the payment window ended: the hold was released.
    Expired,
}

impl PaymentOrderState {
    /// The lowercase name used in the database and JSON.
    pub fn name(self) -> &'static str {
        match self {
            PaymentOrderState::Creating => "creating",
            PaymentOrderState::AwaitingPayment => "awaiting_payment",
            PaymentOrderState::Captured => "captured",
            PaymentOrderState::Booked => "booked",
            PaymentOrderState::RefundPending => "refund_pending",
            PaymentOrderState::Refunded => "refunded",
            PaymentOrderState::Expired => "expired",
        }
    }

    /// Parses [`PaymentOrderState::name`].
    pub fn parse(text: &str) -> Option<PaymentOrderState> {
        use PaymentOrderState::*;
        [
            Creating,
            AwaitingPayment,
            Captured,
            Booked,
            RefundPending,
            Refunded,
            Expired,
        ]
        .into_iter()
        .find(|s| s.name() == text)
    }

    /// Whether nothing can change the order any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PaymentOrderState::Booked | PaymentOrderState::Refunded | PaymentOrderState::Expired
        )
    }
}

/// A payment order as a terminal sees it (never a gateway secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOrderInfo {
    /// Our order id.
    pub order_id: u64,
    /// The hold it pays for.
    pub hold_id: HoldId,
    /// The show.
    pub show_id: ShowId,
    /// The gateway's order id, once the gateway has it.
    pub gateway_order_id: Option<String>,
    /// Amount due.
    pub amount: Money,
    /// Where the customer pays, once the gateway has the order.
    pub checkout_url: Option<String>,
    /// State.
    pub state: PaymentOrderState,
    /// The hold stays pinned until this time, ms since the Unix epoch.
    pub window_ends_at_ms: u64,
    /// The booking, once sold.
    pub booking_code: Option<String>,
    /// The captured payment's gateway id, once captured.
    pub payment_id: Option<String>,
    /// Why the order ended without a booking (refunded or expired), for the customer.
    pub reason: Option<String>,
}

/// What a partial refund (`RefundSeats`) returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatsRefund {
    /// The booking as it is afterwards (its other seats, the lower total).
    pub booking: Booking,
    /// The seats refunded.
    pub seats: Vec<SeatId>,
    /// The amount returned: the refunded seats' prices.
    pub amount: Money,
    /// How it was returned: the booking's payment method.
    pub method: PaymentMethod,
    /// The gateway's refund id, for a booking paid through the gateway.
    pub gateway_refund_id: Option<String>,
}

/// The longest customer e-mail address a booking keeps, bytes (RFC 5321's path limit).
pub const CONTACT_EMAIL_BYTES_MAX: usize = 254;
/// The longest customer phone number a booking keeps, bytes (E.164 with `+` and spacing).
pub const CONTACT_PHONE_BYTES_MAX: usize = 32;

/// Where a customer hears about a booking: both parts optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// E-mail address (at most [`CONTACT_EMAIL_BYTES_MAX`] bytes, one `@`).
    pub email: Option<String>,
    /// Phone number for SMS (at most [`CONTACT_PHONE_BYTES_MAX`] bytes: digits, an optional
    /// leading `+`, spaces and dashes).
    pub phone: Option<String>,
}

impl Contact {
    /// Whether neither part is given.
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone.is_none()
    }
}

/// What cancelling a show did (`CancelShow`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowCancellation {
    /// The show.
    pub show_id: ShowId,
    /// Bookings refunded by this request.
    pub refunded: Vec<String>,
    /// Bookings that were not confirmed any more (cancelled or refunded before), untouched.
    pub already_closed: u32,
    /// Bookings whose refund failed (retry the request: refunds are never made twice).
    pub failed: Vec<String>,
}
