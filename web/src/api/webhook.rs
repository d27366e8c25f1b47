//! `POST /api/payments/webhook`: the gateway's webhook, forwarded byte for byte (with its
//! signature header) to the node's webhook listener, which checks the signature and settles.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use crate::{ApiError, App};

/// The signature header the gateway sends and the node checks.
pub const SIGNATURE_HEADER: &str = "x-razorpay-signature";

/// The webhook route with its own body limit.
pub fn router(body_max_bytes: usize) -> Router<App> {
    Router::new()
        .route("/api/payments/webhook", post(forward))
        .layer(DefaultBodyLimit::max(body_max_bytes))
}

async fn forward(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|r| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("The webhook body was refused ({r}; webhook_body_max_bytes)."),
        )
    })?;
    let Some(url) = app.config().node_webhook_url.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhook_not_configured",
            "This site forwards no webhooks: start it with --node-webhook-url.",
        ));
    };
    let mut request = app
        .inner
        .http
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for name in [SIGNATURE_HEADER, "x-razorpay-event-id"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.clone());
        }
    }
    let answer = request.send().await.map_err(|e| {
        tracing::warn!(error = %e, "webhook forward failed");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "node_unreachable",
            "The booking system did not take the webhook; the gateway will send it again.",
        )
    })?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let text = answer.text().await.unwrap_or_default();
    Ok((status, text).into_response())
}
