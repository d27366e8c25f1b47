//! `cinebook seats`: the seat map as text, coloured when printing to a terminal.

use cinebook_client::types::{Category, SeatMap, SeatState};
use ratatui::crossterm::style::{Color, Stylize};

use crate::{grid, ticket, when};

/// The terminal colour of a seat.
pub fn color(category: Category, state: SeatState) -> Color {
    match state {
        SeatState::Free => match category {
            Category::Standard => Color::Green,
            Category::Premium => Color::Cyan,
            Category::Recliner => Color::Magenta,
            Category::Wheelchair | Category::Companion => Color::Blue,
        },
        SeatState::Held => Color::Yellow,
        SeatState::Sold => Color::Red,
        SeatState::Blocked => Color::DarkGrey,
    }
}

/// The whole drawing: header, screen, rows (name on both sides), legend and prices.
pub fn seat_map(map: &SeatMap, colored: bool) -> String {
    let s = &map.summary;
    let rows = grid::rows(map);
    let width = rows.first().map_or(0, |r| r.cells.len());
    let name_width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(1);
    let mut out = vec![
        format!(
            "{} — {} / {} — {} — show {}",
            s.movie_title,
            s.theater_name,
            s.screen_name,
            when::show_time(s.show.starts_at_ms),
            s.show.id
        ),
        format!(
            "{} of {} seats free (seq {})",
            map.states
                .iter()
                .filter(|st| **st == SeatState::Free)
                .count(),
            map.seats.len(),
            map.seq
        ),
        String::new(),
    ];
    let screen_width = (width * 2).max(8);
    out.push(format!(
        "{:name_width$}  {:^screen_width$}",
        "",
        "SCREEN",
        name_width = name_width
    ));
    out.push(format!(
        "{:name_width$}  {}",
        "",
        "═".repeat(screen_width),
        name_width = name_width
    ));
    for row in &rows {
        let mut line = format!("{:>name_width$}  ", row.name, name_width = name_width);
        for cell in &row.cells {
            match cell {
                Some(index) => {
                    let seat = &map.seats[*index];
                    let state = grid::state(map, *index);
                    let letter = grid::symbol(seat.category, state);
                    if colored {
                        line.push_str(&letter.with(color(seat.category, state)).to_string());
                    } else {
                        line.push(letter);
                    }
                    line.push(' ');
                }
                None => line.push_str("  "),
            }
        }
        line.push(' ');
        line.push_str(&row.name);
        out.push(line.trim_end().to_string());
    }
    out.push(String::new());
    out.push(format!("{}  {}", grid::LEGEND, grid::LEGEND_STATES));
    let prices: Vec<String> = s
        .show
        .prices
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p.category.name(),
                ticket::money(p.amount_minor, &s.show.currency)
            )
        })
        .collect();
    if !prices.is_empty() {
        out.push(format!("prices: {}", prices.join(", ")));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_drawn_by_y_with_aisles_and_letters() {
        let text = seat_map(&crate::grid::tests::sample_map(), false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Metropolis — Odeon / Screen 1"));
        assert!(text.contains("4 of 6 seats free"));
        let a = lines.iter().find(|l| l.starts_with("A ")).expect("row A");
        // A1 free standard, A2 sold, aisle, A4 free.
        assert_eq!(*a, "A  S x   S  A");
        let b = lines.iter().find(|l| l.starts_with("B ")).expect("row B");
        assert_eq!(*b, "B  P P   +  B");
        let screen = lines
            .iter()
            .position(|l| l.contains("SCREEN"))
            .expect("screen");
        let row_a = lines
            .iter()
            .position(|l| l.starts_with("A "))
            .expect("row A");
        assert!(screen < row_a, "the screen is drawn above the first row");
        assert!(text.contains("premium 18.00 EUR"));
    }

    #[test]
    fn colour_adds_escape_codes_only_when_asked() {
        let map = crate::grid::tests::sample_map();
        assert!(!seat_map(&map, false).contains('\u{1b}'));
        assert!(seat_map(&map, true).contains('\u{1b}'));
    }
}
