//! `GET /api/bookings/{code}`.

use axum::extract::{Path, State};
use axum::Json;

use crate::json::BookingJson;
use crate::{ApiError, App};

/// Longest booking code looked up, in bytes.
pub const BOOKING_CODE_MAX_BYTES: usize = 32;

pub(crate) async fn get(
    State(app): State<App>,
    Path(code): Path<String>,
) -> Result<Json<BookingJson>, ApiError> {
    let booking = find(&app, &code).await?;
    Ok(Json(BookingJson::from(&booking)))
}

/// A booking sold by this site, by code.
pub(crate) async fn find(
    app: &App,
    code: &str,
) -> Result<cinebook_protocol::types::Booking, ApiError> {
    let code = code.trim();
    let shaped = !code.is_empty()
        && code.len() <= BOOKING_CODE_MAX_BYTES
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !shaped {
        return Err(ApiError::invalid(
            "A booking code has letters, digits and dashes, such as K7QX-3MPA.",
        ));
    }
    Ok(app.client().booking(code).await?)
}
