//! The payment gateway contract of CineBook.
//!
//! A node takes card payments through a gateway in the shape Razorpay documents (Stripe's and
//! Adyen's are the same shape): the node creates an **order** for an amount, the customer pays
//! on the gateway's checkout, the node **verifies** the checkout result by its signature, and
//! the gateway also sends a signed **webhook**. This crate holds what every part agrees on, and
//! the one client that does I/O: the Razorpay-compatible REST client.
//!
//! # Layout
//!
//! - [`PaymentGateway`]: the trait a node calls (create/fetch order, payments of an order,
//!   capture, refund, refunds of a payment, verify a checkout result, verify and parse a webhook).
//! - [`types`]: orders, payments, refunds, checkout results, webhook events; amounts in minor
//!   units with their currency.
//! - [`signature`]: the two HMAC-SHA256 rules (checkout and webhook), compared in constant time.
//! - [`GatewayError`]: typed failures; [`GatewayError::is_definite`] tells a refusal (nothing
//!   happened) from an unknown outcome (a timeout: the call may have taken effect).
//!
//! - [`razorpay`]: the Razorpay-compatible REST client ([`razorpay::RazorpayGateway`]) and the
//!   JSON entities of that API ([`razorpay::wire`]), which the local simulator
//!   (`cinebook-paysim`) serves on 127.0.0.1 as well.

#![deny(missing_docs)]

mod error;
pub mod razorpay;
pub mod signature;
pub mod types;

pub use error::GatewayError;
pub use types::{
    CheckoutResult, GatewayOrder, GatewayPayment, GatewayRefund, OrderRequest, OrderStatus,
    PaymentStatus, RefundRequest, RefundStatus, WebhookEvent, WebhookKind,
};

use async_trait::async_trait;

/// A payment gateway as a node uses it.
///
/// Every call that changes something at the gateway (`create_order`, `capture`, `refund`) may
/// end in [`GatewayError::Timeout`]: its outcome is then unknown, and the caller must find out
/// (`fetch_order`, `order_payments`, `payment_refunds` by `receipt`) before trying again, so that
/// nothing is charged or refunded twice.
#[async_trait]
pub trait PaymentGateway: Send + Sync + std::fmt::Debug + 'static {
    /// Creates an order for `request.amount_minor` in `request.currency`. `request.receipt` is
    /// the caller's own id for it (unique per order; the gateway echoes it).
    async fn create_order(&self, request: &OrderRequest) -> Result<GatewayOrder, GatewayError>;

    /// The order as the gateway knows it now.
    async fn fetch_order(&self, order_id: &str) -> Result<GatewayOrder, GatewayError>;

    /// Every payment attempt made against an order, in any state.
    async fn order_payments(&self, order_id: &str) -> Result<Vec<GatewayPayment>, GatewayError>;

    /// One payment.
    async fn fetch_payment(&self, payment_id: &str) -> Result<GatewayPayment, GatewayError>;

    /// Captures an authorized payment for its full amount. Capturing a payment that is already
    /// captured answers the payment as it is (no second charge).
    async fn capture(
        &self,
        payment_id: &str,
        amount_minor: u64,
        currency: &str,
    ) -> Result<GatewayPayment, GatewayError>;

    /// Refunds `request.amount_minor` of a captured payment. `request.receipt` is the caller's
    /// id for this refund: after a timeout, [`PaymentGateway::payment_refunds`] finds it by that.
    async fn refund(
        &self,
        payment_id: &str,
        request: &RefundRequest,
    ) -> Result<GatewayRefund, GatewayError>;

    /// Every refund of a payment.
    async fn payment_refunds(&self, payment_id: &str) -> Result<Vec<GatewayRefund>, GatewayError>;

    /// Where the customer pays `order`; the gateway sends them back to `callback_url` with a
    /// [`CheckoutResult`] (or an error) when they are done.
    fn checkout_url(&self, order: &GatewayOrder, callback_url: &str) -> String;

    /// Checks a checkout result's signature against the key secret
    /// ([`signature::checkout`]). Says nothing about amounts: fetch the payment for those.
    fn verify_checkout(&self, result: &CheckoutResult) -> Result<(), GatewayError>;

    /// Checks a webhook's signature over its raw body ([`signature::webhook`]) and parses it.
    /// `event_id` is the gateway's id for the delivery (`X-Razorpay-Event-Id`), if it sent one.
    fn parse_webhook(
        &self,
        raw_body: &[u8],
        signature_hex: &str,
        event_id: Option<&str>,
    ) -> Result<WebhookEvent, GatewayError>;
}
