//! Verifying and reading a Razorpay webhook.

use super::wire;
use crate::types::{WebhookEvent, WebhookKind};
use crate::{signature, GatewayError};

/// A webhook body longer than this is refused before its signature is computed.
pub const WEBHOOK_MAX_BYTES: usize = 256 * 1024;
/// An `X-Razorpay-Event-Id` longer than this is refused.
pub const EVENT_ID_MAX_CHARS: usize = 64;

/// Checks `signature_hex` over `raw_body` first, then parses it. Nothing of an unsigned body is
/// read.
pub(crate) fn parse(
    webhook_secret: &[u8],
    raw_body: &[u8],
    signature_hex: &str,
    event_id: Option<&str>,
) -> Result<WebhookEvent, GatewayError> {
    if raw_body.len() > WEBHOOK_MAX_BYTES {
        return Err(GatewayError::Malformed(format!(
            "webhook longer than {WEBHOOK_MAX_BYTES} bytes"
        )));
    }
    if !signature::verify_webhook(webhook_secret, raw_body, signature_hex) {
        return Err(GatewayError::BadSignature);
    }
    if event_id.is_some_and(|id| id.len() > EVENT_ID_MAX_CHARS) {
        return Err(GatewayError::Malformed("event id too long".to_owned()));
    }
    let event: wire::Event = serde_json::from_slice(raw_body)
        .map_err(|error| GatewayError::Malformed(format!("webhook: {error}")))?;
    if event.entity != "event" {
        return Err(GatewayError::Malformed(format!(
            "webhook entity {:?}",
            event.entity
        )));
    }
    let payload = event.payload;
    Ok(WebhookEvent {
        event_id: event_id.map(str::to_owned),
        kind: WebhookKind::parse(&event.event),
        payment: payload.payment.map(|p| p.entity.try_into()).transpose()?,
        order: payload.order.map(|o| o.entity.try_into()).transpose()?,
        refund: payload.refund.map(|r| r.entity.try_into()).transpose()?,
        created_at_s: event.created_at,
    })
}
