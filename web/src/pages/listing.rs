//! The first steps: city and date, then the movies playing with their showtimes by theater.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::html::{error_page, escape, page, when};
use crate::api::shows_for;
use crate::json::ShowJson;
use crate::{ApiError, App};

pub(crate) async fn index(State(app): State<App>) -> Response {
    let cities = match app.client().list_cities().await {
        Ok(cities) => cities,
        Err(e) => return error_page(ApiError::from(e)),
    };
    let options: String = cities
        .iter()
        .map(|c| format!(r#"<option value="{}">{}</option>"#, c.id, escape(&c.name)))
        .collect();
    let today = chrono::Local::now().format("%Y-%m-%d");
    let body = format!(
        r#"<h1>Book a seat</h1>
<form method="get" action="/shows">
<label>City <select name="city" id="city">{options}</select></label>
<label>Date <input type="date" name="date" id="date" value="{today}" required></label>
<button type="submit" id="find">Find shows</button>
</form>"#
    );
    page("Choose a city", &body).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowsQuery {
    city: Option<String>,
    date: Option<String>,
}

pub(crate) async fn shows(State(app): State<App>, Query(query): Query<ShowsQuery>) -> Response {
    let shows = match shows_for(&app, query.city.as_deref(), query.date.as_deref()).await {
        Ok(shows) => shows,
        Err(e) => return error_page(e),
    };
    let movies = match app.client().list_movies(None).await {
        Ok(movies) => movies,
        Err(e) => return error_page(ApiError::from(e)),
    };
    let mut by_movie: BTreeMap<u64, BTreeMap<String, Vec<&ShowJson>>> = BTreeMap::new();
    for show in &shows {
        by_movie
            .entry(show.movie_id)
            .or_default()
            .entry(show.theater_name.clone())
            .or_default()
            .push(show);
    }
    let mut body = String::from("<h1>Movies playing</h1>");
    if by_movie.is_empty() {
        body.push_str("<p>No shows on that day in that city. Try another date.</p>");
    }
    for (movie_id, theaters) in &by_movie {
        let movie = movies.iter().find(|m| m.id == *movie_id);
        let title = movie.map_or("?", |m| m.title.as_str());
        let facts = movie.map_or(String::new(), |m| {
            format!("{} min · {}", m.runtime_min, escape(&m.rating))
        });
        body.push_str(&format!(
            r#"<section class="movie"><h2>{}</h2><p class="facts">{facts}</p>"#,
            escape(title)
        ));
        for (theater, list) in theaters {
            body.push_str(&format!("<h3>{}</h3><ul class=\"times\">", escape(theater)));
            for show in list {
                body.push_str(&format!(
                    r#"<li><a class="showtime" href="/show/{id}">{when} · {screen} · {free} of {total} seats free</a></li>"#,
                    id = show.show_id,
                    when = when(show.starts_at_ms),
                    screen = escape(&show.screen_name),
                    free = show.seats_free,
                    total = show.seats_total,
                ));
            }
            body.push_str("</ul>");
        }
        body.push_str("</section>");
    }
    page("Movies", &body).into_response()
}
