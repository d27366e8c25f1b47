//! The seat map page: an SVG drawn from the layout (rows, aisles and gaps where the layout has
//! them), with `assets/seatmap.js` for clicks, the hold, its countdown and live updates.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use cinebook_protocol::types::{Category, SeatMap, SeatState};

use super::html::{error_page, escape, money, when};
use crate::api::shows::show_id;
use crate::json::{state_name, HoldJson, MoneyJson};
use crate::session::Session;
use crate::{ApiError, App};

/// Size of one layout unit in SVG pixels.
const CELL_PX: u32 = 26;

/// Room above the seats for the screen.
const SCREEN_PX: u32 = 40;

fn mark(category: Category) -> &'static str {
    match category {
        Category::Wheelchair => "♿",
        Category::Companion => "C",
        Category::Premium => "P",
        Category::Recliner => "R",
        Category::Standard => "",
    }
}

fn price_of(map: &SeatMap, category: Category) -> Option<i64> {
    map.summary
        .show
        .prices
        .iter()
        .find(|p| p.category == category)
        .map(|p| p.amount_minor)
}

/// The SVG of a seat map; `mine` are the seats of this browser's hold (drawn "yours").
pub fn svg(map: &SeatMap, mine: &[u32]) -> String {
    let width = map.seats.iter().map(|s| u32::from(s.x)).max().unwrap_or(0) + 2;
    let height = map.seats.iter().map(|s| u32::from(s.y)).max().unwrap_or(0) + 2;
    let (w, h) = (width * CELL_PX, height * CELL_PX + SCREEN_PX);
    let currency = &map.summary.show.currency;
    let mut out = format!(
        r#"<svg id="seatmap" viewBox="0 0 {w} {h}" role="group" aria-label="Seat map"><rect class="screen" x="{sx}" y="4" width="{sw}" height="8"/><text x="{cx}" y="28" class="screen-label">SCREEN</text>"#,
        sx = CELL_PX,
        sw = w.saturating_sub(2 * CELL_PX),
        cx = w / 2,
    );
    for (seat, state) in map.seats.iter().zip(&map.states) {
        let x = (u32::from(seat.x) + 1) * CELL_PX;
        let y = u32::from(seat.y) * CELL_PX + SCREEN_PX;
        let price =
            price_of(map, seat.category).map_or("not for sale".to_string(), |p| money(p, currency));
        let state = if price_of(map, seat.category).is_none() {
            SeatState::Blocked
        } else {
            *state
        };
        let st = if state == SeatState::Held && mine.contains(&seat.id) {
            "mine"
        } else {
            state_name(state)
        };
        let text = match mark(seat.category) {
            "" => String::new(),
            mark => format!(r#"<text x="11" y="15">{mark}</text>"#),
        };
        // Geometry (rect size, the state's mark) is in the style sheet: the page of a 400-seat
        // hall stays under 100 KB.
        out.push_str(&format!(
            r#"<g class="seat {cat}" data-id="{id}" data-state="{st}" tabindex="0" role="button" aria-label="{label}, {cat}, {price}, {st}" transform="translate({x} {y})"><rect/><path class="m"/>{text}</g>"#,
            id = seat.id,
            label = escape(&seat.label),
            cat = seat.category.name(),
        ));
    }
    out.push_str("</svg>");
    out
}

fn legend(map: &SeatMap) -> String {
    let mut items = String::new();
    for price in &map.summary.show.prices {
        items.push_str(&format!(
            "<li>{} {}: {}</li>",
            escape(mark(price.category)),
            price.category.name(),
            money(price.amount_minor, &map.summary.show.currency)
        ));
    }
    format!(
        r#"<ul class="legend">{items}<li>Free: outlined</li><li>Held by someone else: hatched</li><li>Sold: crossed</li><li>Yours: ticked</li></ul>"#
    )
}

/// This browser's open hold on the show, as the page's script reads it: the cookie's newest
/// hold of this show whose deadline is ahead and whose seats the map shows held.
fn own_hold(map: &SeatMap, session: Option<&Session>, now_ms: u64) -> Option<HoldJson> {
    let hold = session?.holds.iter().rev().find(|h| {
        h.show_id == map.summary.show.id
            && h.expires_at_ms > now_ms
            && h.seats.iter().all(|id| {
                let index = map.seats.iter().position(|s| s.id == *id);
                index.and_then(|i| map.states.get(i)) == Some(&SeatState::Held)
            })
    })?;
    let seats: Vec<_> = hold
        .seats
        .iter()
        .filter_map(|id| map.seats.iter().find(|s| s.id == *id))
        .collect();
    let total = seats
        .iter()
        .map(|s| price_of(map, s.category).unwrap_or(0))
        .sum();
    Some(HoldJson {
        hold_id: hold.hold_id,
        show_id: hold.show_id,
        seats: hold.seats.clone(),
        labels: seats.iter().map(|s| s.label.clone()).collect(),
        expires_at_ms: hold.expires_at_ms,
        total: MoneyJson {
            amount_minor: total,
            currency: map.summary.show.currency.clone(),
        },
    })
}

pub(crate) async fn page_inner(
    app: &App,
    raw: &str,
    session: Option<&Session>,
) -> Result<String, ApiError> {
    let id = show_id(raw)?;
    let map = app.client().seat_map(id).await?;
    let own = own_hold(&map, session, crate::app::now_ms());
    let mine = own.as_ref().map_or(&[][..], |h| &h.seats[..]);
    let own_json = own
        .as_ref()
        .and_then(|h| serde_json::to_string(h).ok())
        .unwrap_or_default();
    let s = &map.summary;
    Ok(format!(
        r#"<h1>{title}</h1><p>{theater} · {screen} · {when}</p>
<div id="status" role="status" aria-live="polite"></div>
<div class="mapwrap">{svg}</div>{legend}
<form id="best"><label>Best <input type="number" id="best-count" min="1" max="10" value="2"> seats</label> <button type="submit">Hold best seats</button></form>
<p><button id="hold" type="button">Hold selected seats</button></p>
<section id="cart" hidden><h2>Your seats</h2><p id="cart-seats"></p><p>Total <span id="cart-total"></span></p>
<p>Held for <span id="countdown">–</span></p>
<form id="checkout"><label>Name <input id="name" name="name" required maxlength="100" autocomplete="name"></label>
<label>E-mail <input id="email" name="email" type="email" required maxlength="254" autocomplete="email"></label>
<button type="submit" id="pay">Pay</button> <button type="button" id="release">Give the seats back</button></form></section>
<script src="/assets/seatmap.js" data-show="{id}" data-hold="{own}" id="seatmap-script"></script>"#,
        title = escape(&s.movie_title),
        theater = escape(&s.theater_name),
        screen = escape(&s.screen_name),
        when = when(s.show.starts_at_ms),
        svg = svg(&map, mine),
        legend = legend(&map),
        own = escape(&own_json),
    ))
}

pub(crate) async fn page(
    State(app): State<App>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Response {
    let session = app.session(&headers);
    match page_inner(&app, &raw, session.as_ref()).await {
        Ok(body) => super::html::page("Seats", &body).into_response(),
        Err(e) => error_page(e),
    }
}
