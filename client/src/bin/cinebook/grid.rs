//! A seat map laid out for drawing: rows by `y`, seats by `x`, gaps as aisles. Shared by `seats`
//! and the box office.

use std::collections::BTreeMap;

use cinebook_client::types::{Category, SeatMap, SeatState};

/// One row of the drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Row name, such as `A`.
    pub name: String,
    /// One cell per layout column from the leftmost seat of any row: the seat's index in the
    /// map, or `None` for an aisle or gap.
    pub cells: Vec<Option<usize>>,
}

/// Rows nearest the screen first.
pub fn rows(map: &SeatMap) -> Vec<Row> {
    let Some(min_x) = map.seats.iter().map(|s| s.x).min() else {
        return Vec::new();
    };
    let max_x = map.seats.iter().map(|s| s.x).max().unwrap_or(min_x);
    let width = usize::from(max_x - min_x) + 1;
    let mut by_y: BTreeMap<u16, Row> = BTreeMap::new();
    for (index, seat) in map.seats.iter().enumerate() {
        let row = by_y.entry(seat.y).or_insert_with(|| Row {
            name: seat.row.clone(),
            cells: vec![None; width],
        });
        row.cells[usize::from(seat.x - min_x)] = Some(index);
    }
    by_y.into_values().collect()
}

/// The letter drawn for a seat: free seats by category, others by state.
pub fn symbol(category: Category, state: SeatState) -> char {
    match state {
        SeatState::Free => match category {
            Category::Standard => 'S',
            Category::Premium => 'P',
            Category::Recliner => 'R',
            Category::Wheelchair => 'W',
            Category::Companion => 'C',
        },
        SeatState::Held => '+',
        SeatState::Sold => 'x',
        SeatState::Blocked => '#',
    }
}

/// The legend under a drawing: free seats by category, then the other states.
pub const LEGEND: &str = "S standard  P premium  R recliner  W wheelchair  C companion";
/// The second line of the legend.
pub const LEGEND_STATES: &str = "+ held  x sold  # blocked";

/// The state of seat `index`, `Blocked` if the map is inconsistent.
pub fn state(map: &SeatMap, index: usize) -> SeatState {
    map.states.get(index).copied().unwrap_or(SeatState::Blocked)
}

/// Free seats per category, in category order.
pub fn free_by_category(map: &SeatMap) -> Vec<(Category, usize)> {
    Category::ALL
        .into_iter()
        .map(|c| {
            let free = map
                .seats
                .iter()
                .enumerate()
                .filter(|(i, s)| s.category == c && state(map, *i) == SeatState::Free)
                .count();
            (c, free)
        })
        .filter(|(c, free)| *free > 0 || map.seats.iter().any(|s| s.category == *c))
        .collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use cinebook_client::types::{Price, Seat, Show, ShowSummary};

    /// Two rows: A has seats at x 0,1 then an aisle then 3; B (premium) at 0,1,3.
    pub fn sample_map() -> SeatMap {
        let mut seats = Vec::new();
        for (y, row, category) in [(0u16, "A", Category::Standard), (1, "B", Category::Premium)] {
            for x in [0u16, 1, 3] {
                seats.push(Seat {
                    id: seats.len() as u32,
                    row: row.into(),
                    label: format!("{row}{}", x + 1),
                    category,
                    x,
                    y,
                });
            }
        }
        let mut states = vec![SeatState::Free; seats.len()];
        states[1] = SeatState::Sold;
        states[5] = SeatState::Held;
        SeatMap {
            summary: ShowSummary {
                show: Show {
                    id: 7,
                    movie_id: 2,
                    screen_id: 3,
                    starts_at_ms: 1_700_000_000_000,
                    currency: "EUR".into(),
                    prices: vec![
                        Price {
                            category: Category::Standard,
                            amount_minor: 1_200,
                        },
                        Price {
                            category: Category::Premium,
                            amount_minor: 1_800,
                        },
                    ],
                },
                movie_title: "Metropolis".into(),
                theater_id: 1,
                theater_name: "Odeon".into(),
                city_id: 1,
                screen_name: "Screen 1".into(),
                seats_free: 4,
                seats_total: 6,
            },
            seats,
            states,
            seq: 9,
        }
    }

    #[test]
    fn rows_keep_aisles_as_gaps() {
        let rows = rows(&sample_map());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "A");
        assert_eq!(rows[0].cells, [Some(0), Some(1), None, Some(2)]);
        assert_eq!(rows[1].cells, [Some(3), Some(4), None, Some(5)]);
    }

    #[test]
    fn symbols_show_category_when_free_and_state_otherwise() {
        assert_eq!(symbol(Category::Premium, SeatState::Free), 'P');
        assert_eq!(symbol(Category::Premium, SeatState::Sold), 'x');
        let free = free_by_category(&sample_map());
        assert_eq!(free, [(Category::Standard, 2), (Category::Premium, 2)]);
    }
}
