//! The server-rendered pages: city and date → shows → seat map → checkout → confirmation.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::App;

mod booking;
mod html;
mod listing;
mod seatmap;

/// The seat map's script: clicks, the hold, the countdown, the live feed.
const SEATMAP_JS: &str = include_str!("../../assets/seatmap.js");

/// The site's style sheet.
const SITE_CSS: &str = include_str!("../../assets/site.css");

/// The page routes.
pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(listing::index))
        .route("/shows", get(listing::shows))
        .route("/show/{id}", get(seatmap::page))
        .route("/pay/return/{order_id}", get(booking::payment_return))
        .route("/booking/{code}", get(booking::page_of))
        .route("/assets/seatmap.js", get(script))
        .route("/assets/site.css", get(style))
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SEATMAP_JS,
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        SITE_CSS,
    )
}
