//! Online payments through the node's gateway: one typed method per payment request.

use cinebook_protocol::types::{Contact, HoldId, PaymentOrderInfo};
use cinebook_protocol::{Reply, Request};

use crate::{Client, Error, Result};

fn order_of(reply: Reply, request: &'static str) -> Result<PaymentOrderInfo> {
    match reply {
        Reply::PaymentOrder(info) => Ok(info),
        other => Err(Error::UnexpectedReply {
            request,
            got: format!("{other:?}"),
        }),
    }
}

impl Client {
    /// Starts paying for one of the caller's holds at the gateway; a retry with the same
    /// `idempotency_key` answers the same order. The hold stays pinned for the payment window.
    pub async fn create_payment_order(
        &self,
        hold_id: HoldId,
        idempotency_key: &str,
    ) -> Result<PaymentOrderInfo> {
        let request = Request::CreatePaymentOrder {
            hold_id,
            idempotency_key: idempotency_key.to_string(),
        };
        order_of(self.request(request).await?, "create_payment_order")
    }

    /// [`Client::create_payment_order`] with the customer's contact: the booking the payment
    /// makes is announced to it (docs/PROTOCOL.md, `CreatePaymentOrderWithContact`).
    pub async fn create_payment_order_with_contact(
        &self,
        hold_id: HoldId,
        idempotency_key: &str,
        contact: Contact,
    ) -> Result<PaymentOrderInfo> {
        let request = Request::CreatePaymentOrderWithContact {
            hold_id,
            idempotency_key: idempotency_key.to_string(),
            contact,
        };
        order_of(self.request(request).await?, "create_payment_order")
    }

    /// Hands the checkout's result (gateway payment id and signature) to the node, which checks
    /// it at the gateway and sells.
    pub async fn verify_checkout(
        &self,
        order_id: u64,
        payment_id: &str,
        signature: &str,
    ) -> Result<PaymentOrderInfo> {
        let request = Request::VerifyCheckout {
            order_id,
            payment_id: payment_id.to_string(),
            signature: signature.to_string(),
        };
        order_of(self.request(request).await?, "verify_checkout")
    }

    /// One of the caller's payment orders as it is now.
    pub async fn payment_status(&self, order_id: u64) -> Result<PaymentOrderInfo> {
        order_of(
            self.request(Request::PaymentStatus { order_id }).await?,
            "payment_status",
        )
    }
}
