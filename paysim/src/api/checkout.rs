//! The hosted checkout page and its two buttons' endpoints.
//!
//! The page is plain HTML forms (no script): Pay and Decline post to
//! `/sim/orders/{id}/pay|decline?callback_url=…`, which then redirect (303) to the callback
//! with the result as query parameters; Close is a link to the callback with an error. Without
//! `callback_url` the two endpoints answer JSON, for scripts.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use reqwest::Url;
use serde::Deserialize;

use super::{error, json};
use crate::ledger::ApiError;
use crate::sim::Sim;

#[derive(Debug, Deserialize)]
pub(super) struct Callback {
    callback_url: Option<String>,
}

/// Only http(s) callbacks, so the page never links to a script URL.
fn callback(raw: Option<&str>) -> Result<Option<Url>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(Some(url)),
        _ => Err(ApiError::bad_field(
            "callback_url",
            "callback_url must be an http(s) URL",
        )),
    }
}

fn with_params(mut url: Url, params: &[(&str, &str)]) -> String {
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

/// `?callback_url=…`, encoded, for the buttons' form actions.
fn callback_suffix(url: &Url) -> String {
    Url::parse_with_params("http://carrier/", [("callback_url", url.as_str())])
        .ok()
        .and_then(|carrier| carrier.query().map(|query| format!("?{query}")))
        .unwrap_or_default()
}

fn redirect(to: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn close_url(url: &Url, order_id: &str) -> String {
    with_params(
        url.clone(),
        &[
            ("error[code]", "BAD_REQUEST_ERROR"),
            ("error[description]", "Payment processing cancelled by user"),
            ("error[reason]", "payment_cancelled"),
            ("razorpay_order_id", order_id),
        ],
    )
}

pub(super) async fn page(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Query(query): Query<Callback>,
) -> Response {
    let url = match callback(query.callback_url.as_deref()) {
        Ok(url) => url,
        Err(refused) => return error(&refused),
    };
    let order = match sim.ledger.lock().order(&id) {
        Ok(order) => order.clone(),
        Err(_) => return (StatusCode::NOT_FOUND, Html("<h1>No such order</h1>")).into_response(),
    };
    let suffix = url.as_ref().map(callback_suffix).unwrap_or_default();
    let close = url.as_ref().map(|u| close_url(u, &order.id));
    Html(render(
        &order.id,
        order.amount_minor,
        &order.currency,
        &suffix,
        close.as_deref(),
    ))
    .into_response()
}

fn render(
    id: &str,
    amount_minor: u64,
    currency: &str,
    suffix: &str,
    close: Option<&str>,
) -> String {
    let id = escape(id);
    let suffix = escape(suffix);
    let close = close.map_or(String::new(), |to| {
        format!(r#"<p><a id="close" href="{}">Close</a></p>"#, escape(to))
    });
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>CineBook paysim checkout</title></head>
<body>
<h1>Pay {amount} {currency}</h1>
<p>Order <code>{id}</code> (simulated gateway: no card is charged)</p>
<form method="post" action="/sim/orders/{id}/pay{suffix}"><button id="pay" type="submit">Pay</button></form>
<form method="post" action="/sim/orders/{id}/decline{suffix}"><button id="decline" type="submit">Decline</button></form>
{close}
</body></html>
"#,
        amount = amount_minor,
        currency = escape(currency),
    )
}

pub(super) async fn pay(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Query(query): Query<Callback>,
) -> Response {
    let url = match callback(query.callback_url.as_deref()) {
        Ok(url) => url,
        Err(refused) => return error(&refused),
    };
    match (sim.pay(&id), url) {
        (Ok(paid), None) => json(StatusCode::OK, &paid),
        (Ok(paid), Some(url)) => redirect(with_params(
            url,
            &[
                ("razorpay_order_id", &paid.razorpay_order_id),
                ("razorpay_payment_id", &paid.razorpay_payment_id),
                ("razorpay_signature", &paid.razorpay_signature),
            ],
        )),
        (Err(refused), _) => error(&refused),
    }
}

pub(super) async fn decline(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Query(query): Query<Callback>,
) -> Response {
    let url = match callback(query.callback_url.as_deref()) {
        Ok(url) => url,
        Err(refused) => return error(&refused),
    };
    match (sim.decline(&id), url) {
        (Ok(declined), None) => json(StatusCode::OK, &declined),
        (Ok(declined), Some(url)) => {
            let detail = &declined.error;
            let metadata = serde_json::to_string(&detail.metadata).unwrap_or_default();
            redirect(with_params(
                url,
                &[
                    ("error[code]", &detail.code),
                    ("error[description]", &detail.description),
                    ("error[reason]", &detail.reason),
                    ("error[metadata]", &metadata),
                    ("razorpay_order_id", &detail.metadata.order_id),
                ],
            ))
        }
        (Err(refused), _) => error(&refused),
    }
}
