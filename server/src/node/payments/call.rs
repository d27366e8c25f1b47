//! Gateway calls with a deadline and bounded retries.
//!
//! A call past `gateway_call_timeout_ms` is [`GatewayError::Timeout`]: its outcome is unknown.
//! [`with_retries`] retries only what may be retried (timeouts, unreachable, 5xx), at most
//! `gateway_attempts_max` attempts, pausing `gateway_retry_backoff_ms` (doubled) between them.
//! Callers make each attempt safe to repeat: an order is created under the same receipt; a
//! refund is looked up by its receipt before it is asked again.

use std::future::Future;
use std::time::Duration;

use cinebook_gateway::GatewayError;
use cinebook_protocol::{ErrorBody, ErrorCode};

use super::PaymentConfig;

/// One gateway call bounded by the configured deadline.
pub(super) async fn bounded<T>(
    config: &PaymentConfig,
    call: impl Future<Output = Result<T, GatewayError>>,
) -> Result<T, GatewayError> {
    let limit = Duration::from_millis(config.gateway_call_timeout_ms);
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or(Err(GatewayError::Timeout))
}

/// `attempt` until it succeeds, fails for good, or the attempts run out (the last error).
pub(super) async fn with_retries<T, F, Fut>(
    config: &PaymentConfig,
    what: &'static str,
    mut attempt: F,
) -> Result<T, GatewayError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, GatewayError>>,
{
    let mut pause_ms = config.gateway_retry_backoff_ms;
    let attempts = config.gateway_attempts_max.max(1);
    let mut tried = 0;
    loop {
        tried += 1;
        match bounded(config, attempt()).await {
            Ok(value) => return Ok(value),
            Err(e) if e.is_retryable() && tried < attempts => {
                tracing::warn!(operation = what, attempt = tried, error = %e, "gateway call failed; retrying");
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                pause_ms = pause_ms.saturating_mul(2);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The wire error for a gateway failure: unknown outcomes and outages are `Unavailable`
/// (retry with the same key), refusals `InvalidArgument`.
pub(super) fn to_wire(error: &GatewayError, doing: &str) -> ErrorBody {
    let code = match error {
        GatewayError::Timeout | GatewayError::Unreachable(_) | GatewayError::Unavailable { .. } => {
            ErrorCode::Unavailable
        }
        GatewayError::BadSignature | GatewayError::Rejected { .. } => ErrorCode::InvalidArgument,
        GatewayError::NotFound(_) => ErrorCode::NotFound,
        GatewayError::Unauthorized | GatewayError::Malformed(_) => ErrorCode::Internal,
    };
    ErrorBody::new(code, format!("{doing}: {error}; retry with the same key"))
}
