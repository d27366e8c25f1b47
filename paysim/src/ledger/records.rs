//! What the simulator keeps per order, payment and refund, and how each looks on the wire.

use cinebook_gateway::razorpay::wire;
use cinebook_gateway::{OrderStatus, PaymentStatus, RefundStatus};
use serde::Serialize;

/// An order as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimOrder {
    /// `order_…`.
    pub id: String,
    /// Minor units.
    pub amount_minor: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// The merchant's id.
    pub receipt: Option<String>,
    /// Key-value notes.
    pub notes: Vec<(String, String)>,
    /// Whether a payment is captured as soon as it is authorized.
    pub auto_capture: bool,
    /// State.
    pub status: OrderStatus,
    /// Payment attempts.
    pub attempts: u32,
    /// Minor units captured.
    pub amount_paid_minor: u64,
    /// Seconds since the Unix epoch.
    pub created_at_s: u64,
}

/// A payment as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimPayment {
    /// `pay_…`.
    pub id: String,
    /// The order it pays.
    pub order_id: String,
    /// Minor units.
    pub amount_minor: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// State.
    pub status: PaymentStatus,
    /// Whether it was ever captured.
    pub captured: bool,
    /// Minor units refunded.
    pub amount_refunded_minor: u64,
    /// Why it failed.
    pub error_description: Option<String>,
    /// Seconds since the Unix epoch.
    pub created_at_s: u64,
}

/// A refund as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimRefund {
    /// `rfnd_…`.
    pub id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// The order of that payment.
    pub order_id: String,
    /// Minor units.
    pub amount_minor: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// The merchant's id.
    pub receipt: Option<String>,
    /// Key-value notes.
    pub notes: Vec<(String, String)>,
    /// State.
    pub status: RefundStatus,
    /// Seconds since the Unix epoch.
    pub created_at_s: u64,
}

fn order_status(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Created => "created",
        OrderStatus::Attempted => "attempted",
        OrderStatus::Paid => "paid",
    }
}

fn payment_status(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Created => "created",
        PaymentStatus::Authorized => "authorized",
        PaymentStatus::Captured => "captured",
        PaymentStatus::Refunded => "refunded",
        PaymentStatus::Failed => "failed",
    }
}

fn refund_status(status: RefundStatus) -> &'static str {
    match status {
        RefundStatus::Pending => "pending",
        RefundStatus::Processed => "processed",
        RefundStatus::Failed => "failed",
    }
}

impl SimOrder {
    /// The order entity the REST API answers.
    pub fn to_wire(&self) -> wire::Order {
        wire::Order {
            id: self.id.clone(),
            entity: "order".to_owned(),
            amount: self.amount_minor,
            amount_paid: self.amount_paid_minor,
            amount_due: self.amount_minor.saturating_sub(self.amount_paid_minor),
            currency: self.currency.clone(),
            receipt: self.receipt.clone(),
            status: order_status(self.status).to_owned(),
            attempts: self.attempts,
            notes: wire::Notes(self.notes.clone()),
            created_at: self.created_at_s,
        }
    }
}

impl SimPayment {
    /// The payment entity the REST API answers.
    pub fn to_wire(&self) -> wire::Payment {
        let refund_status = match self.amount_refunded_minor {
            0 => None,
            refunded if refunded == self.amount_minor => Some("full".to_owned()),
            _ => Some("partial".to_owned()),
        };
        let failed = self.status == PaymentStatus::Failed;
        wire::Payment {
            id: self.id.clone(),
            entity: "payment".to_owned(),
            amount: self.amount_minor,
            currency: self.currency.clone(),
            status: payment_status(self.status).to_owned(),
            order_id: Some(self.order_id.clone()),
            method: Some("card".to_owned()),
            amount_refunded: self.amount_refunded_minor,
            refund_status,
            captured: self.captured,
            description: None,
            email: None,
            notes: wire::Notes::default(),
            error_code: failed.then(|| "BAD_REQUEST_ERROR".to_owned()),
            error_description: self.error_description.clone(),
            created_at: self.created_at_s,
        }
    }
}

impl SimRefund {
    /// The refund entity the REST API answers.
    pub fn to_wire(&self) -> wire::Refund {
        wire::Refund {
            id: self.id.clone(),
            entity: "refund".to_owned(),
            amount: self.amount_minor,
            currency: self.currency.clone(),
            payment_id: self.payment_id.clone(),
            receipt: self.receipt.clone(),
            notes: wire::Notes(self.notes.clone()),
            status: refund_status(self.status).to_owned(),
            speed_processed: Some("normal".to_owned()),
            created_at: self.created_at_s,
        }
    }
}
