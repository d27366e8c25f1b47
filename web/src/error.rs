//! Every failure of the API as a typed JSON error: `{"error": {"code", "message"}}`, the message
//! a sentence a customer can read.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An API error: an HTTP status, a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, such as `seat_unavailable`.
    pub code: &'static str,
    /// A sentence for the customer.
    pub message: String,
}

impl ApiError {
    /// An error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `invalid_argument`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_argument", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 403 `not_your_hold`: the hold is not this browser session's (or does not exist; the two
    /// are not told apart, so ids cannot be probed).
    pub fn not_your_hold(hold_id: u64) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "not_your_hold",
            format!("Hold {hold_id} does not belong to this browser session."),
        )
    }
}

fn sentence(message: &str) -> String {
    let mut text = message.trim().to_string();
    if let Some(first) = text.get(..1) {
        let upper = first.to_uppercase();
        text.replace_range(..1, &upper);
    }
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

impl From<cinebook_client::Error> for ApiError {
    fn from(error: cinebook_client::Error) -> ApiError {
        use cinebook_client::Error as E;
        let (status, code) = match &error {
            E::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            E::InvalidArgument { .. } => (StatusCode::BAD_REQUEST, "invalid_argument"),
            E::SeatUnavailable { .. } => (StatusCode::CONFLICT, "seat_unavailable"),
            E::SoldOut { .. } => (StatusCode::CONFLICT, "sold_out"),
            E::HoldExpired { .. } => (StatusCode::GONE, "hold_expired"),
            E::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            E::SalesClosed { .. } => (StatusCode::CONFLICT, "sales_closed"),
            E::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            E::Forbidden { .. } | E::Unauthenticated { .. } => {
                tracing::error!(%error, "the node refused this web terminal");
                (StatusCode::BAD_GATEWAY, "node_refused")
            }
            E::OutcomeUnknown { .. } | E::Indeterminate { .. } | E::Timeout { .. } => {
                (StatusCode::GATEWAY_TIMEOUT, "outcome_unknown")
            }
            _ => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        let message = match &error {
            E::NotFound { message }
            | E::InvalidArgument { message }
            | E::SeatUnavailable { message, .. }
            | E::SoldOut { message }
            | E::HoldExpired { message }
            | E::Conflict { message }
            | E::SalesClosed { message } => sentence(message),
            E::OutcomeUnknown { .. } | E::Indeterminate { .. } | E::Timeout { .. } => {
                "The booking system did not answer in time; nothing is lost, please try again."
                    .to_string()
            }
            _ => {
                "The booking system is unavailable right now; please try again shortly.".to_string()
            }
        };
        ApiError::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_sentences() {
        assert_eq!(sentence("seat K7 is taken"), "Seat K7 is taken.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence(""), ".");
    }
}
