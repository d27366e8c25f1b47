//! `--verify`: after a run, read every booking of the run's shows and check the promises.
//!
//! From the server (`ListBookings` and `GetSeatMap` per show):
//! - no seat belongs to two live (confirmed or admitted) bookings;
//! - every seat the seat map shows sold belongs to exactly one live booking, and every seat of a
//!   live booking is shown sold;
//! - every sale the tool saw acknowledged is a live booking with the same seats.
//!
//! Straight from MySQL (with a database URL), independently of the server:
//! - a live booking claims the seats it has in `booking_seats` *and* any it has in
//!   `booking_seats_history` (where only cancelled bookings' seats belong); no seat may be claimed
//!   by two live bookings. `booking_seats`' primary key already refuses two rows for one seat, so
//!   a double sale that reached the database shows up here: a live booking whose seats were moved
//!   out while another booking took them;
//! - the owner of each seat in `booking_seats` is the owner the server reports (two different
//!   owners are two customers holding tickets for one seat);
//! - every acknowledged sale is a live booking whose `booking_seats` rows are exactly its seats.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use anyhow::{Context, Result};
use cinebook_client::types::{BookingStatus, SeatId, SeatState, ShowId};
use cinebook_client::Client;
use futures::stream::{self, StreamExt, TryStreamExt};
use mysql_async::prelude::Queryable;
use mysql_async::{Opts, Row};
use serde::Serialize;

/// Shows read from the server at once.
pub const VERIFY_IN_FLIGHT: usize = 16;

/// A sale the tool saw acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AckedSale {
    /// The show.
    pub show_id: ShowId,
    /// The booking code in the acknowledgement.
    pub code: String,
    /// The seats the hold named.
    pub seats: Vec<SeatId>,
}

/// A seat claimed by more than one booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoubleSale {
    /// The show.
    pub show_id: ShowId,
    /// The seat.
    pub seat_id: SeatId,
    /// Every booking claiming it.
    pub owners: BTreeSet<String>,
    /// Where it was seen: `server`, `mysql`, `server vs mysql`.
    pub sources: BTreeSet<&'static str>,
}

/// An acknowledged sale that is not stored as acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostSale {
    /// The show.
    pub show_id: ShowId,
    /// Its code.
    pub code: String,
    /// The seats acknowledged.
    pub seats: Vec<SeatId>,
    /// What was found instead, per source (`None`: no live booking).
    pub found: BTreeMap<&'static str, Option<Vec<SeatId>>>,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Sales acknowledged to the tool.
    pub acked: usize,
    /// Live bookings stored for the shows (from MySQL when read, else from the server).
    pub stored: usize,
    /// Seats sold twice.
    pub doubles: Vec<DoubleSale>,
    /// Acknowledged sales not stored as acknowledged.
    pub lost: Vec<LostSale>,
    /// Other inconsistencies (a sold seat without a booking, a booked seat not shown sold, a
    /// seat kept by a cancelled booking, a stored sale the server does not know).
    pub other: Vec<String>,
    /// Seat labels for messages: (show, seat) → label.
    labels: HashMap<(ShowId, SeatId), String>,
}

impl VerifyReport {
    /// Whether every check passed.
    pub fn is_ok(&self) -> bool {
        self.doubles.is_empty() && self.lost.is_empty() && self.other.is_empty()
    }

    /// The one-line summary: `verify: ok acked=N stored=N double=0 lost=0`.
    pub fn summary(&self) -> String {
        if self.is_ok() {
            format!(
                "verify: ok acked={} stored={} double=0 lost=0",
                self.acked, self.stored
            )
        } else {
            format!(
                "verify: FAILED acked={} stored={} double={} lost={} other={}",
                self.acked,
                self.stored,
                self.doubles.len(),
                self.lost.len(),
                self.other.len()
            )
        }
    }

    fn seats_text(&self, show_id: ShowId, seats: &[SeatId]) -> String {
        let list: Vec<String> = seats
            .iter()
            .map(|s| match self.labels.get(&(show_id, *s)) {
                Some(label) => format!("{s} ({label})"),
                None => s.to_string(),
            })
            .collect();
        format!("[{}]", list.join(", "))
    }

    /// One line per violation, naming the offending seats.
    pub fn details(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in &self.doubles {
            let owners: Vec<&str> = d.owners.iter().map(String::as_str).collect();
            let sources: Vec<&str> = d.sources.iter().copied().collect();
            out.push(format!(
                "double sale: show {} seat {} claimed by {} [{}]",
                d.show_id,
                self.seats_text(d.show_id, &[d.seat_id]),
                owners.join(", "),
                sources.join("; ")
            ));
        }
        for l in &self.lost {
            let found: Vec<String> = l
                .found
                .iter()
                .map(|(source, seats)| match seats {
                    None => format!("{source}: no live booking"),
                    Some(seats) => {
                        format!("{source}: seats {}", self.seats_text(l.show_id, seats))
                    }
                })
                .collect();
            out.push(format!(
                "lost sale: show {} booking {} seats {} acknowledged; {}",
                l.show_id,
                l.code,
                self.seats_text(l.show_id, &l.seats),
                found.join("; ")
            ));
        }
        for o in &self.other {
            out.push(format!("inconsistent: {o}"));
        }
        out
    }

    fn add_double(
        &mut self,
        show_id: ShowId,
        seat_id: SeatId,
        owners: &[&str],
        source: &'static str,
    ) {
        if let Some(d) = self
            .doubles
            .iter_mut()
            .find(|d| d.show_id == show_id && d.seat_id == seat_id)
        {
            d.owners.extend(owners.iter().map(|o| o.to_string()));
            d.sources.insert(source);
            return;
        }
        self.doubles.push(DoubleSale {
            show_id,
            seat_id,
            owners: owners.iter().map(|o| o.to_string()).collect(),
            sources: [source].into_iter().collect(),
        });
    }

    fn add_lost(&mut self, sale: &AckedSale, source: &'static str, found: Option<Vec<SeatId>>) {
        if let Some(l) = self.lost.iter_mut().find(|l| l.code == sale.code) {
            l.found.insert(source, found);
            return;
        }
        self.lost.push(LostSale {
            show_id: sale.show_id,
            code: sale.code.clone(),
            seats: sale.seats.clone(),
            found: [(source, found)].into_iter().collect(),
        });
    }
}

fn is_live(status: BookingStatus) -> bool {
    matches!(status, BookingStatus::Confirmed | BookingStatus::Admitted)
}

fn sorted(seats: &[SeatId]) -> Vec<SeatId> {
    let mut s = seats.to_vec();
    s.sort_unstable();
    s
}

/// One show as the server reports it.
struct ServerShow {
    show_id: ShowId,
    /// seat → live bookings claiming it.
    owners: HashMap<SeatId, Vec<String>>,
    /// live booking code → its seats, sorted.
    live: HashMap<String, Vec<SeatId>>,
    states: Vec<SeatState>,
    labels: Vec<String>,
}

async fn read_server_show(client: &Client, show_id: ShowId) -> Result<ServerShow> {
    let bookings = client.list_bookings(show_id).await.with_context(|| {
        format!("listing the bookings of show {show_id} (verify needs a box-office or admin token)")
    })?;
    let map = client
        .seat_map(show_id)
        .await
        .with_context(|| format!("reading the seat map of show {show_id}"))?;
    let mut owners: HashMap<SeatId, Vec<String>> = HashMap::new();
    let mut live = HashMap::new();
    for b in bookings.into_iter().filter(|b| is_live(b.status)) {
        let seats: Vec<SeatId> = b.seats.iter().map(|s| s.seat_id).collect();
        for s in &seats {
            owners.entry(*s).or_default().push(b.code.clone());
        }
        live.insert(b.code, sorted(&seats));
    }
    Ok(ServerShow {
        show_id,
        owners,
        live,
        states: map.states,
        labels: map.seats.into_iter().map(|s| s.label).collect(),
    })
}

/// What MySQL holds for the shows.
#[derive(Debug, Default)]
struct Stored {
    /// code → (show, status name).
    bookings: HashMap<String, (ShowId, String)>,
    /// (show, seat) → code, from `booking_seats`.
    seat_owner: HashMap<(ShowId, SeatId), String>,
    /// code → seats in `booking_seats`.
    current: HashMap<String, Vec<SeatId>>,
    /// code → seats in `booking_seats_history`.
    history: HashMap<String, Vec<SeatId>>,
}

fn row3<T: mysql_async::prelude::FromRow>(row: Row, what: &str) -> Result<T> {
    mysql_async::from_row_opt::<T>(row)
        .map_err(|e| anyhow::anyhow!("unexpected {what} row from MySQL: {e}"))
}

async fn read_mysql(url: &str, shows: &HashSet<ShowId>) -> Result<Stored> {
    let (Some(min), Some(max)) = (shows.iter().min(), shows.iter().max()) else {
        return Ok(Stored::default());
    };
    let opts = Opts::from_url(url).with_context(|| format!("invalid database URL {url:?}"))?;
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .context("connecting to MySQL to verify")?;
    let mut stored = Stored::default();
    let rows: Vec<Row> = conn
        .exec(
            "SELECT code, show_id, status FROM bookings WHERE show_id BETWEEN ? AND ?",
            (*min, *max),
        )
        .await
        .context("reading bookings")?;
    for row in rows {
        let (code, show_id, status): (String, u64, String) = row3(row, "bookings")?;
        if shows.contains(&show_id) {
            stored.bookings.insert(code, (show_id, status));
        }
    }
    let rows: Vec<Row> = conn
        .exec(
            "SELECT show_id, seat_id, code FROM booking_seats WHERE show_id BETWEEN ? AND ?",
            (*min, *max),
        )
        .await
        .context("reading booking_seats")?;
    for row in rows {
        let (show_id, seat_id, code): (u64, u32, String) = row3(row, "booking_seats")?;
        if shows.contains(&show_id) {
            stored
                .current
                .entry(code.clone())
                .or_default()
                .push(seat_id);
            stored.seat_owner.insert((show_id, seat_id), code);
        }
    }
    let rows: Vec<Row> = conn
        .exec(
            "SELECT show_id, seat_id, code FROM booking_seats_history \
             WHERE show_id BETWEEN ? AND ?",
            (*min, *max),
        )
        .await
        .context("reading booking_seats_history")?;
    for row in rows {
        let (show_id, seat_id, code): (u64, u32, String) = row3(row, "booking_seats_history")?;
        if shows.contains(&show_id) {
            stored.history.entry(code).or_default().push(seat_id);
        }
    }
    let _ = conn.disconnect().await;
    for seats in stored.current.values_mut() {
        seats.sort_unstable();
    }
    Ok(stored)
}

/// Runs every check over `shows`. `database`: the node's MySQL URL, read directly.
pub async fn verify(
    client: &Client,
    shows: &[ShowId],
    acked: &[AckedSale],
    database: Option<&str>,
) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        acked: acked.len(),
        ..VerifyReport::default()
    };
    let server: Vec<ServerShow> = stream::iter(shows.iter().copied())
        .map(|show_id| read_server_show(client, show_id))
        .buffered(VERIFY_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut server_owner: HashMap<(ShowId, SeatId), String> = HashMap::new();
    let mut server_live: HashMap<String, (ShowId, Vec<SeatId>)> = HashMap::new();
    for show in &server {
        for (i, label) in show.labels.iter().enumerate() {
            report
                .labels
                .insert((show.show_id, i as SeatId), label.clone());
        }
        let mut seats: Vec<&SeatId> = show.owners.keys().collect();
        seats.sort_unstable();
        for seat in seats {
            let owners = &show.owners[seat];
            if owners.len() > 1 {
                let names: Vec<&str> = owners.iter().map(String::as_str).collect();
                report.add_double(show.show_id, *seat, &names, "server");
            } else if let Some(owner) = owners.first() {
                server_owner.insert((show.show_id, *seat), owner.clone());
            }
            let state = show.states.get(*seat as usize).copied();
            if state != Some(SeatState::Sold) {
                report.other.push(format!(
                    "show {} seat {seat} belongs to booking(s) {owners:?} but the seat map shows \
                     it {state:?}",
                    show.show_id
                ));
            }
        }
        for (seat, state) in show.states.iter().enumerate() {
            let seat = seat as SeatId;
            if *state == SeatState::Sold && !show.owners.contains_key(&seat) {
                report.other.push(format!(
                    "show {} seat {seat} is shown sold but no live booking has it",
                    show.show_id
                ));
            }
        }
        for (code, seats) in &show.live {
            server_live.insert(code.clone(), (show.show_id, seats.clone()));
        }
    }
    report.stored = server_live.len();
    for sale in acked {
        match server_live.get(&sale.code) {
            Some((show, seats)) if *show == sale.show_id && *seats == sorted(&sale.seats) => {}
            Some((_, seats)) => report.add_lost(sale, "server", Some(seats.clone())),
            None => report.add_lost(sale, "server", None),
        }
    }
    let Some(url) = database else {
        return Ok(report);
    };
    let show_set: HashSet<ShowId> = shows.iter().copied().collect();
    let stored = read_mysql(url, &show_set).await?;
    let live: HashMap<&String, ShowId> = stored
        .bookings
        .iter()
        .filter(|(_, (_, status))| status == "confirmed" || status == "admitted")
        .map(|(code, (show, _))| (code, *show))
        .collect();
    report.stored = live.len();
    // Claims of live bookings: their current seats and any seats moved to history.
    let mut claims: BTreeMap<(ShowId, SeatId), BTreeSet<&str>> = BTreeMap::new();
    for (code, show) in &live {
        for source in [&stored.current, &stored.history] {
            for seat in source.get(*code).into_iter().flatten() {
                claims
                    .entry((*show, *seat))
                    .or_default()
                    .insert(code.as_str());
            }
        }
    }
    for ((show, seat), owners) in &claims {
        if owners.len() > 1 {
            let names: Vec<&str> = owners.iter().copied().collect();
            report.add_double(*show, *seat, &names, "mysql");
        }
    }
    for ((show, seat), code) in &stored.seat_owner {
        if !live.contains_key(code) {
            report.other.push(format!(
                "show {show} seat {seat} is kept in booking_seats by booking {code}, which is \
                 not live"
            ));
        }
        match server_owner.get(&(*show, *seat)) {
            Some(server_code) if server_code != code => {
                report.add_double(*show, *seat, &[server_code, code], "server vs mysql");
            }
            Some(_) => {}
            None => report.other.push(format!(
                "show {show} seat {seat} is sold to {code} in MySQL but not on the server"
            )),
        }
    }
    let acked_codes: HashSet<&str> = acked.iter().map(|a| a.code.as_str()).collect();
    for ((show, seat), code) in &server_owner {
        if !stored.seat_owner.contains_key(&(*show, *seat)) && !acked_codes.contains(code.as_str())
        {
            report.other.push(format!(
                "show {show} seat {seat} is sold to {code} on the server but not in MySQL"
            ));
        }
    }
    for sale in acked {
        let found = stored.current.get(&sale.code);
        let is_live = live.get(&sale.code) == Some(&sale.show_id);
        match found {
            Some(seats) if is_live && *seats == sorted(&sale.seats) => {}
            Some(seats) if is_live => report.add_lost(sale, "mysql", Some(seats.clone())),
            _ => report.add_lost(sale, "mysql", None),
        }
    }
    report.doubles.sort_by_key(|d| (d.show_id, d.seat_id));
    Ok(report)
}
