//! A screen's seat layout from CSV: `cinebook-server import --seatmap FILE.csv --screen ID`.
//!
//! The file has a header line naming the columns `row,label,category,x,y` (in any order; other
//! columns are refused) and one line per seat, in seat-id order. The layout replaces the
//! screen's seats in one transaction, unless a show on the screen has sold seats.

use cinebook_protocol::types::{Screen, ScreenId, Seat};
use serde::Deserialize;

use super::format::{check_layout, Invalid, Problems, DOCUMENT_MAX_BYTES, SCREEN_SEATS_MAX};
use super::plan::Current;
use super::ImportError;
use crate::store::Store;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvSeat {
    row: String,
    label: String,
    category: String,
    x: u16,
    y: u16,
}

/// Parses a seat-map CSV into seats with ids 0..n; every problem names its line.
pub fn parse(bytes: &[u8]) -> Result<Vec<Seat>, Invalid> {
    if bytes.len() as u64 > DOCUMENT_MAX_BYTES {
        return Err(Invalid(vec![format!(
            "the file is larger than {DOCUMENT_MAX_BYTES} bytes"
        )]));
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let mut p = Problems::default();
    let headers = match reader.headers() {
        Ok(headers) => {
            let mut names: Vec<&str> = headers.iter().collect();
            names.sort_unstable();
            if names != ["category", "label", "row", "x", "y"] {
                return Err(Invalid(vec![format!(
                    "line 1: the header must name the columns row,label,category,x,y (found {})",
                    headers.iter().collect::<Vec<_>>().join(",")
                )]));
            }
            headers.clone()
        }
        Err(e) => return Err(Invalid(vec![format!("line 1: {e}")])),
    };
    let mut seats = Vec::new();
    // The file line of each seat, for messages about the layout as a whole.
    let mut lines: Vec<u64> = Vec::new();
    for record in reader.records() {
        if seats.len() >= SCREEN_SEATS_MAX {
            p.add(format!("more than {SCREEN_SEATS_MAX} seats"));
            break;
        }
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                p.add(format!(
                    "line {}: {}",
                    line_text(e.position()),
                    csv_reason(&e)
                ));
                continue;
            }
        };
        let line = record.position().map_or(0, |pos| pos.line());
        match record.deserialize::<CsvSeat>(Some(&headers)) {
            Ok(row) => {
                let field = format!("line {line}: category");
                let Some(category) = p.category(&field, &row.category) else {
                    continue;
                };
                lines.push(line);
                seats.push(Seat {
                    id: u32::try_from(seats.len()).unwrap_or(u32::MAX),
                    row: row.row,
                    label: row.label,
                    category,
                    x: row.x,
                    y: row.y,
                });
            }
            Err(e) => p.add(format!("line {line}: {}", csv_reason(&e))),
        }
    }
    if p.0.is_empty() {
        let mut layout = Problems::default();
        check_layout(&mut layout, "seats", &seats);
        p.0.extend(
            layout
                .0
                .into_iter()
                .map(|problem| line_of(&problem, &lines)),
        );
    }
    p.finish(seats)
}

fn line_text(position: Option<&csv::Position>) -> String {
    position.map_or_else(|| "?".to_owned(), |pos| pos.line().to_string())
}

fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Deserialize { err, .. } => deserialize_reason(err),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} columns, expected {expected_len}"),
        _ => error.to_string(),
    }
}

fn deserialize_reason(err: &csv::DeserializeError) -> String {
    match err.field() {
        Some(field) => format!("column {}: {}", field + 1, err.kind()),
        None => err.kind().to_string(),
    }
}

/// `seats[12].label: …` as `line 14: label: …`, with the file line of seat 12.
fn line_of(problem: &str, lines: &[u64]) -> String {
    let Some(rest) = problem.strip_prefix("seats[") else {
        return problem.to_owned();
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return problem.to_owned();
    };
    match index.parse::<usize>().ok().and_then(|i| lines.get(i)) {
        Some(line) => format!(
            "line {line}: {}",
            tail.trim_start_matches('.').trim_start_matches(':').trim()
        ),
        None => problem.to_owned(),
    }
}

/// What a seat-map import did or would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatmapOutcome {
    /// The screen already has exactly this layout.
    Unchanged,
    /// The layout was (or, in a dry run, would be) replaced: seats before and after.
    Replaced {
        /// Seats before.
        before: usize,
        /// Seats after.
        after: usize,
        /// Whether it was written.
        applied: bool,
    },
}

/// Replaces the seats of screen `screen_id` with `seats` (one transaction), unless the layout is
/// already the same, or a show on the screen has sold seats (then `Err`, nothing written).
pub async fn import_seatmap(
    store: &dyn Store,
    screen_id: ScreenId,
    seats: Vec<Seat>,
    dry_run: bool,
) -> Result<SeatmapOutcome, ImportError> {
    let current = Current::load(store).await?;
    let Some(screen) = current.catalog.screens.iter().find(|s| s.id == screen_id) else {
        return Err(Invalid(vec![format!(
            "--screen {screen_id}: no such screen (list them with `cinebook shows`)"
        )])
        .into());
    };
    if screen.seats == seats {
        return Ok(SeatmapOutcome::Unchanged);
    }
    let sold: usize = current
        .catalog
        .shows
        .iter()
        .filter(|s| s.screen_id == screen_id)
        .map(|s| current.sales.get(&s.id).map_or(0, |x| x.sold_seats))
        .sum();
    if sold > 0 {
        return Err(Invalid(vec![format!(
            "FLAGGED: screen {screen_id} ({:?}) has shows with {sold} sold seats; its layout \
             cannot change under them (nothing was written)",
            screen.name
        )])
        .into());
    }
    let before = screen.seats.len();
    let after = seats.len();
    if !dry_run {
        store
            .upsert_screen(&Screen {
                id: screen.id,
                theater_id: screen.theater_id,
                name: screen.name.clone(),
                seats,
            })
            .await?;
    }
    Ok(SeatmapOutcome::Replaced {
        before,
        after,
        applied: !dry_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cinebook_protocol::types::Category;

    #[test]
    fn a_good_file_parses_in_order() {
        let csv = "row,label,category,x,y\nA,A1,wheelchair,0,0\nA,A2,companion,1,0\n# back row\nB,B1,recliner,0,2\n";
        let seats = parse(csv.as_bytes()).expect("valid");
        assert_eq!(seats.len(), 3);
        assert_eq!(seats[2].id, 2);
        assert_eq!(seats[2].category, Category::Recliner);
        assert_eq!(seats[1].label, "A2");
    }

    #[test]
    fn problems_name_their_line() {
        let csv = "row,label,category,x,y\n# front\nA,A1,standard,0,0\nA,A2,sofa,1,0\nA,A3,standard,minus,0\n";
        let error = parse(csv.as_bytes()).expect_err("invalid");
        let text = error.to_string();
        assert!(
            text.contains("line 4: category: unknown category \"sofa\""),
            "{text}"
        );
        assert!(text.contains("line 5: column 4"), "{text}");
    }

    #[test]
    fn duplicate_labels_name_the_line() {
        let csv = "label,row,category,x,y\nA1,A,standard,0,0\nA1,A,standard,1,0\n";
        let error = parse(csv.as_bytes()).expect_err("duplicate");
        assert!(error.to_string().contains("line 3: label"), "{error}");
    }

    #[test]
    fn a_wrong_header_is_refused() {
        let error = parse(b"row,seat,category,x,y\nA,A1,standard,0,0\n").expect_err("header");
        assert!(error.to_string().contains("line 1"), "{error}");
    }
}
