//! `GET /api/shows` and `GET /api/shows/{id}/seats`.

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{Local, NaiveDate, TimeZone};
use cinebook_protocol::types::ShowFilter;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::json::{SeatMapJson, ShowJson};
use crate::{ApiError, App};

/// The query of `GET /api/shows`.
#[derive(Debug, Deserialize)]
pub(crate) struct ShowsQuery {
    city: Option<String>,
    date: Option<String>,
    /// With `limit`: one page of at most this many shows, and `next` for the one after.
    limit: Option<u32>,
    /// The previous page's `next`.
    after: Option<String>,
}

/// Parses a show id from the path.
pub(crate) fn show_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::invalid(format!("{raw:?} is not a show id (a whole number).")))
}

/// `[start, end)` of a local day, ms since the Unix epoch.
pub(crate) fn day_range_ms(date: &str) -> Result<(u64, u64), ApiError> {
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(format!("{date:?} is not a date of the form YYYY-MM-DD."))
    })?;
    let ms = |d: NaiveDate| -> Option<u64> {
        let midnight = d.and_hms_opt(0, 0, 0)?;
        let local = Local.from_local_datetime(&midnight).earliest()?;
        u64::try_from(local.timestamp_millis()).ok()
    };
    let next = day.succ_opt();
    match (ms(day), next.and_then(ms)) {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(ApiError::invalid(format!("{date:?} is out of range."))),
    }
}

/// Resolves `city` (an id or a name, case-insensitive) to a city id.
pub(crate) async fn city_id(app: &App, city: &str) -> Result<u64, ApiError> {
    let cities = app.client().list_cities().await?;
    let found = match city.parse::<u64>() {
        Ok(id) => cities.iter().find(|c| c.id == id),
        Err(_) => cities.iter().find(|c| c.name.eq_ignore_ascii_case(city)),
    };
    found
        .map(|c| c.id)
        .ok_or_else(|| ApiError::not_found(format!("There is no city {city:?}.")))
}

/// The filter of a city and date query.
async fn filter_for(
    app: &App,
    city: Option<&str>,
    date: Option<&str>,
) -> Result<ShowFilter, ApiError> {
    let mut filter = ShowFilter::default();
    if let Some(city) = city.filter(|c| !c.is_empty()) {
        filter.city_id = Some(city_id(app, city).await?);
    }
    if let Some(date) = date.filter(|d| !d.is_empty()) {
        let (from, to) = day_range_ms(date)?;
        filter.from_ms = Some(from);
        filter.to_ms = Some(to);
    }
    Ok(filter)
}

/// The shows matching a city and date query (every page).
pub(crate) async fn shows_for(
    app: &App,
    city: Option<&str>,
    date: Option<&str>,
) -> Result<Vec<ShowJson>, ApiError> {
    let filter = filter_for(app, city, date).await?;
    let shows = app.client().list_shows(filter).await?;
    Ok(shows.iter().map(ShowJson::from).collect())
}

pub(crate) async fn list(
    State(app): State<App>,
    Query(query): Query<ShowsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (city, date) = (query.city.as_deref(), query.date.as_deref());
    let Some(limit) = query.limit else {
        if query.after.is_some() {
            return Err(ApiError::invalid("`after` goes with `limit`."));
        }
        let shows = shows_for(&app, city, date).await?;
        return Ok(Json(json!({ "shows": shows, "next": null })));
    };
    let filter = filter_for(&app, city, date).await?;
    let (shows, next) = app
        .client()
        .list_shows_page(filter, query.after, limit)
        .await?;
    let shows: Vec<ShowJson> = shows.iter().map(ShowJson::from).collect();
    Ok(Json(json!({ "shows": shows, "next": next })))
}

pub(crate) async fn seats(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<SeatMapJson>, ApiError> {
    let id = show_id(&id)?;
    let map = app.client().seat_map(id).await?;
    Ok(Json(SeatMapJson::from(&map)))
}
