//! Durable payment orders: the rows that make an online payment survive a crash.
//!
//! An order is written before the gateway is asked for anything (state `creating`), and every
//! later step is a conditional transition ([`PaymentStore::change_order`]: `UPDATE … WHERE
//! state IN (…)`), so two paths that learn of the same capture (the checkout result, a webhook,
//! the reconciler) cannot both act on it: the second finds the state moved and does nothing.
//! Payments and refunds are kept as their own rows, keyed by the gateway's payment id and by our
//! refund receipt; a refund's receipt is written before the gateway is asked, so a refund whose
//! answer was lost is looked up by it and never made twice.
//!
//! Implementations: [`super::memory::MemoryStore`] (`memory.rs` here), the MySQL store
//! (`sql/mysql/0004_payments.sql`) and the embedded store (`sql/sqlite/0003_payments.sql`).

use async_trait::async_trait;
use cinebook_protocol::types::{PaymentOrderState, Role, SeatId, ShowId, TerminalId};

use super::StoreError;

pub mod memory;

/// Longest gateway id (order, payment, refund) a row holds, bytes.
pub const GATEWAY_ID_BYTES_MAX: usize = 64;
/// Longest reason a row holds, bytes.
pub const REASON_BYTES_MAX: usize = 400;

/// One payment order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    /// Our id; also the gateway receipt (`receipt_for`).
    pub order_id: u64,
    /// The terminal that created it (and owns the hold).
    pub terminal_id: TerminalId,
    /// That terminal's role when it created the order (the sale's window follows it).
    pub role: Role,
    /// The hold it pays for.
    pub hold_id: u64,
    /// The show.
    pub show_id: ShowId,
    /// The held seats.
    pub seats: Vec<SeatId>,
    /// Amount due, minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The gateway's order id, once known.
    pub gateway_order_id: Option<String>,
    /// The create request's idempotency key (unique per terminal).
    pub idempotency_key: String,
    /// State.
    pub state: PaymentOrderState,
    /// The captured payment, once captured.
    pub payment_id: Option<String>,
    /// The booking, once sold.
    pub booking_code: Option<String>,
    /// Why it ended without a booking.
    pub reason: Option<String>,
    /// The hold stays pinned until then, ms since the epoch.
    pub window_ends_at_ms: u64,
    /// Created, ms since the epoch.
    pub created_at_ms: u64,
    /// Last changed, ms since the epoch.
    pub updated_at_ms: u64,
    /// The customer's contact, given to the booking the order makes.
    pub contact: cinebook_protocol::types::Contact,
}

/// The gateway receipt of an order: our id, as text the gateway echoes.
pub fn receipt_for(order_id: u64) -> String {
    format!("cb-order-{order_id}")
}

/// What a transition sets; `None` keeps a column as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderChange {
    /// The new state.
    pub state: PaymentOrderState,
    /// The gateway's order id.
    pub gateway_order_id: Option<String>,
    /// The captured payment.
    pub payment_id: Option<String>,
    /// The booking.
    pub booking_code: Option<String>,
    /// Why it ended without a booking.
    pub reason: Option<String>,
    /// When, ms since the epoch.
    pub at_ms: u64,
}

impl OrderChange {
    /// A change of state only.
    pub fn to(state: PaymentOrderState, at_ms: u64) -> Self {
        OrderChange {
            state,
            gateway_order_id: None,
            payment_id: None,
            booking_code: None,
            reason: None,
            at_ms,
        }
    }

    /// Applies the change to `order` (what every store does in its `UPDATE`).
    pub fn apply_to(&self, order: &mut OrderRecord) {
        order.state = self.state;
        let keep = |new: &Option<String>, old: &mut Option<String>| {
            if let Some(value) = new {
                *old = Some(value.clone());
            }
        };
        keep(&self.gateway_order_id, &mut order.gateway_order_id);
        keep(&self.payment_id, &mut order.payment_id);
        keep(&self.booking_code, &mut order.booking_code);
        keep(&self.reason, &mut order.reason);
        order.updated_at_ms = self.at_ms;
    }
}

/// A payment the gateway reported for one of our orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    /// The gateway's payment id.
    pub payment_id: String,
    /// Our order.
    pub order_id: u64,
    /// Amount, minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The gateway's status name (`captured`, `failed`, …).
    pub status: String,
    /// Recorded (or last updated), ms since the epoch.
    pub at_ms: u64,
}

/// A refund made (or being made) through the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRow {
    /// Our receipt for it: unique, written before the gateway is asked.
    pub receipt: String,
    /// The order whose payment it returns.
    pub order_id: u64,
    /// The payment refunded.
    pub payment_id: String,
    /// The booking it belongs to, if one was sold.
    pub booking_code: Option<String>,
    /// The gateway's refund id, once known.
    pub gateway_refund_id: Option<String>,
    /// Amount, minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// `requested` (we asked; answer not known yet), `pending`, `processed` or `failed`.
    pub state: String,
    /// Created, ms since the epoch.
    pub created_at_ms: u64,
    /// Last changed, ms since the epoch.
    pub updated_at_ms: u64,
}

/// Durable payment orders, payments and refunds.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Writes a new order; if the terminal already has one with this idempotency key, writes
    /// nothing and returns that one.
    async fn create_order(&self, order: &OrderRecord) -> Result<OrderRecord, StoreError>;

    /// One order.
    async fn order(&self, order_id: u64) -> Result<Option<OrderRecord>, StoreError>;

    /// The order the gateway knows as `gateway_order_id`.
    async fn order_by_gateway_id(
        &self,
        gateway_order_id: &str,
    ) -> Result<Option<OrderRecord>, StoreError>;

    /// The order that sold booking `code`.
    async fn order_by_booking(&self, code: &str) -> Result<Option<OrderRecord>, StoreError>;

    /// Every order not in a final state (the reconciler's work), oldest first.
    async fn open_orders(&self) -> Result<Vec<OrderRecord>, StoreError>;

    /// Every order, oldest first (tests and checks).
    async fn all_orders(&self) -> Result<Vec<OrderRecord>, StoreError>;

    /// Applies `change` if the order is in one of `from`; whether it did.
    async fn change_order(
        &self,
        order_id: u64,
        from: &[PaymentOrderState],
        change: &OrderChange,
    ) -> Result<bool, StoreError>;

    /// Records a payment, or updates its status.
    async fn record_payment(&self, payment: &PaymentRow) -> Result<(), StoreError>;

    /// Every payment recorded for an order.
    async fn order_payments(&self, order_id: u64) -> Result<Vec<PaymentRow>, StoreError>;

    /// Records a refund by its receipt, or updates its gateway id and state.
    async fn record_refund(&self, refund: &RefundRow) -> Result<(), StoreError>;

    /// One refund by our receipt.
    async fn refund(&self, receipt: &str) -> Result<Option<RefundRow>, StoreError>;

    /// Every refund, oldest first (tests and checks).
    async fn all_refunds(&self) -> Result<Vec<RefundRow>, StoreError>;

    /// Sets the state of the refund the gateway knows as `gateway_refund_id`; whether one was.
    async fn refund_processed(
        &self,
        gateway_refund_id: &str,
        state: &str,
        at_ms: u64,
    ) -> Result<bool, StoreError>;
}

/// The seat ids of an order as its `seats` column holds them: comma-separated.
pub fn seats_text(seats: &[SeatId]) -> String {
    seats
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses [`seats_text`].
pub fn parse_seats(text: &str) -> Result<Vec<SeatId>, StoreError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|s| {
            s.parse::<SeatId>()
                .map_err(|_| StoreError::Corrupt(format!("payment_orders: seat {s:?}")))
        })
        .collect()
}

/// Parses a stored order state.
pub fn parse_state(text: &str) -> Result<PaymentOrderState, StoreError> {
    PaymentOrderState::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("payment_orders: unknown state {text:?}")))
}

/// Parses a stored role.
pub fn parse_role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("payment_orders: unknown role {text:?}")))
}

/// The column list every store selects an order with, in [`OrderRecord`] order.
pub const ORDER_COLUMNS: &str = "order_id, terminal_id, role, hold_id, show_id, seats, \
     amount_minor, currency, gateway_order_id, idempotency_key, state, payment_id, booking_code, \
     reason, window_ends_at_ms, created_at_ms, updated_at_ms, contact_email, contact_phone";

/// The column list every store selects a refund with, in [`RefundRow`] order.
pub const REFUND_COLUMNS: &str = "receipt, order_id, payment_id, booking_code, \
     gateway_refund_id, amount_minor, currency, state, created_at_ms, updated_at_ms";

/// The column list every store selects a payment with, in [`PaymentRow`] order.
pub const PAYMENT_COLUMNS: &str = "payment_id, order_id, amount_minor, currency, status, at_ms";

/// `state IN (…)` for a list of states, as SQL text (the names are fixed identifiers).
pub fn states_sql(states: &[PaymentOrderState]) -> String {
    let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.name())).collect();
    if names.is_empty() {
        "FALSE".to_owned()
    } else {
        format!("state IN ({})", names.join(", "))
    }
}
