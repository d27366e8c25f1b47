//! Holds and their checkout: `POST /api/holds`, `DELETE /api/holds/{id}`,
//! `POST /api/holds/{id}/renew`, `POST /api/holds/{id}/checkout`, `GET /api/orders/{id}`.
//! Every hold is bound to the browser session that placed it.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cinebook_protocol::types::{PaymentOrderInfo, SeatSelection};
use sha2::{Digest, Sha256};

use super::bad_body;
use crate::app::now_ms;
use crate::json::{category, CheckoutRequest, HoldJson, HoldRequest, OrderJson};
use crate::session::{Session, SessionHold};
use crate::{ApiError, App};

fn hold_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::invalid(format!("{raw:?} is not a hold id (a whole number).")))
}

/// The session's hold, or `not_your_hold`.
fn owned(app: &App, headers: &HeaderMap, raw: &str) -> Result<(Session, u64), ApiError> {
    let id = hold_id(raw)?;
    match app.session(headers) {
        Some(session) if session.owns(id) => Ok((session, id)),
        _ => Err(ApiError::not_your_hold(id)),
    }
}

fn selection(app: &App, request: &HoldRequest) -> Result<SeatSelection, ApiError> {
    let max = app.config().hold_seats_max;
    let too_many = || {
        ApiError::invalid(format!(
            "At most {max} seats can be held at once (hold_seats_max)."
        ))
    };
    let selection =
        match (&request.seats, &request.labels, &request.best) {
            (Some(ids), None, None) => {
                if ids.len() > max {
                    return Err(too_many());
                }
                SeatSelection::Ids(ids.clone())
            }
            (None, Some(labels), None) => {
                if labels.len() > max {
                    return Err(too_many());
                }
                SeatSelection::Labels(labels.clone())
            }
            (None, None, Some(best)) => {
                if usize::from(best.count) > max {
                    return Err(too_many());
                }
                let category = match best.category.as_deref() {
                    None => None,
                    Some(name) => Some(category(name).ok_or_else(|| {
                        ApiError::invalid(format!("{name:?} is not a seat category."))
                    })?),
                };
                SeatSelection::Best {
                    count: best.count,
                    category,
                }
            }
            _ => return Err(ApiError::invalid(
                "Say which seats to hold with exactly one of \"seats\", \"labels\" or \"best\".",
            )),
        };
    let empty = match &selection {
        SeatSelection::Ids(v) => v.is_empty(),
        SeatSelection::Labels(v) => v.is_empty(),
        SeatSelection::Best { count, .. } => *count == 0,
    };
    if empty {
        return Err(ApiError::invalid("Choose at least one seat."));
    }
    Ok(selection)
}

pub(crate) async fn create(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<HoldRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(bad_body)?;
    let selection = selection(&app, &request)?;
    let addr = app.client_addr(peer, &headers);
    let config = app.config();
    if !app.inner.limiter.admit(addr, now_ms()) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_holds",
            format!(
                "This address has placed too many holds; at most {} per {} s \
                 (holds_per_address_max per holds_per_address_window_ms).",
                config.holds_per_address_max,
                config.holds_per_address_window_ms / 1000
            ),
        ));
    }
    let hold = app.client().hold(request.show_id, selection).await?;
    let mut session = app.session(&headers).unwrap_or_else(Session::fresh);
    let remembered = SessionHold {
        hold_id: hold.hold_id,
        show_id: hold.show_id,
        expires_at_ms: hold.expires_at_ms,
        seats: hold.seats.clone(),
    };
    session.add_hold(remembered, config.session_holds_max);
    let cookie = session.set_cookie(&config.cookie_secret);
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie)],
        Json(HoldJson::from(&hold)),
    )
        .into_response())
}

/// The session's cookie after a change to it.
fn cookie(app: &App, session: &Session) -> [(header::HeaderName, String); 1] {
    [(
        header::SET_COOKIE,
        session.set_cookie(&app.config().cookie_secret),
    )]
}

pub(crate) async fn release(
    State(app): State<App>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let (mut session, id) = owned(&app, &headers, &raw)?;
    app.client().release(id).await?;
    session.remove_hold(id);
    Ok((StatusCode::NO_CONTENT, cookie(&app, &session)).into_response())
}

pub(crate) async fn renew(
    State(app): State<App>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let (mut session, id) = owned(&app, &headers, &raw)?;
    let hold = app.client().renew(id).await?;
    session.set_expiry(id, hold.expires_at_ms);
    Ok((cookie(&app, &session), Json(HoldJson::from(&hold))).into_response())
}

/// The order's idempotency key: one per hold, the same on every replica (derived from the
/// shared cookie secret), so a retried checkout answers the same order.
fn order_key(app: &App, hold_id: u64) -> String {
    let mut hash = Sha256::new();
    hash.update(b"cinebook-web-order-v1|");
    hash.update(&app.config().cookie_secret);
    hash.update(hold_id.to_be_bytes());
    hex::encode(&hash.finalize()[..16])
}

fn check_customer(app: &App, request: &CheckoutRequest) -> Result<(), ApiError> {
    let name = request.name.trim();
    let max = app.config().name_max_chars;
    if name.is_empty() || name.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "Give a name of 1 to {max} characters (name_max_chars)."
        )));
    }
    let email = request.email.trim();
    let email_max = app.config().email_max_bytes;
    let shaped = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    });
    if !shaped || email.len() > email_max || email.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid(format!(
            "Give an e-mail address such as name@example.com, at most {email_max} bytes \
             (email_max_bytes)."
        )));
    }
    Ok(())
}

/// What the customer typed, for the booking's confirmation e-mail (checked by
/// `check_customer`).
fn contact(request: &CheckoutRequest) -> cinebook_protocol::types::Contact {
    cinebook_protocol::types::Contact {
        email: Some(request.email.trim().to_owned()),
        phone: None,
    }
}

/// The gateway's checkout URL with this site's return link added.
pub(crate) fn checkout_link(
    app: &App,
    headers: &HeaderMap,
    order: &PaymentOrderInfo,
) -> Option<String> {
    let raw = order.checkout_url.as_deref()?;
    let mut url = reqwest::Url::parse(raw).ok()?;
    // The node's own `checkout_return_url` knows no order page of this site: replace it.
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "callback_url")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let back = format!("{}/pay/return/{}", app.public_base(headers), order.order_id);
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("callback_url", &back);
    Some(url.into())
}

pub(crate) async fn checkout(
    State(app): State<App>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: Result<Json<CheckoutRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (mut session, id) = owned(&app, &headers, &raw)?;
    let Json(request) = body.map_err(bad_body)?;
    check_customer(&app, &request)?;
    let order = app
        .client()
        .create_payment_order_with_contact(id, &order_key(&app, id), contact(&request))
        .await?;
    // The hold now lasts until the payment window's end.
    session.set_expiry(id, order.window_ends_at_ms);
    let link = checkout_link(&app, &headers, &order);
    Ok((cookie(&app, &session), Json(OrderJson::new(&order, link))).into_response())
}

pub(crate) async fn order(
    State(app): State<App>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Json<OrderJson>, ApiError> {
    let id: u64 = raw
        .parse()
        .map_err(|_| ApiError::invalid(format!("{raw:?} is not an order id (a whole number).")))?;
    let session = app.session(&headers);
    let order = app.client().payment_status(id).await?;
    if !session.is_some_and(|s| s.owns(order.hold_id)) {
        return Err(ApiError::not_found(format!(
            "There is no order {id} in this browser session."
        )));
    }
    let link = checkout_link(&app, &headers, &order);
    Ok(Json(OrderJson::new(&order, link)))
}
