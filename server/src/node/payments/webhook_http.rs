//! The HTTP side of `POST /payments/webhook`: the body read raw, within
//! `webhook_body_max_bytes` and [`WEBHOOK_BODY_TIMEOUT_MS`], then [`super::webhook::receive`].
//! The answer is a status code and one line of text naming the typed outcome.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use super::webhook::{receive, WebhookAck, WebhookRefusal, EVENT_ID_HEADER, SIGNATURE_HEADER};
use super::WEBHOOK_BODY_MAX_BYTES_DEFAULT;
use crate::node::Node;

/// Longest wait for a webhook's body, ms.
pub const WEBHOOK_BODY_TIMEOUT_MS: u64 = 10_000;

/// Answers one webhook delivery: (status, text).
pub async fn answer(node: Arc<Node>, request: Request<Incoming>) -> (StatusCode, String) {
    let limit = node
        .payments
        .as_ref()
        .map_or(WEBHOOK_BODY_MAX_BYTES_DEFAULT, |p| {
            p.config.webhook_body_max_bytes
        });
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let signature = header(SIGNATURE_HEADER);
    let event_id = header(EVENT_ID_HEADER);
    let declared_too_large = request
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > limit);
    let outcome = if declared_too_large {
        Err(WebhookRefusal::TooLarge(limit))
    } else {
        match read_body(request.into_body(), limit).await {
            Ok(body) => receive(&node, &body, signature.as_deref(), event_id.as_deref()).await,
            Err(refusal) => Err(refusal),
        }
    };
    match outcome {
        Ok(ack) => {
            let text = match ack {
                WebhookAck::Applied(state) => format!("applied: order {}\n", state.name()),
                WebhookAck::Duplicate => "duplicate: no change\n".to_owned(),
                WebhookAck::Ignored(name) => format!("ignored: {name}\n"),
            };
            (StatusCode::OK, text)
        }
        Err(refusal) => {
            tracing::warn!(%refusal, "webhook refused");
            let status =
                StatusCode::from_u16(refusal.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, format!("refused: {refusal}\n"))
        }
    }
}

async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, WebhookRefusal> {
    let read = Limited::new(body, limit).collect();
    match tokio::time::timeout(Duration::from_millis(WEBHOOK_BODY_TIMEOUT_MS), read).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(WebhookRefusal::TooLarge(limit))
            } else {
                Err(WebhookRefusal::Malformed(format!("body unreadable: {e}")))
            }
        }
        Err(_) => Err(WebhookRefusal::Malformed(format!(
            "no whole body within {WEBHOOK_BODY_TIMEOUT_MS} ms"
        ))),
    }
}
