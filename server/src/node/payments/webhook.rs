//! `POST /payments/webhook`: a gateway's signed event, checked over its raw body, then
//! dispatched. Every refusal is typed ([`WebhookRefusal`]) and changes nothing.

use std::sync::Arc;

use cinebook_gateway::{GatewayError, WebhookKind};
use cinebook_protocol::types::PaymentOrderState;

use super::{payments, settle, store, Node};
use crate::node::now_ms;

/// The webhook path on the node's HTTP listener.
pub const WEBHOOK_PATH: &str = "/payments/webhook";
/// The header that carries the webhook's signature.
pub const SIGNATURE_HEADER: &str = "x-razorpay-signature";
/// The header that carries the gateway's delivery id.
pub const EVENT_ID_HEADER: &str = "x-razorpay-event-id";

/// What a webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAck {
    /// It moved an order (or a refund) on; the order's state now.
    Applied(PaymentOrderState),
    /// It repeats what the order already knows (a duplicate delivery): nothing changed.
    Duplicate,
    /// An event the node does not act on.
    Ignored(String),
}

/// Why a webhook was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRefusal {
    /// No payments on this node.
    #[error("this node takes no online payments")]
    NoGateway,
    /// The signature header is missing.
    #[error("no X-Razorpay-Signature header")]
    Unsigned,
    /// The signature does not match the body.
    #[error("the signature does not match the body")]
    BadSignature,
    /// The body is larger than `webhook_body_max_bytes`.
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body cannot be read.
    #[error("malformed webhook: {0}")]
    Malformed(String),
    /// It names no order we created.
    #[error("no such payment order: {0}")]
    UnknownOrder(String),
    /// It names a payment the gateway does not know.
    #[error("the gateway knows no payment {0}")]
    UnknownPayment(String),
    /// It names no refund we made.
    #[error("no such refund: {0}")]
    UnknownRefund(String),
    /// Its amount or currency is not the order's.
    #[error("amount or currency does not match the order: {0}")]
    Mismatch(String),
    /// The order is settled and the event contradicts it (a failure after the booking, a
    /// replay for a finished order).
    #[error("payment order {0} is already settled")]
    AlreadySettled(u64),
    /// This node does not lead: the gateway should retry (it will reach the leader).
    #[error("this node does not lead; retry")]
    NotLeader,
    /// The store or the gateway did not answer: retry.
    #[error("not now: {0}")]
    Unavailable(String),
}

impl WebhookRefusal {
    /// The HTTP status it is answered with.
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookRefusal::Unsigned | WebhookRefusal::BadSignature => 401,
            WebhookRefusal::TooLarge(_) => 413,
            WebhookRefusal::Malformed(_) => 400,
            WebhookRefusal::UnknownOrder(_)
            | WebhookRefusal::UnknownPayment(_)
            | WebhookRefusal::UnknownRefund(_) => 404,
            WebhookRefusal::Mismatch(_) => 422,
            WebhookRefusal::AlreadySettled(_) => 409,
            WebhookRefusal::NoGateway
            | WebhookRefusal::NotLeader
            | WebhookRefusal::Unavailable(_) => 503,
        }
    }
}

/// Checks and applies one webhook delivery.
pub async fn receive(
    node: &Arc<Node>,
    raw_body: &[u8],
    signature: Option<&str>,
    event_id: Option<&str>,
) -> Result<WebhookAck, WebhookRefusal> {
    let payments = payments(node).map_err(|_| WebhookRefusal::NoGateway)?;
    let signature = signature.ok_or(WebhookRefusal::Unsigned)?;
    let event = payments
        .config
        .gateway
        .parse_webhook(raw_body, signature, event_id)
        .map_err(|e| match e {
            GatewayError::BadSignature => WebhookRefusal::BadSignature,
            other => WebhookRefusal::Malformed(other.to_string()),
        })?;
    if !node.accepts_writes() {
        return Err(WebhookRefusal::NotLeader);
    }
    let unavailable = |e: cinebook_protocol::ErrorBody| WebhookRefusal::Unavailable(e.message);
    let store = store(node).map_err(unavailable)?;
    match event.kind {
        WebhookKind::PaymentAuthorized | WebhookKind::PaymentCaptured | WebhookKind::OrderPaid => {
            let payment = event
                .payment
                .ok_or_else(|| WebhookRefusal::Malformed("no payment entity".into()))?;
            let gateway_order = payment
                .order_id
                .clone()
                .or_else(|| event.order.as_ref().map(|o| o.id.clone()))
                .ok_or_else(|| WebhookRefusal::Malformed("no order id".into()))?;
            let order = node
                .store_call(store.order_by_gateway_id(&gateway_order))
                .await
                .map_err(unavailable)?
                .ok_or(WebhookRefusal::UnknownOrder(gateway_order))?;
            super::checkout::check_payment_matches(&order, &payment)
                .map_err(|e| WebhookRefusal::Mismatch(e.message))?;
            if order.payment_id.as_deref() == Some(payment.id.as_str()) && order.state.is_final() {
                return Ok(WebhookAck::Duplicate);
            }
            if event.kind == WebhookKind::PaymentAuthorized
                && payment.status == cinebook_gateway::PaymentStatus::Authorized
                && order.state.is_final()
            {
                return Err(WebhookRefusal::AlreadySettled(order.order_id));
            }
            // The webhook says what happened; the gateway's own record of the payment is what
            // is settled (a signed event is trusted to name a payment, not to describe it).
            // Checked by `settle_payment`: a captured payment that does not match the order
            // is refunded there, and the webhook answered as a mismatch.
            let payment = gateway_payment(node, &payment.id).await?;
            let settled = settle::settle_payment(node, order.order_id, payment)
                .await
                .map_err(|e| match e.code {
                    cinebook_protocol::ErrorCode::InvalidArgument => {
                        WebhookRefusal::Mismatch(e.message)
                    }
                    _ => WebhookRefusal::Unavailable(e.message),
                })?;
            Ok(WebhookAck::Applied(settled.state))
        }
        WebhookKind::PaymentFailed => {
            let payment = event
                .payment
                .ok_or_else(|| WebhookRefusal::Malformed("no payment entity".into()))?;
            let gateway_order = payment
                .order_id
                .clone()
                .ok_or_else(|| WebhookRefusal::Malformed("no order id".into()))?;
            let order = node
                .store_call(store.order_by_gateway_id(&gateway_order))
                .await
                .map_err(unavailable)?
                .ok_or(WebhookRefusal::UnknownOrder(gateway_order))?;
            if order.state.is_final() {
                return Err(WebhookRefusal::AlreadySettled(order.order_id));
            }
            settle::record_failed(node, &order, &payment)
                .await
                .map_err(unavailable)?;
            Ok(WebhookAck::Applied(order.state))
        }
        WebhookKind::RefundProcessed => {
            let refund = event
                .refund
                .ok_or_else(|| WebhookRefusal::Malformed("no refund entity".into()))?;
            let known = node
                .store_call(store.refund_processed(&refund.id, "processed", now_ms()))
                .await
                .map_err(unavailable)?;
            if !known {
                return Err(WebhookRefusal::UnknownRefund(refund.id));
            }
            Ok(WebhookAck::Applied(PaymentOrderState::Refunded))
        }
        WebhookKind::Other(name) => Ok(WebhookAck::Ignored(name)),
    }
}

/// The gateway's record of a payment a webhook named.
async fn gateway_payment(
    node: &Node,
    payment_id: &str,
) -> Result<cinebook_gateway::GatewayPayment, WebhookRefusal> {
    let payments = payments(node).map_err(|_| WebhookRefusal::NoGateway)?;
    let gateway = payments.config.gateway.clone();
    super::call::with_retries(&payments.config, "fetch_payment", || {
        let gateway = gateway.clone();
        let id = payment_id.to_owned();
        async move { gateway.fetch_payment(&id).await }
    })
    .await
    .map_err(|e| match e {
        // Razorpay answers an unknown id with 400 (`Rejected`), others with 404.
        GatewayError::NotFound(_) | GatewayError::Rejected { .. } => {
            WebhookRefusal::UnknownPayment(payment_id.to_owned())
        }
        other => WebhookRefusal::Unavailable(other.to_string()),
    })
}
