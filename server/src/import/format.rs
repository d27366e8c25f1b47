//! The import document (docs/IMPORT.md): parsing with a message that names the line and the
//! field, and validation of everything that does not need the store.

use std::collections::{BTreeMap, HashSet};

use cinebook_protocol::types::{Category, Price, Screen, Seat};
use serde::Deserialize;

use crate::domain::Layout;
use crate::store::mysql::widths;

/// The only format version this server reads.
pub const FORMAT_VERSION: u32 = 1;

/// Largest import document, in bytes (a file or an HTTP body).
pub const DOCUMENT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Most seats of one screen; the same limit as the seat-map state machine's (`Layout::new`
/// checks it too). Row expansion stops past it, so a hostile document cannot make the importer
/// build millions of seats.
pub const SCREEN_SEATS_MAX: usize = 4096;

/// Most validation errors listed before the rest are summarised.
pub const ERRORS_LISTED_MAX: usize = 20;

/// A document as written (docs/IMPORT.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDocument {
    /// Format version, 1.
    pub version: u32,
    /// Name of the upstream, such as `example-movie-api`.
    pub source: String,
    /// Cities.
    #[serde(default)]
    pub cities: Vec<RawCity>,
    /// Theaters.
    #[serde(default)]
    pub theaters: Vec<RawTheater>,
    /// Screens.
    #[serde(default)]
    pub screens: Vec<RawScreen>,
    /// Movies.
    #[serde(default)]
    pub movies: Vec<RawMovie>,
    /// Shows.
    #[serde(default)]
    pub shows: Vec<RawShow>,
}

/// A city.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCity {
    /// External id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A theater.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTheater {
    /// External id.
    pub id: String,
    /// External id of its city.
    pub city: String,
    /// Name.
    pub name: String,
}

/// A screen: its seats as a list (`seats`) or as compact rows (`rows`), exactly one of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScreen {
    /// External id.
    pub id: String,
    /// External id of its theater.
    pub theater: String,
    /// Name.
    pub name: String,
    /// Every seat, in seat-id order.
    #[serde(default)]
    pub seats: Option<Vec<RawSeat>>,
    /// Rows, front (nearest the screen) first.
    #[serde(default)]
    pub rows: Option<Vec<RawRow>>,
}

/// One seat.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSeat {
    /// Row name.
    pub row: String,
    /// Label printed on the ticket.
    pub label: String,
    /// Category name.
    pub category: String,
    /// Column; a gap in x between neighbours is an aisle.
    pub x: u16,
    /// Row position, 0 nearest the screen.
    pub y: u16,
}

/// A row of seats numbered 1.. from the left, labelled row name + number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRow {
    /// Row name, such as `A`.
    pub row: String,
    /// Number of seats.
    pub seats: u16,
    /// Category of the row's seats.
    #[serde(default = "standard")]
    pub category: String,
    /// Column of the first seat (to centre a short row).
    #[serde(default)]
    pub x: u16,
    /// Row position; default: one behind the previous row (0 for the first).
    #[serde(default)]
    pub y: Option<u16>,
    /// Seat numbers after which an aisle (one empty column) follows.
    #[serde(default)]
    pub aisles_after: Vec<u16>,
    /// Categories of single seats by seat number, such as `{"1": "wheelchair"}`.
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
}

fn standard() -> String {
    Category::Standard.name().to_owned()
}

/// A movie.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMovie {
    /// External id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Running time in minutes.
    pub runtime_min: u16,
    /// Age rating.
    pub rating: String,
}

/// A show.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShow {
    /// External id.
    pub id: String,
    /// External id of the movie.
    pub movie: String,
    /// External id of the screen.
    pub screen: String,
    /// Start, RFC 3339 with an offset, such as `2026-11-27T20:15:00+01:00`.
    pub starts_at: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Price per category name, in minor units.
    pub prices: BTreeMap<String, i64>,
}

/// A validated city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocCity {
    /// External id.
    pub ext: String,
    /// Name.
    pub name: String,
}

/// A validated theater.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocTheater {
    /// External id.
    pub ext: String,
    /// External id of its city.
    pub city: String,
    /// Name.
    pub name: String,
}

/// A validated screen with its seats (ids 0..n).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocScreen {
    /// External id.
    pub ext: String,
    /// External id of its theater.
    pub theater: String,
    /// Name.
    pub name: String,
    /// Seats; `seats[i].id == i`.
    pub seats: Vec<Seat>,
}

/// A validated movie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocMovie {
    /// External id.
    pub ext: String,
    /// Title.
    pub title: String,
    /// Running time in minutes.
    pub runtime_min: u16,
    /// Age rating.
    pub rating: String,
}

/// A validated show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocShow {
    /// External id.
    pub ext: String,
    /// External id of the movie.
    pub movie: String,
    /// External id of the screen.
    pub screen: String,
    /// Start, ms since the Unix epoch.
    pub starts_at_ms: u64,
    /// Currency.
    pub currency: String,
    /// Prices by category.
    pub prices: Vec<Price>,
}

/// A document that passed validation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    /// Upstream name.
    pub source: String,
    /// Cities.
    pub cities: Vec<DocCity>,
    /// Theaters.
    pub theaters: Vec<DocTheater>,
    /// Screens.
    pub screens: Vec<DocScreen>,
    /// Movies.
    pub movies: Vec<DocMovie>,
    /// Shows.
    pub shows: Vec<DocShow>,
}

impl Document {
    /// Number of catalog items.
    pub fn items(&self) -> usize {
        self.cities.len()
            + self.theaters.len()
            + self.screens.len()
            + self.movies.len()
            + self.shows.len()
    }
}

/// Why input was rejected: every problem found, each naming its line or field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct Invalid(pub Vec<String>);

fn render(problems: &[String]) -> String {
    let mut text = format!(
        "the input was rejected ({} problem{}); nothing was changed:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for problem in problems.iter().take(ERRORS_LISTED_MAX) {
        text.push_str("\n  - ");
        text.push_str(problem);
    }
    if problems.len() > ERRORS_LISTED_MAX {
        text.push_str(&format!(
            "\n  … and {} more",
            problems.len() - ERRORS_LISTED_MAX
        ));
    }
    text
}

/// Parses JSON into `T`, naming the line, column and field of the first problem.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Invalid> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => match de.end() {
            Ok(()) => Ok(value),
            Err(e) => Err(Invalid(vec![format!(
                "line {} column {}: {}",
                e.line(),
                e.column(),
                without_position(&e)
            )])),
        },
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let field = if path == "." || path.is_empty() {
                String::new()
            } else {
                format!(" (field {path})")
            };
            Err(Invalid(vec![format!(
                "line {} column {}{field}: {}",
                inner.line(),
                inner.column(),
                without_position(&inner)
            )]))
        }
    }
}

/// serde_json's message without its own trailing " at line L column C" (the problem already
/// starts with the position).
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix)
        .map_or(text.clone(), str::to_owned)
}

/// Collects problems while validating.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub Vec<String>);

impl Problems {
    pub(crate) fn add(&mut self, problem: String) {
        self.0.push(problem);
    }

    /// A text field: not empty (when `required`), at most `max_chars` characters.
    pub(crate) fn text(&mut self, field: &str, value: &str, max_chars: usize) {
        if value.trim().is_empty() {
            self.add(format!("{field}: must not be empty"));
        } else if value.chars().count() > max_chars {
            self.add(format!(
                "{field}: {} characters, at most {max_chars} allowed",
                value.chars().count()
            ));
        }
    }

    pub(crate) fn category(&mut self, field: &str, name: &str) -> Option<Category> {
        let found = Category::parse(name);
        if found.is_none() {
            self.add(format!(
                "{field}: unknown category {name:?} (use standard, premium, recliner, \
                 wheelchair or companion)"
            ));
        }
        found
    }

    pub(crate) fn finish<T>(self, value: T) -> Result<T, Invalid> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Invalid(self.0))
        }
    }
}

/// Checks a seat list as a layout (ids, unique labels, seat count, widths).
pub(crate) fn check_layout(problems: &mut Problems, field: &str, seats: &[Seat]) {
    if seats.is_empty() || seats.len() > SCREEN_SEATS_MAX {
        problems.add(format!(
            "{field}: {} seats, a screen has 1 to {SCREEN_SEATS_MAX}",
            seats.len()
        ));
        return;
    }
    let mut labels = HashSet::new();
    for (i, seat) in seats.iter().enumerate() {
        problems.text(&format!("{field}[{i}].row"), &seat.row, widths::ROW);
        problems.text(&format!("{field}[{i}].label"), &seat.label, widths::LABEL);
        if !labels.insert(seat.label.as_str()) {
            problems.add(format!(
                "{field}[{i}].label: {:?} appears twice",
                seat.label
            ));
        }
    }
    let mut positions = HashSet::new();
    for (i, seat) in seats.iter().enumerate() {
        if !positions.insert((seat.x, seat.y)) {
            problems.add(format!(
                "{field}[{i}]: another seat is already at x {} y {}",
                seat.x, seat.y
            ));
        }
    }
    let screen = Screen {
        id: 0,
        theater_id: 0,
        name: String::new(),
        seats: seats.to_vec(),
    };
    if let Err(e) = Layout::new(&screen) {
        problems.add(format!("{field}: {e}"));
    }
}

/// Expands compact rows into seats.
fn expand_rows(problems: &mut Problems, field: &str, rows: &[RawRow]) -> Vec<Seat> {
    let mut seats = Vec::new();
    let mut next_y: u32 = 0;
    for (r, row) in rows.iter().enumerate() {
        let at = format!("{field}.rows[{r}]");
        problems.text(&format!("{at}.row"), &row.row, widths::ROW);
        let Some(category) = problems.category(&format!("{at}.category"), &row.category) else {
            continue;
        };
        let y = match row.y {
            Some(y) => u32::from(y),
            None => next_y,
        };
        next_y = y + 1;
        let Ok(y) = u16::try_from(y) else {
            problems.add(format!("{at}.y: beyond {}", u16::MAX));
            continue;
        };
        if row.seats == 0 {
            problems.add(format!("{at}.seats: a row has at least one seat"));
            continue;
        }
        if usize::from(row.seats) > SCREEN_SEATS_MAX {
            problems.add(format!(
                "{at}.seats: {} seats, at most {SCREEN_SEATS_MAX}",
                row.seats
            ));
            continue;
        }
        for after in &row.aisles_after {
            if *after == 0 || *after >= row.seats {
                problems.add(format!(
                    "{at}.aisles_after: {after} is not between two seats of the row (1 to {})",
                    row.seats - 1
                ));
            }
        }
        let mut overrides = BTreeMap::new();
        for (number, name) in &row.overrides {
            let key = format!("{at}.overrides.{number}");
            match number.parse::<u16>() {
                Ok(n) if (1..=row.seats).contains(&n) => {
                    if let Some(c) = problems.category(&key, name) {
                        overrides.insert(n, c);
                    }
                }
                _ => problems.add(format!(
                    "{key}: not a seat number of the row (1 to {})",
                    row.seats
                )),
            }
        }
        if seats.len() + usize::from(row.seats) > SCREEN_SEATS_MAX {
            problems.add(format!(
                "{at}: the screen has more than {SCREEN_SEATS_MAX} seats"
            ));
            break;
        }
        let mut x = u32::from(row.x);
        for number in 1..=row.seats {
            let Ok(column) = u16::try_from(x) else {
                problems.add(format!("{at}: the row runs past column {}", u16::MAX));
                break;
            };
            let id = u32::try_from(seats.len()).unwrap_or(u32::MAX);
            seats.push(Seat {
                id,
                row: row.row.clone(),
                label: format!("{}{number}", row.row),
                category: overrides.get(&number).copied().unwrap_or(category),
                x: column,
                y,
            });
            x += 1;
            if row.aisles_after.contains(&number) {
                x += 1;
            }
        }
    }
    seats
}

/// Validates a parsed document: every field, every reference inside the document, every
/// layout. References to rows imported earlier from the same source are checked by the plan.
pub fn validate(raw: RawDocument) -> Result<Document, Invalid> {
    let mut p = Problems::default();
    if raw.version != FORMAT_VERSION {
        p.add(format!(
            "version: {} is not supported (this server reads version {FORMAT_VERSION})",
            raw.version
        ));
    }
    p.text("source", &raw.source, widths::SOURCE);
    let mut doc = Document {
        source: raw.source.clone(),
        ..Document::default()
    };

    fn unique<'a>(p: &mut Problems, list: &str, ids: impl Iterator<Item = &'a String>) {
        let mut seen = HashSet::new();
        for (i, id) in ids.enumerate() {
            p.text(&format!("{list}[{i}].id"), id, widths::EXTERNAL_ID);
            if !seen.insert(id.as_str()) {
                p.add(format!("{list}[{i}].id: {id:?} appears twice"));
            }
        }
    }
    unique(&mut p, "cities", raw.cities.iter().map(|c| &c.id));
    unique(&mut p, "theaters", raw.theaters.iter().map(|c| &c.id));
    unique(&mut p, "screens", raw.screens.iter().map(|c| &c.id));
    unique(&mut p, "movies", raw.movies.iter().map(|c| &c.id));
    unique(&mut p, "shows", raw.shows.iter().map(|c| &c.id));

    for (i, c) in raw.cities.into_iter().enumerate() {
        p.text(&format!("cities[{i}].name"), &c.name, widths::NAME);
        doc.cities.push(DocCity {
            ext: c.id,
            name: c.name,
        });
    }
    for (i, t) in raw.theaters.into_iter().enumerate() {
        p.text(&format!("theaters[{i}].name"), &t.name, widths::NAME);
        p.text(&format!("theaters[{i}].city"), &t.city, widths::EXTERNAL_ID);
        doc.theaters.push(DocTheater {
            ext: t.id,
            city: t.city,
            name: t.name,
        });
    }
    for (i, s) in raw.screens.into_iter().enumerate() {
        let field = format!("screens[{i}]");
        p.text(&format!("{field}.name"), &s.name, widths::NAME);
        p.text(&format!("{field}.theater"), &s.theater, widths::EXTERNAL_ID);
        let seats = match (&s.seats, &s.rows) {
            (Some(seats), None) => {
                let mut out = Vec::with_capacity(seats.len());
                for (j, seat) in seats.iter().enumerate() {
                    let at = format!("{field}.seats[{j}].category");
                    if let Some(category) = p.category(&at, &seat.category) {
                        out.push(Seat {
                            id: u32::try_from(j).unwrap_or(u32::MAX),
                            row: seat.row.clone(),
                            label: seat.label.clone(),
                            category,
                            x: seat.x,
                            y: seat.y,
                        });
                    }
                }
                out
            }
            (None, Some(rows)) => expand_rows(&mut p, &field, rows),
            _ => {
                p.add(format!("{field}: give exactly one of `seats` and `rows`"));
                Vec::new()
            }
        };
        if !seats.is_empty() {
            check_layout(&mut p, &format!("{field}.seats"), &seats);
        }
        doc.screens.push(DocScreen {
            ext: s.id,
            theater: s.theater,
            name: s.name,
            seats,
        });
    }
    for (i, m) in raw.movies.into_iter().enumerate() {
        p.text(&format!("movies[{i}].title"), &m.title, widths::TITLE);
        p.text(&format!("movies[{i}].rating"), &m.rating, widths::RATING);
        if m.runtime_min == 0 {
            p.add(format!("movies[{i}].runtime_min: must be above 0"));
        }
        doc.movies.push(DocMovie {
            ext: m.id,
            title: m.title,
            runtime_min: m.runtime_min,
            rating: m.rating,
        });
    }
    for (i, s) in raw.shows.into_iter().enumerate() {
        let field = format!("shows[{i}]");
        let starts_at_ms = match chrono::DateTime::parse_from_rfc3339(&s.starts_at) {
            Ok(t) => match u64::try_from(t.timestamp_millis()) {
                Ok(ms) => ms,
                Err(_) => {
                    p.add(format!(
                        "{field}.starts_at: {:?} is before 1970",
                        s.starts_at
                    ));
                    0
                }
            },
            Err(e) => {
                p.add(format!(
                    "{field}.starts_at: {:?} is not an RFC 3339 time such as \
                     2026-11-27T20:15:00+01:00 ({e})",
                    s.starts_at
                ));
                0
            }
        };
        if s.currency.len() != widths::CURRENCY
            || !s.currency.chars().all(|c| c.is_ascii_uppercase())
        {
            p.add(format!(
                "{field}.currency: {:?} is not a three-letter ISO 4217 code such as EUR",
                s.currency
            ));
        }
        if s.prices.is_empty() {
            p.add(format!(
                "{field}.prices: at least one category needs a price"
            ));
        }
        let mut prices = Vec::with_capacity(s.prices.len());
        for (name, amount) in &s.prices {
            let at = format!("{field}.prices.{name}");
            if let Some(category) = p.category(&at, name) {
                if *amount < 0 {
                    p.add(format!("{at}: {amount} is negative"));
                }
                prices.push(Price {
                    category,
                    amount_minor: *amount,
                });
            }
        }
        prices.sort_by_key(|p| p.category);
        doc.shows.push(DocShow {
            ext: s.id,
            movie: s.movie,
            screen: s.screen,
            starts_at_ms,
            currency: s.currency,
            prices,
        });
    }
    p.finish(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> Result<Document, Invalid> {
        validate(parse_json::<RawDocument>(json.as_bytes())?)
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let error = doc("{\n  \"version\": 1,\n  \"source\": \"x\",\n  \"cities\": [\n    {\"id\": \"a\" \"name\": \"b\"}\n  ]\n}")
            .expect_err("malformed");
        assert!(error.0[0].starts_with("line 5 "), "{error}");
    }

    #[test]
    fn a_wrong_type_names_its_field() {
        let error = doc(r#"{"version": 1, "source": "x", "movies": [{"id": "m", "title": "T", "runtime_min": "long", "rating": "PG"}]}"#)
            .expect_err("wrong type");
        assert!(error.0[0].contains("movies[0].runtime_min"), "{error}");
    }

    #[test]
    fn rows_expand_with_aisles_and_overrides() {
        let d = doc(r#"{"version": 1, "source": "x", "screens": [{"id": "s", "theater": "t", "name": "S",
            "rows": [{"row": "A", "seats": 4, "aisles_after": [2], "overrides": {"1": "wheelchair", "2": "companion"}},
                     {"row": "B", "seats": 3, "x": 1, "category": "recliner"}]}]}"#)
        .expect("valid");
        let seats = &d.screens[0].seats;
        let view: Vec<(&str, Category, u16, u16)> = seats
            .iter()
            .map(|s| (s.label.as_str(), s.category, s.x, s.y))
            .collect();
        assert_eq!(
            view,
            vec![
                ("A1", Category::Wheelchair, 0, 0),
                ("A2", Category::Companion, 1, 0),
                ("A3", Category::Standard, 3, 0),
                ("A4", Category::Standard, 4, 0),
                ("B1", Category::Recliner, 1, 1),
                ("B2", Category::Recliner, 2, 1),
                ("B3", Category::Recliner, 3, 1),
            ]
        );
    }

    #[test]
    fn every_semantic_problem_is_listed_with_its_field() {
        let error = doc(r#"{"version": 2, "source": "x",
            "cities": [{"id": "c", "name": ""}, {"id": "c", "name": "Bern"}],
            "shows": [{"id": "s", "movie": "m", "screen": "x", "starts_at": "tomorrow",
                       "currency": "chf", "prices": {"vip": 10, "standard": -1}}]}"#)
        .expect_err("invalid");
        let text = error.to_string();
        for needle in [
            "version: 2",
            "cities[0].name",
            "cities[1].id: \"c\" appears twice",
            "shows[0].starts_at",
            "shows[0].currency",
            "shows[0].prices.vip",
            "shows[0].prices.standard: -1 is negative",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn duplicate_labels_are_rejected() {
        let error = doc(
            r#"{"version": 1, "source": "x", "screens": [{"id": "s", "theater": "t", "name": "S",
            "seats": [{"row": "A", "label": "A1", "category": "standard", "x": 0, "y": 0},
                      {"row": "A", "label": "A1", "category": "standard", "x": 1, "y": 0}]}]}"#,
        )
        .expect_err("duplicate label");
        assert!(
            error.to_string().contains("screens[0].seats[1].label"),
            "{error}"
        );
    }
}
