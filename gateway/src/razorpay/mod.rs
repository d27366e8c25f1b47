//! The Razorpay-compatible REST client: [`RazorpayGateway`].
//!
//! Basic auth with the key id and key secret; JSON entities as in [`wire`]; every answer body
//! read up to [`RazorpayConfig::response_max_bytes`]; every failure a typed
//! [`GatewayError`]: 401 → `Unauthorized`, 404 (or 400 "does not exist") → `NotFound`, other
//! 4xx → `Rejected`, 5xx → `Unavailable` (504 → `Timeout`), no answer in time → `Timeout`,
//! connection refused → `Unreachable`, a body we cannot read → `Malformed`.

mod config;
mod http;
mod webhook;
pub use webhook::{EVENT_ID_MAX_CHARS, WEBHOOK_MAX_BYTES};
pub mod wire;

pub use config::{
    RazorpayConfig, CONNECT_TIMEOUT_MS_DEFAULT, REQUEST_TIMEOUT_MS_DEFAULT,
    RESPONSE_MAX_BYTES_DEFAULT,
};

use std::time::Duration;

use async_trait::async_trait;

use crate::types::{
    CheckoutResult, GatewayOrder, GatewayPayment, GatewayRefund, OrderRequest, PaymentStatus,
    RefundRequest, WebhookEvent,
};
use crate::{signature, GatewayError, PaymentGateway};
use http::{check_id, Http};

/// A [`PaymentGateway`] speaking Razorpay's REST API (and so the simulator's).
#[derive(Debug)]
pub struct RazorpayGateway {
    http: Http,
    checkout_base_url: String,
    key_secret: String,
    webhook_secret: String,
    auto_capture: bool,
}

impl RazorpayGateway {
    /// A client for `config`. Fails only if the TLS backend cannot be set up.
    pub fn new(config: RazorpayConfig) -> Result<RazorpayGateway, GatewayError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| GatewayError::Unreachable(format!("HTTP client: {error}")))?;
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let checkout_base_url = config
            .checkout_base_url
            .as_deref()
            .unwrap_or(&base_url)
            .trim_end_matches('/')
            .to_owned();
        Ok(RazorpayGateway {
            http: Http {
                client,
                base_url,
                key_id: config.key_id,
                key_secret: config.key_secret.clone(),
                response_max_bytes: config.response_max_bytes,
            },
            checkout_base_url,
            key_secret: config.key_secret,
            webhook_secret: config.webhook_secret,
            auto_capture: config.auto_capture,
        })
    }

    /// The REST API's origin, as configured (no trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.http.base_url
    }

    /// Capture answered "already captured" (Razorpay's 400): the payment as it is, if it was
    /// captured for this amount; the refusal otherwise.
    async fn already_captured(
        &self,
        payment_id: &str,
        amount_minor: u64,
        refusal: GatewayError,
    ) -> Result<GatewayPayment, GatewayError> {
        let payment = self.fetch_payment(payment_id).await?;
        let captured = matches!(
            payment.status,
            PaymentStatus::Captured | PaymentStatus::Refunded
        );
        if captured && payment.amount_minor == amount_minor {
            Ok(payment)
        } else {
            Err(refusal)
        }
    }
}

fn collection<T, U>(items: wire::Collection<T>) -> Result<Vec<U>, GatewayError>
where
    U: TryFrom<T, Error = GatewayError>,
{
    items.items.into_iter().map(U::try_from).collect()
}

#[async_trait]
impl PaymentGateway for RazorpayGateway {
    async fn create_order(&self, request: &OrderRequest) -> Result<GatewayOrder, GatewayError> {
        let body = wire::OrderCreate {
            amount: request.amount_minor,
            currency: request.currency.clone(),
            receipt: Some(request.receipt.clone()),
            notes: wire::Notes(request.notes.clone()),
            payment_capture: Some(self.auto_capture),
        };
        let order: wire::Order = self.http.post("/v1/orders", &body).await?;
        order.try_into()
    }

    async fn fetch_order(&self, order_id: &str) -> Result<GatewayOrder, GatewayError> {
        check_id(order_id)?;
        let order: wire::Order = self.http.get(&format!("/v1/orders/{order_id}")).await?;
        order.try_into()
    }

    async fn order_payments(&self, order_id: &str) -> Result<Vec<GatewayPayment>, GatewayError> {
        check_id(order_id)?;
        let path = format!("/v1/orders/{order_id}/payments");
        collection(
            self.http
                .get::<wire::Collection<wire::Payment>>(&path)
                .await?,
        )
    }

    async fn fetch_payment(&self, payment_id: &str) -> Result<GatewayPayment, GatewayError> {
        check_id(payment_id)?;
        let path = format!("/v1/payments/{payment_id}");
        self.http.get::<wire::Payment>(&path).await?.try_into()
    }

    async fn capture(
        &self,
        payment_id: &str,
        amount_minor: u64,
        currency: &str,
    ) -> Result<GatewayPayment, GatewayError> {
        check_id(payment_id)?;
        let path = format!("/v1/payments/{payment_id}/capture");
        let body = wire::CaptureRequest {
            amount: amount_minor,
            currency: currency.to_owned(),
        };
        match self.http.post::<_, wire::Payment>(&path, &body).await {
            Ok(payment) => payment.try_into(),
            Err(refusal @ GatewayError::Rejected { .. }) => {
                self.already_captured(payment_id, amount_minor, refusal)
                    .await
            }
            Err(other) => Err(other),
        }
    }

    async fn refund(
        &self,
        payment_id: &str,
        request: &RefundRequest,
    ) -> Result<GatewayRefund, GatewayError> {
        check_id(payment_id)?;
        let path = format!("/v1/payments/{payment_id}/refund");
        let body = wire::RefundCreate {
            amount: Some(request.amount_minor),
            receipt: Some(request.receipt.clone()),
            notes: wire::Notes(request.notes.clone()),
        };
        self.http
            .post::<_, wire::Refund>(&path, &body)
            .await?
            .try_into()
    }

    async fn payment_refunds(&self, payment_id: &str) -> Result<Vec<GatewayRefund>, GatewayError> {
        check_id(payment_id)?;
        let path = format!("/v1/payments/{payment_id}/refunds");
        collection(
            self.http
                .get::<wire::Collection<wire::Refund>>(&path)
                .await?,
        )
    }

    fn checkout_url(&self, order: &GatewayOrder, callback_url: &str) -> String {
        let callback: String =
            reqwest::Url::parse_with_params("http://x/", [("callback_url", callback_url)])
                .ok()
                .and_then(|url| url.query().map(str::to_owned))
                .unwrap_or_default();
        format!(
            "{}/checkout/{}?{}",
            self.checkout_base_url, order.id, callback
        )
    }

    fn verify_checkout(&self, result: &CheckoutResult) -> Result<(), GatewayError> {
        let valid = signature::verify_checkout(
            self.key_secret.as_bytes(),
            &result.order_id,
            &result.payment_id,
            &result.signature,
        );
        if valid {
            Ok(())
        } else {
            Err(GatewayError::BadSignature)
        }
    }

    fn parse_webhook(
        &self,
        raw_body: &[u8],
        signature_hex: &str,
        event_id: Option<&str>,
    ) -> Result<WebhookEvent, GatewayError> {
        webhook::parse(
            self.webhook_secret.as_bytes(),
            raw_body,
            signature_hex,
            event_id,
        )
    }
}

#[cfg(test)]
mod tests;
