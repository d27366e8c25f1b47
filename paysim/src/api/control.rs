//! `/sim/…`: the switches, the books and the webhook log, for scripts and checkers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{error, json, parse_body};
use crate::ledger::ApiError;
use crate::sim::Sim;
use crate::switches::SwitchesPatch;

pub(super) async fn show(State(sim): State<Arc<Sim>>) -> Response {
    let switches = sim.switches.lock().clone();
    json(StatusCode::OK, &switches)
}

pub(super) async fn change(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let patch: SwitchesPatch = match parse_body(&body) {
        Ok(patch) => patch,
        Err(refused) => return error(&refused),
    };
    let mut switches = sim.switches.lock();
    match switches.apply(&patch) {
        Ok(()) => json(StatusCode::OK, &*switches),
        Err(problem) => error(&ApiError::bad_request(problem.to_string())),
    }
}

pub(super) async fn ledger(State(sim): State<Arc<Sim>>) -> Response {
    let snapshot = sim.ledger.lock().snapshot();
    json(StatusCode::OK, &snapshot)
}

pub(super) async fn webhooks(State(sim): State<Arc<Sim>>) -> Response {
    let log = sim.webhook_log.lock().clone();
    json(StatusCode::OK, &log)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookUrl {
    url: Option<String>,
}

pub(super) async fn webhook_url(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let request: WebhookUrl = match parse_body(&body) {
        Ok(request) => request,
        Err(refused) => return error(&refused),
    };
    if let Some(url) = &request.url {
        if let Err(refused) = crate::handle::check_webhook_url(url) {
            return error(&refused);
        }
    }
    *sim.webhook_url.lock() = request.url.clone();
    json(StatusCode::OK, &serde_json::json!({ "url": request.url }))
}
