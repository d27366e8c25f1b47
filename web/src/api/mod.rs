//! The JSON API (docs/WEB.md).

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

use crate::{ApiError, App};

pub(crate) mod bookings;
mod holds;
pub(crate) mod live;
pub(crate) mod shows;
pub(crate) mod webhook;

/// The API routes (without the webhook, which has its own body limit).
pub fn router() -> Router<App> {
    Router::new()
        .route("/api/shows", get(shows::list))
        .route("/api/shows/{id}/seats", get(shows::seats))
        .route("/api/shows/{id}/live", get(live::socket))
        .route("/api/holds", post(holds::create))
        .route(
            "/api/holds/{hold_id}",
            axum::routing::delete(holds::release),
        )
        .route("/api/holds/{hold_id}/renew", post(holds::renew))
        .route("/api/holds/{hold_id}/checkout", post(holds::checkout))
        .route("/api/orders/{order_id}", get(holds::order))
        .route("/api/bookings/{code}", get(bookings::get))
        .fallback(unknown)
}

async fn unknown() -> ApiError {
    ApiError::not_found("There is no such page or API endpoint.")
}

/// A JSON body's rejection as a typed error.
pub(crate) fn bad_body(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "The request body is larger than this site accepts (body_max_bytes).",
        );
    }
    let detail = rejection.body_text();
    ApiError::invalid(format!(
        "The request body is not what this endpoint takes: {detail}."
    ))
}
pub(crate) use shows::shows_for;
