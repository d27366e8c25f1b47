//! The Razorpay REST endpoints, each behind basic auth and the 5xx / hang switches.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use cinebook_gateway::razorpay::wire;

use super::{auth, error, json, parse_body};
use crate::ledger::{ApiError, Ledger};
use crate::sim::{now_s, Sim};
use crate::switches::{Endpoint, Fault};

/// Runs `effect` on the books as one REST call: auth, then the fault switches, then the change
/// (its webhooks queued under the same lock).
async fn call<T, F>(sim: &Sim, headers: &HeaderMap, endpoint: Endpoint, effect: F) -> Response
where
    T: serde::Serialize,
    F: FnOnce(&mut Ledger, &Sim) -> Result<T, ApiError>,
{
    if let Err(refused) = auth::check(sim, headers) {
        return error(&refused);
    }
    let fault = sim.switches.lock().take_fault(endpoint);
    match fault {
        Fault::None => {}
        Fault::Fail { status } => return server_error(status),
        Fault::Hang {
            wait_ms,
            after_effect: false,
        } => {
            sim.sleep_unless_shutdown(wait_ms).await;
            return server_error(StatusCode::SERVICE_UNAVAILABLE.as_u16());
        }
        Fault::Hang { .. } => {}
    }
    let answer = {
        let mut ledger = sim.ledger.lock();
        effect(&mut ledger, sim)
    };
    if let Fault::Hang { wait_ms, .. } = fault {
        sim.sleep_unless_shutdown(wait_ms).await;
    }
    match answer {
        Ok(value) => json(StatusCode::OK, &value),
        Err(refused) => error(&refused),
    }
}

fn server_error(status: u16) -> Response {
    error(&ApiError {
        status,
        code: "SERVER_ERROR",
        description: "The server encountered an error. The incident has been reported to admins"
            .to_owned(),
        field: None,
    })
}

pub(super) async fn create_order(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    call(&sim, &headers, Endpoint::CreateOrder, |ledger, sim| {
        let request: wire::OrderCreate = parse_body(&body)?;
        let auto_capture = sim.switches.lock().auto_capture;
        Ok(ledger
            .create_order(request, auto_capture, now_s())?
            .to_wire())
    })
    .await
}

pub(super) async fn fetch_order(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    call(&sim, &headers, Endpoint::FetchOrder, |ledger, _| {
        Ok(ledger.order(&id)?.to_wire())
    })
    .await
}

pub(super) async fn order_payments(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    call(&sim, &headers, Endpoint::OrderPayments, |ledger, _| {
        let payments = ledger.order_payments(&id)?;
        Ok(wire::Collection::of(
            payments.iter().map(|p| p.to_wire()).collect(),
        ))
    })
    .await
}

pub(super) async fn fetch_payment(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    call(&sim, &headers, Endpoint::FetchPayment, |ledger, _| {
        Ok(ledger.payment(&id)?.to_wire())
    })
    .await
}

pub(super) async fn capture(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    call(&sim, &headers, Endpoint::Capture, |ledger, sim| {
        let request: wire::CaptureRequest = parse_body(&body)?;
        let (payment, events) = ledger.capture(&id, request.amount, &request.currency)?;
        sim.emit(events);
        Ok(payment.to_wire())
    })
    .await
}

pub(super) async fn refund(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    call(&sim, &headers, Endpoint::Refund, |ledger, sim| {
        let request: wire::RefundCreate = if body.is_empty() {
            wire::RefundCreate {
                amount: None,
                receipt: None,
                notes: wire::Notes::default(),
            }
        } else {
            parse_body(&body)?
        };
        let (refund, events) = ledger.refund(&id, request, now_s())?;
        sim.emit(events);
        Ok(refund.to_wire())
    })
    .await
}

pub(super) async fn payment_refunds(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    call(&sim, &headers, Endpoint::PaymentRefunds, |ledger, _| {
        let refunds = ledger.payment_refunds(&id)?;
        Ok(wire::Collection::of(
            refunds.iter().map(|r| r.to_wire()).collect(),
        ))
    })
    .await
}
