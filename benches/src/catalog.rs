//! The load-test catalog: one city, theater, movie, one screen per seat count, and N shows.
//!
//! Every id lives in a reserved range starting at [`ID_BASE`] and the city is named
//! [`CITY_NAME`], so that `run` finds the catalog through `ListCities`/`ListShows` and a second
//! `prepare` only adds what is missing. Screens have rows of [`ROW_WIDTH`] standard seats (the
//! last row may be shorter) and no aisle, so any `seats_per_op` up to a row's width fits in a row.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use cinebook_client::types::{
    Category, City, Movie, Price, Screen, Seat, SeatId, Show, ShowFilter, ShowId, Theater,
};
use cinebook_client::Client;
use futures::stream::{self, StreamExt, TryStreamExt};

/// First id of the reserved range (below 2^53, so that JSON readers keep ids exact).
pub const ID_BASE: u64 = 4_000_000_000_000;
/// The city every load-test show is in.
pub const CITY_ID: u64 = ID_BASE;
/// Its name: how `run` recognises the catalog.
pub const CITY_NAME: &str = "cinebook-load";
/// The theater.
pub const THEATER_ID: u64 = ID_BASE;
/// The movie.
pub const MOVIE_ID: u64 = ID_BASE;
/// Seats per row.
pub const ROW_WIDTH: u32 = 20;
/// Price of every seat, minor units.
pub const PRICE_MINOR: i64 = 1_200;
/// Currency of every show.
pub const CURRENCY: &str = "EUR";
/// Start time of show 1 (ms since the epoch; 2033, well in the future); show i starts i
/// minutes later.
pub const FIRST_START_MS: u64 = 2_000_000_000_000;
/// Upserts in flight while preparing. The node applies catalog writes one at a time (each
/// installs just its item), and concurrent show upserts can deadlock in MySQL (retried by the
/// client), so a few at a time keep the node busy without more.
pub const PREPARE_IN_FLIGHT: usize = 4;
/// Most seats a load-test screen may have.
pub const SEATS_MAX: u32 = 10_000;

/// The screen id for a seat count.
pub fn screen_id(seats: u32) -> u64 {
    ID_BASE + u64::from(seats)
}

/// The id of the `index`-th show (from 0).
pub fn show_id(index: usize) -> ShowId {
    ID_BASE + 1 + index as u64
}

/// A screen of `seats` standard seats in rows of [`ROW_WIDTH`].
pub fn screen(seats: u32) -> Screen {
    let seats_list = (0..seats)
        .map(|id| {
            let (row, col) = (id / ROW_WIDTH, id % ROW_WIDTH);
            let row_name = row_name(row);
            Seat {
                id: id as SeatId,
                label: format!("{row_name}{}", col + 1),
                row: row_name,
                category: Category::Standard,
                x: col as u16,
                y: row as u16,
            }
        })
        .collect();
    Screen {
        id: screen_id(seats),
        theater_id: THEATER_ID,
        name: format!("{CITY_NAME} {seats} seats"),
        seats: seats_list,
    }
}

/// `A`..`Z`, then `AA`, `AB`, ...
fn row_name(mut row: u32) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (row % 26) as u8);
        if row < 26 {
            break;
        }
        row = row / 26 - 1;
    }
    name.reverse();
    String::from_utf8_lossy(&name).into_owned()
}

/// The `index`-th show on the screen of `seats` seats.
pub fn show(index: usize, seats: u32) -> Show {
    Show {
        id: show_id(index),
        movie_id: MOVIE_ID,
        screen_id: screen_id(seats),
        starts_at_ms: FIRST_START_MS + index as u64 * 60_000,
        currency: CURRENCY.into(),
        prices: vec![Price {
            category: Category::Standard,
            amount_minor: PRICE_MINOR,
        }],
    }
}

/// What `prepare` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prepared {
    /// Shows created or moved to the requested screen.
    pub shows_written: usize,
    /// Shows that were already there as asked.
    pub shows_reused: usize,
    /// Whether the city, theater, movie or screen had to be written.
    pub catalog_written: bool,
}

/// Creates (or completes) the catalog: `shows` shows of `seats` seats. Needs an admin token.
pub async fn prepare(client: &Client, shows: usize, seats: u32) -> Result<Prepared> {
    if shows == 0 {
        bail!("--shows must be at least 1");
    }
    if seats == 0 || seats > SEATS_MAX {
        bail!("--seats must be in 1..={SEATS_MAX}");
    }
    let mut catalog_written = false;
    let cities = client.list_cities().await.context("listing cities")?;
    if !cities
        .iter()
        .any(|c| c.id == CITY_ID && c.name == CITY_NAME)
    {
        client
            .upsert_city(City {
                id: CITY_ID,
                name: CITY_NAME.into(),
            })
            .await
            .context("creating the city (is the token an admin's?)")?;
        catalog_written = true;
    }
    let theaters = client.list_theaters(Some(CITY_ID)).await?;
    if !theaters.iter().any(|t| t.id == THEATER_ID) {
        client
            .upsert_theater(Theater {
                id: THEATER_ID,
                city_id: CITY_ID,
                name: format!("{CITY_NAME} theater"),
            })
            .await
            .context("creating the theater")?;
        catalog_written = true;
    }
    let movies = client.list_movies(None).await?;
    if !movies.iter().any(|m| m.id == MOVIE_ID) {
        client
            .upsert_movie(Movie {
                id: MOVIE_ID,
                title: format!("{CITY_NAME} feature"),
                runtime_min: 120,
                rating: "PG".into(),
            })
            .await
            .context("creating the movie")?;
        catalog_written = true;
    }
    let wanted_screen = screen(seats);
    let screen_ok = match client.screen(wanted_screen.id).await {
        Ok(existing) => existing.seats == wanted_screen.seats,
        Err(cinebook_client::Error::NotFound { .. }) => false,
        Err(e) => return Err(e).context("reading the screen"),
    };
    if !screen_ok {
        client
            .upsert_screen(wanted_screen)
            .await
            .context("creating the screen")?;
        catalog_written = true;
    }
    let existing: HashMap<ShowId, u64> = client
        .list_shows(ShowFilter {
            city_id: Some(CITY_ID),
            ..ShowFilter::default()
        })
        .await
        .context("listing shows")?
        .into_iter()
        .map(|s| (s.show.id, s.show.screen_id))
        .collect();
    let missing: Vec<usize> = (0..shows)
        .filter(|i| existing.get(&show_id(*i)) != Some(&screen_id(seats)))
        .collect();
    let shows_written = missing.len();
    stream::iter(missing)
        .map(|i| {
            let client = client.clone();
            async move {
                client
                    .upsert_show(show(i, seats))
                    .await
                    .with_context(|| format!("creating show {}", show_id(i)))
            }
        })
        .buffer_unordered(PREPARE_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(Prepared {
        shows_written,
        shows_reused: shows - shows_written,
        catalog_written,
    })
}

/// One show of the catalog as `run` uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShowInfo {
    /// Id.
    pub id: ShowId,
    /// Seats in its layout.
    pub seats: u32,
    /// Seats free when the run started.
    pub free: u32,
}

/// The first `shows` shows of the prepared catalog, in id order. Fails, saying to run
/// `prepare`, when there are fewer.
pub async fn find(client: &Client, shows: usize) -> Result<Vec<ShowInfo>> {
    let cities = client.list_cities().await.context("listing cities")?;
    if !cities.iter().any(|c| c.id == CITY_ID) {
        bail!(
            "no load-test catalog on this server (city {CITY_NAME:?} not found): run \
             `cinebook-load prepare` first"
        );
    }
    let mut found: Vec<ShowInfo> = client
        .list_shows(ShowFilter {
            city_id: Some(CITY_ID),
            ..ShowFilter::default()
        })
        .await
        .context("listing shows")?
        .into_iter()
        .filter(|s| s.show.id > ID_BASE)
        .map(|s| ShowInfo {
            id: s.show.id,
            seats: s.seats_total,
            free: s.seats_free,
        })
        .collect();
    found.sort_by_key(|s| s.id);
    if found.len() < shows {
        bail!(
            "the load-test catalog has {} shows, {shows} wanted: run `cinebook-load prepare \
             --shows {shows}`",
            found.len()
        );
    }
    found.truncate(shows);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_named_like_a_cinema() {
        assert_eq!(row_name(0), "A");
        assert_eq!(row_name(25), "Z");
        assert_eq!(row_name(26), "AA");
        assert_eq!(row_name(27), "AB");
    }

    #[test]
    fn screens_have_rows_of_twenty() {
        let s = screen(45);
        assert_eq!(s.seats.len(), 45);
        assert_eq!(s.seats[20].label, "B1");
        assert_eq!(s.seats[44].label, "C5");
        assert!(s
            .seats
            .iter()
            .enumerate()
            .all(|(i, seat)| seat.id as usize == i));
    }
}
