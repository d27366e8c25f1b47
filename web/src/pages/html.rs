//! HTML helpers: escaping, the page frame, money and times.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{Local, TimeZone};

use crate::ApiError;

/// Escapes text for HTML element content and quoted attributes.
pub fn escape(text: &str) -> String {
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

/// A whole page around `body` (already HTML).
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · CineBook</title><link rel="stylesheet" href="/assets/site.css"></head>
<body><header><a href="/">CineBook</a></header><main>
{body}
</main></body></html>"#,
        title = escape(title)
    ))
}

/// An error as a page with its sentence.
pub fn error_page(error: ApiError) -> Response {
    let status = if error.status == StatusCode::OK {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        error.status
    };
    let body = format!(
        r#"<h1>Sorry</h1><p role="alert" class="error">{}</p><p><a href="/">Start again</a></p>"#,
        escape(&error.message)
    );
    (status, page("Error", &body)).into_response()
}

/// `12.50 EUR`.
pub fn money(amount_minor: i64, currency: &str) -> String {
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    format!("{sign}{}.{:02} {}", abs / 100, abs % 100, escape(currency))
}

/// A local date and time, `Mon 3 Dec 19:30`.
pub fn when(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| Local.timestamp_millis_opt(ms).single())
        .map_or_else(
            || "?".to_string(),
            |t| t.format("%a %-d %b %H:%M").to_string(),
        )
}
