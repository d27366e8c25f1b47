//! Orders, payments, refunds and webhook events as the gateway reports them.
//!
//! Amounts are integers in the currency's minor unit (paise, cents, Rappen) with an ISO 4217
//! currency code beside them, as Razorpay, Stripe and Adyen all do. Times are seconds since the
//! Unix epoch, as the gateway sends them.

use serde::{Deserialize, Serialize};

/// What the node asks for when it creates an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Amount, minor units; more than zero.
    pub amount_minor: u64,
    /// ISO 4217 code, such as `CHF` or `INR`.
    pub currency: String,
    /// The node's own id for this order (at most 40 characters, as Razorpay allows); unique.
    pub receipt: String,
    /// Free-form notes the gateway keeps with the order (show, hold, customer e-mail).
    pub notes: Vec<(String, String)>,
}

/// An order's state at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Created; no payment attempted yet.
    Created,
    /// At least one payment was attempted; none captured.
    Attempted,
    /// A payment was captured for the full amount.
    Paid,
}

/// An order as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayOrder {
    /// The gateway's id, such as `order_EKwxwAgItmmXdp`.
    pub id: String,
    /// Amount, minor units.
    pub amount_minor: u64,
    /// Amount captured so far, minor units.
    pub amount_paid_minor: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// The node's receipt, echoed.
    pub receipt: Option<String>,
    /// State.
    pub status: OrderStatus,
    /// Creation time, seconds since the Unix epoch.
    pub created_at_s: u64,
}

/// A payment's state at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    /// Started, not yet authorized.
    Created,
    /// Authorized by the bank; the money is not taken until it is captured.
    Authorized,
    /// Captured: the money is taken.
    Captured,
    /// Fully refunded.
    Refunded,
    /// Declined or abandoned.
    Failed,
}

/// A payment as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayPayment {
    /// The gateway's id, such as `pay_29QQoUBi66xm2f`.
    pub id: String,
    /// The order it pays.
    pub order_id: Option<String>,
    /// Amount, minor units.
    pub amount_minor: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// State.
    pub status: PaymentStatus,
    /// Amount refunded so far, minor units.
    pub amount_refunded_minor: u64,
    /// Payment method as the gateway names it (`card`, `upi`, …).
    pub method: Option<String>,
    /// Why it failed, when it did.
    pub error_description: Option<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at_s: u64,
}

/// What the node asks for when it refunds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    /// Amount, minor units; more than zero and at most what is left unrefunded.
    pub amount_minor: u64,
    /// The node's own id for this refund (unique); found again by
    /// [`crate::PaymentGateway::payment_refunds`] after a timeout.
    pub receipt: String,
    /// Free-form notes (booking code, reason).
    pub notes: Vec<(String, String)>,
}

/// A refund's state at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefundStatus {
    /// Accepted, not yet processed by the bank.
    Pending,
    /// Done: the money is on its way back.
    Processed,
    /// Refused by the bank.
    Failed,
}

/// A refund as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRefund {
    /// The gateway's id, such as `rfnd_FP8QHiV938haTz`.
    pub id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// Amount, minor units.
    pub amount_minor: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// The node's receipt, echoed.
    pub receipt: Option<String>,
    /// State.
    pub status: RefundStatus,
    /// Creation time, seconds since the Unix epoch.
    pub created_at_s: u64,
}

/// What the checkout hands back to the customer's browser (and so to the node) after a
/// successful payment: Razorpay's `razorpay_order_id`, `razorpay_payment_id` and
/// `razorpay_signature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutResult {
    /// The order paid.
    pub order_id: String,
    /// The payment that paid it.
    pub payment_id: String,
    /// Hex HMAC-SHA256 of `order_id|payment_id` under the key secret.
    pub signature: String,
}

/// The webhook events a node acts on. Others are parsed as [`WebhookKind::Other`] and ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookKind {
    /// `payment.authorized`
    PaymentAuthorized,
    /// `payment.captured`
    PaymentCaptured,
    /// `payment.failed`
    PaymentFailed,
    /// `order.paid`
    OrderPaid,
    /// `refund.processed`
    RefundProcessed,
    /// Any other event name, as sent.
    Other(String),
}

impl WebhookKind {
    /// The event's name on the wire, such as `payment.captured`.
    pub fn name(&self) -> &str {
        match self {
            WebhookKind::PaymentAuthorized => "payment.authorized",
            WebhookKind::PaymentCaptured => "payment.captured",
            WebhookKind::PaymentFailed => "payment.failed",
            WebhookKind::OrderPaid => "order.paid",
            WebhookKind::RefundProcessed => "refund.processed",
            WebhookKind::Other(name) => name,
        }
    }

    /// Parses [`WebhookKind::name`].
    pub fn parse(name: &str) -> WebhookKind {
        match name {
            "payment.authorized" => WebhookKind::PaymentAuthorized,
            "payment.captured" => WebhookKind::PaymentCaptured,
            "payment.failed" => WebhookKind::PaymentFailed,
            "order.paid" => WebhookKind::OrderPaid,
            "refund.processed" => WebhookKind::RefundProcessed,
            other => WebhookKind::Other(other.to_owned()),
        }
    }
}

/// A webhook whose signature was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The gateway's id for this delivery, when it sent one; duplicates share it.
    pub event_id: Option<String>,
    /// What happened.
    pub kind: WebhookKind,
    /// The payment it is about, when it carries one.
    pub payment: Option<GatewayPayment>,
    /// The order it is about, when it carries one.
    pub order: Option<GatewayOrder>,
    /// The refund it is about, when it carries one.
    pub refund: Option<GatewayRefund>,
    /// When the gateway created the event, seconds since the Unix epoch.
    pub created_at_s: u64,
}
