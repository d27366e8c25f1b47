//! The HTTP side: the Razorpay REST API under `/v1`, the hosted checkout, and `/sim/…`.

mod auth;
mod checkout;
mod control;
mod rest;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use crate::ledger::ApiError;
use crate::sim::Sim;

pub(crate) fn router(sim: Arc<Sim>) -> Router {
    let limit = DefaultBodyLimit::max(sim.config.request_max_bytes);
    Router::new()
        .route("/v1/orders", post(rest::create_order))
        .route("/v1/orders/{id}", get(rest::fetch_order))
        .route("/v1/orders/{id}/payments", get(rest::order_payments))
        .route("/v1/payments/{id}", get(rest::fetch_payment))
        .route("/v1/payments/{id}/capture", post(rest::capture))
        .route("/v1/payments/{id}/refund", post(rest::refund))
        .route("/v1/payments/{id}/refunds", get(rest::payment_refunds))
        .route("/checkout/{id}", get(checkout::page))
        .route("/sim/orders/{id}/pay", post(checkout::pay))
        .route("/sim/orders/{id}/decline", post(checkout::decline))
        .route("/sim/control", get(control::show).post(control::change))
        .route("/sim/ledger", get(control::ledger))
        .route("/sim/webhooks", get(control::webhooks))
        .route("/sim/webhook-url", post(control::webhook_url))
        .fallback(not_found)
        .layer(limit)
        .with_state(sim)
}

pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub(crate) fn error(error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, &error.body())
}

/// Parses a JSON body into `T`, or a Razorpay-shaped 400.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|problem| ApiError::bad_request(format!("The request body is invalid: {problem}")))
}

async fn not_found() -> Response {
    error(&ApiError {
        status: 404,
        code: "BAD_REQUEST_ERROR",
        description: "The requested URL was not found on the server.".to_owned(),
        field: None,
    })
}
