//! Razorpay's JSON entities as they travel on the wire, and their conversions to [`crate::types`].
//!
//! The client reads these; the simulator (`cinebook-paysim`) writes them, so the two agree on
//! one set of field names. Fields a node does not act on (`fee`, `card`, `acquirer_data`) are
//! left out: serde ignores unknown fields when reading a real gateway's answer.

use serde::{Deserialize, Serialize};

use crate::types::{
    GatewayOrder, GatewayPayment, GatewayRefund, OrderStatus, PaymentStatus, RefundStatus,
};
use crate::GatewayError;

mod notes;

pub use notes::Notes;

/// `POST /v1/orders` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCreate {
    /// Minor units.
    pub amount: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// The merchant's id for the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// Key-value notes.
    #[serde(default)]
    pub notes: Notes,
    /// Whether payments on this order are captured at once (`true`/`1`) or wait for
    /// `POST /v1/payments/{id}/capture`. Absent: the account's default.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flag::deserialize"
    )]
    pub payment_capture: Option<bool>,
}

/// An order entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// `order_…`.
    pub id: String,
    /// Always `order`.
    pub entity: String,
    /// Minor units.
    pub amount: u64,
    /// Minor units captured.
    pub amount_paid: u64,
    /// Minor units still due.
    pub amount_due: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// The merchant's id, echoed.
    #[serde(default)]
    pub receipt: Option<String>,
    /// `created`, `attempted` or `paid`.
    pub status: String,
    /// Payment attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Key-value notes.
    #[serde(default)]
    pub notes: Notes,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// A payment entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// `pay_…`.
    pub id: String,
    /// Always `payment`.
    pub entity: String,
    /// Minor units.
    pub amount: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// `created`, `authorized`, `captured`, `refunded` or `failed`.
    pub status: String,
    /// The order it pays.
    #[serde(default)]
    pub order_id: Option<String>,
    /// `card`, `upi`, …
    #[serde(default)]
    pub method: Option<String>,
    /// Minor units refunded so far.
    #[serde(default)]
    pub amount_refunded: u64,
    /// `null`, `partial` or `full`.
    #[serde(default)]
    pub refund_status: Option<String>,
    /// Whether it was captured (stays true after refunds).
    #[serde(default)]
    pub captured: bool,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Customer e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Key-value notes.
    #[serde(default)]
    pub notes: Notes,
    /// Why it failed (`BAD_REQUEST_ERROR`, …); `null` or empty when it did not.
    #[serde(default)]
    pub error_code: Option<String>,
    /// Why it failed, in words.
    #[serde(default)]
    pub error_description: Option<String>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// `POST /v1/payments/{id}/capture` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureRequest {
    /// Minor units: the payment's full amount.
    pub amount: u64,
    /// ISO 4217 code.
    pub currency: String,
}

/// `POST /v1/payments/{id}/refund` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundCreate {
    /// Minor units; absent means everything left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<u64>,
    /// The merchant's id for the refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// Key-value notes.
    #[serde(default)]
    pub notes: Notes,
}

/// A refund entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// `rfnd_…`.
    pub id: String,
    /// Always `refund`.
    pub entity: String,
    /// Minor units.
    pub amount: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// The payment refunded.
    pub payment_id: String,
    /// The merchant's id, echoed.
    #[serde(default)]
    pub receipt: Option<String>,
    /// Key-value notes.
    #[serde(default)]
    pub notes: Notes,
    /// `pending`, `processed` or `failed`.
    pub status: String,
    /// `normal` or `optimum`.
    #[serde(default)]
    pub speed_processed: Option<String>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// A list answer: `{"entity":"collection","count":N,"items":[...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection<T> {
    /// Always `collection`.
    pub entity: String,
    /// `items.len()`.
    pub count: u64,
    /// The entities.
    pub items: Vec<T>,
}

impl<T> Collection<T> {
    /// A collection of `items`.
    pub fn of(items: Vec<T>) -> Collection<T> {
        Collection {
            entity: "collection".to_owned(),
            count: items.len() as u64,
            items,
        }
    }
}

/// An error answer: `{"error":{"code":"BAD_REQUEST_ERROR","description":"…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// `BAD_REQUEST_ERROR`, `GATEWAY_ERROR` or `SERVER_ERROR`.
    pub code: String,
    /// What went wrong, in words.
    pub description: String,
    /// `business`, `customer`, `internal`, …
    #[serde(default)]
    pub source: Option<String>,
    /// Where in the flow.
    #[serde(default)]
    pub step: Option<String>,
    /// Machine-readable reason, such as `input_validation_failed`.
    #[serde(default)]
    pub reason: Option<String>,
    /// The request field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    /// An error answer with just a code and a description.
    pub fn new(code: &str, description: &str) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                description: description.to_owned(),
                source: None,
                step: None,
                reason: None,
                field: None,
            },
        }
    }
}

/// A webhook body: `{"entity":"event","event":"payment.captured","payload":{…},"created_at":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Always `event`.
    pub entity: String,
    /// The merchant account, `acc_…`.
    #[serde(default)]
    pub account_id: Option<String>,
    /// The event name, such as `payment.captured`.
    pub event: String,
    /// Which entities the payload holds.
    #[serde(default)]
    pub contains: Vec<String>,
    /// The entities.
    pub payload: EventPayload,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// The entities an [`Event`] carries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EventPayload {
    /// The payment, when it carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Wrapped<Payment>>,
    /// The order, when it carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Wrapped<Order>>,
    /// The refund, when it carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<Wrapped<Refund>>,
}

/// `{"entity": …}`, as webhook payloads wrap each entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wrapped<T> {
    /// The entity.
    pub entity: T,
}

fn unknown(what: &str, value: &str) -> GatewayError {
    GatewayError::Malformed(format!("unknown {what} status {value:?}"))
}

impl TryFrom<Order> for GatewayOrder {
    type Error = GatewayError;

    fn try_from(order: Order) -> Result<GatewayOrder, GatewayError> {
        let status = match order.status.as_str() {
            "created" => OrderStatus::Created,
            "attempted" => OrderStatus::Attempted,
            "paid" => OrderStatus::Paid,
            other => return Err(unknown("order", other)),
        };
        Ok(GatewayOrder {
            id: order.id,
            amount_minor: order.amount,
            amount_paid_minor: order.amount_paid,
            currency: order.currency,
            receipt: order.receipt,
            status,
            created_at_s: order.created_at,
        })
    }
}

impl TryFrom<Payment> for GatewayPayment {
    type Error = GatewayError;

    fn try_from(payment: Payment) -> Result<GatewayPayment, GatewayError> {
        let status = match payment.status.as_str() {
            "created" => PaymentStatus::Created,
            "authorized" => PaymentStatus::Authorized,
            "captured" => PaymentStatus::Captured,
            "refunded" => PaymentStatus::Refunded,
            "failed" => PaymentStatus::Failed,
            other => return Err(unknown("payment", other)),
        };
        Ok(GatewayPayment {
            id: payment.id,
            order_id: payment.order_id,
            amount_minor: payment.amount,
            currency: payment.currency,
            status,
            amount_refunded_minor: payment.amount_refunded,
            method: payment.method,
            error_description: payment.error_description.filter(|text| !text.is_empty()),
            created_at_s: payment.created_at,
        })
    }
}

impl TryFrom<Refund> for GatewayRefund {
    type Error = GatewayError;

    fn try_from(refund: Refund) -> Result<GatewayRefund, GatewayError> {
        let status = match refund.status.as_str() {
            "pending" => RefundStatus::Pending,
            "processed" => RefundStatus::Processed,
            "failed" => RefundStatus::Failed,
            other => return Err(unknown("refund", other)),
        };
        Ok(GatewayRefund {
            id: refund.id,
            payment_id: refund.payment_id,
            amount_minor: refund.amount,
            currency: refund.currency,
            receipt: refund.receipt,
            status,
            created_at_s: refund.created_at,
        })
    }
}

/// Razorpay's `0`/`1`/`true`/`false` flags.
mod flag {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(u8),
        Text(String),
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<bool>, D::Error> {
        let flag: Option<Flag> = Option::deserialize(deserializer)?;
        Ok(match flag {
            None => None,
            Some(Flag::Bool(value)) => Some(value),
            Some(Flag::Int(value)) => Some(value != 0),
            Some(Flag::Text(text)) => Some(text == "1" || text == "true"),
        })
    }
}
