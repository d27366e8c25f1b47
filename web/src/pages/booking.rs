//! Back from the gateway's checkout, and the confirmation page.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cinebook_protocol::types::{PaymentOrderInfo, PaymentOrderState};
use serde::Deserialize;

use super::html::{error_page, escape, money, page};
use crate::api::bookings::find;
use crate::{ApiError, App};

/// What the checkout appends to its return link.
#[derive(Debug, Deserialize)]
pub(crate) struct CheckoutResult {
    razorpay_payment_id: Option<String>,
    razorpay_signature: Option<String>,
    #[serde(rename = "error[description]")]
    error_description: Option<String>,
    /// `payment_failed` (declined) or `payment_cancelled` (closed).
    #[serde(rename = "error[reason]")]
    error_reason: Option<String>,
}

pub(crate) async fn payment_return(
    State(app): State<App>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Query(result): Query<CheckoutResult>,
) -> Response {
    let Ok(order_id) = raw.parse::<u64>() else {
        return error_page(ApiError::invalid(format!("{raw:?} is not an order id.")));
    };
    let order = match (&result.razorpay_payment_id, &result.razorpay_signature) {
        (Some(payment), Some(signature)) => {
            app.client()
                .verify_checkout(order_id, payment, signature)
                .await
        }
        _ => app.client().payment_status(order_id).await,
    };
    let order = match order {
        Ok(order) => order,
        Err(e) => return error_page(ApiError::from(e)),
    };
    if let Some(code) = order
        .booking_code
        .clone()
        .filter(|_| order.state == PaymentOrderState::Booked)
    {
        let to = format!("/booking/{code}");
        return (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
    }
    let why = result
        .error_description
        .clone()
        .or(order.reason.clone())
        .unwrap_or_else(|| "The payment was not completed.".to_string());
    let why = why.trim_end_matches('.').to_string() + ".";
    let next = match not_paid(&app, &headers, &result, &order).await {
        Ok(true) => "Your seats were released; go back to the seat map to choose seats again.",
        Ok(false) => {
            "Your seats stay held until the payment window ends; go back to the seat map to \
             try again."
        }
        Err(e) => return error_page(e),
    };
    error_page(ApiError::new(
        StatusCode::PAYMENT_REQUIRED,
        "not_paid",
        format!("{why} {next}"),
    ))
}

/// Back from the checkout without a payment (declined, or closed): the order's hold, if it is
/// this browser's and still waits, is released (the node checks the gateway first and ends the
/// order unpaid). Whether the seats were given back.
async fn not_paid(
    app: &App,
    headers: &HeaderMap,
    result: &CheckoutResult,
    order: &PaymentOrderInfo,
) -> Result<bool, ApiError> {
    // Only the gateway's failure says so: a bare reload of the return link releases nothing.
    let failed = result.razorpay_payment_id.is_none() && result.error_reason.is_some();
    let waiting = matches!(
        order.state,
        PaymentOrderState::Creating | PaymentOrderState::AwaitingPayment
    );
    let ours = app.session(headers).is_some_and(|s| s.owns(order.hold_id));
    if !(failed && waiting && ours) {
        return Ok(false);
    }
    match app.client().release(order.hold_id).await {
        Ok(()) => Ok(true),
        // Already gone (the window ended meanwhile): nothing is held for this customer.
        Err(
            cinebook_client::Error::HoldExpired { .. } | cinebook_client::Error::NotFound { .. },
        ) => Ok(true),
        Err(e) => Err(ApiError::from(e)),
    }
}

pub(crate) async fn page_of(State(app): State<App>, Path(code): Path<String>) -> Response {
    let booking = match find(&app, &code).await {
        Ok(b) => b,
        Err(e) => return error_page(e),
    };
    let seats: String = booking
        .seats
        .iter()
        .map(|s| format!("<li>{} ({})</li>", escape(&s.label), s.category.name()))
        .collect();
    let qr_text = crate::ticket::ticket_qr_text(app.client(), &booking).await;
    let signed = qr_text.starts_with(cinebook_protocol::ticket::TICKET_PREFIX);
    let qr = match crate::ticket::qr_svg(&qr_text) {
        Ok(svg) => svg,
        Err(e) => {
            tracing::error!(error = %e, code = %booking.code, "no QR code for a booking");
            "<p>The QR code cannot be shown; the booking code above is the ticket.</p>".into()
        }
    };
    let body = format!(
        r#"<h1>Booked</h1><p>Booking code <strong id="code">{code}</strong></p>
<figure id="ticket-qr" data-signed="{signed}" aria-label="Ticket QR code">{qr}<figcaption>Show this at the door.</figcaption></figure>
<ul id="seats">{seats}</ul><p>Total <span id="total">{total}</span></p>
<p>Payment <span id="payment">{method} {reference}</span></p>
<p class="noprint"><button type="button" onclick="window.print()">Print</button></p>"#,
        code = escape(&booking.code),
        total = money(booking.total.amount_minor, &booking.total.currency),
        method = booking.payment.method.name(),
        reference = escape(booking.payment.reference.as_deref().unwrap_or("")),
    );
    page("Booked", &body).into_response()
}
