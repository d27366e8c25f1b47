//! What the checkout's buttons do, in-process or through `POST /sim/orders/{id}/pay|decline`.

use cinebook_gateway::signature;
use cinebook_gateway::PaymentStatus;
use serde::{Deserialize, Serialize};

use crate::ledger::ApiError;
use crate::sim::{now_s, Sim};

/// The answer to Pay: Razorpay's checkout result fields, plus the payment's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutPaid {
    /// The order paid.
    pub razorpay_order_id: String,
    /// The payment made.
    pub razorpay_payment_id: String,
    /// `hex(HMAC-SHA256(key_secret, order_id|payment_id))`.
    pub razorpay_signature: String,
    /// `captured` if the order auto-captures, `authorized` otherwise.
    pub status: PaymentStatus,
}

/// The answer to Decline: Razorpay checkout's failure shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutDeclined {
    /// What went wrong.
    pub error: DeclineDetail,
}

/// The inside of a [`CheckoutDeclined`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclineDetail {
    /// `BAD_REQUEST_ERROR`.
    pub code: String,
    /// In words.
    pub description: String,
    /// `bank`.
    pub source: String,
    /// `payment_authorization`.
    pub step: String,
    /// `payment_failed`.
    pub reason: String,
    /// The order and the failed payment.
    pub metadata: DeclineMetadata,
}

/// Which order and payment a decline is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclineMetadata {
    /// The order.
    pub order_id: String,
    /// The failed payment.
    pub payment_id: String,
}

impl Sim {
    /// Pay on the checkout.
    pub(crate) fn pay(&self, order_id: &str) -> Result<CheckoutPaid, ApiError> {
        let mut ledger = self.ledger.lock();
        let (payment, events) = ledger.pay(order_id, now_s())?;
        self.emit(events);
        Ok(CheckoutPaid {
            razorpay_signature: signature::checkout(
                self.config.key_secret.as_bytes(),
                &payment.order_id,
                &payment.id,
            ),
            razorpay_order_id: payment.order_id,
            razorpay_payment_id: payment.id,
            status: payment.status,
        })
    }

    /// Decline on the checkout.
    pub(crate) fn decline(&self, order_id: &str) -> Result<CheckoutDeclined, ApiError> {
        let mut ledger = self.ledger.lock();
        let (payment, events) = ledger.decline(order_id, now_s())?;
        self.emit(events);
        Ok(CheckoutDeclined {
            error: DeclineDetail {
                code: "BAD_REQUEST_ERROR".to_owned(),
                description: payment.error_description.unwrap_or_default(),
                source: "bank".to_owned(),
                step: "payment_authorization".to_owned(),
                reason: "payment_failed".to_owned(),
                metadata: DeclineMetadata {
                    order_id: payment.order_id,
                    payment_id: payment.id,
                },
            },
        })
    }
}
