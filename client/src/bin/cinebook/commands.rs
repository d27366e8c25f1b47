//! One function per command: call the server, print text or one JSON document.

use std::io::IsTerminal;

use anyhow::Context;
use cinebook_client::types::{
    City, Contact, Money, Movie, Payment, PaymentMethod, SeatSelection, ShowFilter, ShowSummary,
};
use cinebook_client::{new_idempotency_key, Client, Error, SeatUpdate};
use futures::StreamExt;
use serde::Serialize;

use crate::args::{Command, Pay, PrintArgs, Report};
use crate::exit::CliError;
use crate::names::{self, Match};
use crate::output::{self, *};
use crate::{draw, grid, ticket, when};

/// Where the output goes and in which form.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
    pub colored: bool,
}

impl Out {
    pub fn new(json: bool) -> Self {
        let colored = !json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Out { json, colored }
    }

    /// Prints `value` as JSON, or `text` for people.
    pub fn print<T: Serialize>(
        &self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        if self.json {
            emit(&serde_json::to_string_pretty(value)?)
        } else {
            emit(&text())
        }
    }

    /// One JSON document per line (for `watch`).
    fn line<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) -> anyhow::Result<()> {
        if self.json {
            emit(&serde_json::to_string(value)?)
        } else {
            emit(&text())
        }
    }
}

/// Writes one line to stdout. A reader that went away (`cinebook watch | head`) ends the program
/// quietly with success, as other command-line tools do.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(e.into()),
    }
}

pub async fn run(client: &Client, command: Command, out: Out) -> anyhow::Result<()> {
    match command {
        Command::Cities => cities(client, out).await,
        Command::Movies { city } => movies(client, city.as_deref(), out).await,
        Command::Shows {
            city,
            movie,
            date,
            all,
        } => {
            shows(
                client,
                city.as_deref(),
                movie.as_deref(),
                date.as_deref(),
                all,
                out,
            )
            .await
        }
        Command::Seats { show } => seats(client, show, out).await,
        Command::Hold {
            show,
            seats,
            best,
            category,
        } => {
            let selection = match best {
                Some(count) => SeatSelection::Best { count, category },
                None => SeatSelection::Labels(seats),
            };
            hold(client, show, selection, out).await
        }
        Command::Confirm {
            hold,
            pay,
            idempotency_key,
            reason,
            print,
            email,
            phone,
        } => {
            let sale = Sale {
                pay,
                key: idempotency_key,
                reason,
                contact: Contact { email, phone },
            };
            confirm(client, hold, sale, out, &print).await
        }
        Command::Renew { hold } => renew(client, hold, out).await,
        Command::Release { hold } => {
            client.release(hold).await?;
            out.print(
                &ReleasedOut {
                    hold_id: hold,
                    released: true,
                },
                || format!("released hold {hold}"),
            )
        }
        Command::Cancel { code, refund } => {
            let code = names::booking_code(&code);
            let reason = if refund {
                "refund at the box office"
            } else {
                "cancelled at the box office"
            };
            let booking = client.cancel(&code, refund, reason).await?;
            out.print(&BookingOut::from(&booking), || {
                format!(
                    "booking {} {}; seats {} freed",
                    booking.code,
                    ticket::status(booking.status),
                    labels(&booking)
                )
            })
        }
        Command::Booking { code, print } => {
            let booking = client.booking(&names::booking_code(&code)).await?;
            print_ticket(client, &booking, None, out, &print, true).await
        }
        Command::Scan {
            ticket,
            gate,
            show,
            screen,
            key,
            log,
            sync,
            ..
        } => {
            if sync {
                return crate::door::sync(client, &log, out).await;
            }
            let args = crate::door::ScanArgs {
                ticket,
                gate,
                place: cinebook_client::door::DoorPlace {
                    show_id: show,
                    screen_id: screen,
                },
                key,
                log,
            };
            crate::door::scan(client, &args, out).await
        }
        Command::TicketKey { save } => crate::door::ticket_key(client, save.as_deref(), out).await,
        Command::Block {
            show,
            seats,
            reason,
        } => block(client, show, &seats, &reason, true, out).await,
        Command::Unblock {
            show,
            seats,
            reason,
        } => block(client, show, &seats, &reason, false, out).await,
        Command::Watch { show } => watch(client, show, out).await,
        Command::Report {
            report: Report::Shift { from, to, all },
        } => shift(client, from, to, all, out).await,
        Command::Tui => crate::tui::run(client.clone()).await,
    }
}

fn labels(booking: &cinebook_client::types::Booking) -> String {
    booking
        .seats
        .iter()
        .map(|s| s.label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn cities(client: &Client, out: Out) -> anyhow::Result<()> {
    let cities = client.list_cities().await?;
    let json: Vec<CityOut> = cities.iter().map(CityOut::from).collect();
    out.print(&json, || {
        cities
            .iter()
            .map(|c| format!("{:>4}  {}", c.id, c.name))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// A city by id, by name (ignoring case and accents) or by a unique prefix of its name.
async fn resolve_city(client: &Client, text: &str) -> anyhow::Result<City> {
    let cities = client.list_cities().await?;
    match names::pick(cities, text, |c| c.id, |c| &c.name) {
        Match::One(city) => Ok(city),
        Match::None => Err(CliError::not_found(format!("no city `{text}`")).into()),
        Match::Several(names) => Err(ambiguous("city", text, &names)),
    }
}

/// A movie by id, by title (ignoring case and accents) or by a unique prefix, among those
/// playing in `city` if given. One that plays only elsewhere is said so.
async fn resolve_movie(client: &Client, text: &str, city: Option<&City>) -> anyhow::Result<Movie> {
    let movies = client.list_movies(city.map(|c| c.id)).await?;
    match names::pick(movies, text, |m| m.id, |m| &m.title) {
        Match::One(movie) => Ok(movie),
        Match::Several(titles) => Err(ambiguous("movie", text, &titles)),
        Match::None => {
            let Some(city) = city else {
                return Err(CliError::not_found(format!("no movie `{text}`")).into());
            };
            let everywhere = client.list_movies(None).await?;
            let message = match names::pick(everywhere, text, |m| m.id, |m| &m.title) {
                Match::One(movie) => format!(
                    "no movie `{text}` in {}: `{}` plays elsewhere (drop --city to see where)",
                    city.name, movie.title
                ),
                _ => format!("no movie `{text}` in {}", city.name),
            };
            Err(CliError::not_found(message).into())
        }
    }
}

fn ambiguous(what: &str, text: &str, names: &[String]) -> anyhow::Error {
    CliError::usage(format!(
        "`{text}` could be the {what} {}: type more of the name",
        names.join(", ")
    ))
    .into()
}

async fn movies(client: &Client, city: Option<&str>, out: Out) -> anyhow::Result<()> {
    let city_id = match city {
        Some(city) => Some(resolve_city(client, city).await?.id),
        None => None,
    };
    let movies = client.list_movies(city_id).await?;
    let json: Vec<MovieOut> = movies.iter().map(MovieOut::from).collect();
    out.print(&json, || {
        movies
            .iter()
            .map(|m| {
                format!(
                    "{:>4}  {} ({}, {} min)",
                    m.id, m.title, m.rating, m.runtime_min
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

async fn shows(
    client: &Client,
    city: Option<&str>,
    movie: Option<&str>,
    date: Option<&str>,
    all: bool,
    out: Out,
) -> anyhow::Result<()> {
    let mut filter = ShowFilter::default();
    if let Some(date) = date {
        let (from, to) = when::parse_day(date).map_err(CliError::usage)?;
        filter.from_ms = Some(from);
        filter.to_ms = Some(to);
    }
    if !all {
        filter.from_ms = Some(sales_open_from_ms(filter.from_ms, when::now_ms()));
    }
    let city = match city {
        Some(city) => Some(resolve_city(client, city).await?),
        None => None,
    };
    filter.city_id = city.as_ref().map(|c| c.id);
    if let Some(movie) = movie {
        filter.movie_id = Some(resolve_movie(client, movie, city.as_ref()).await?.id);
    }
    let mut shows = client.list_shows(filter).await?;
    shows.sort_by_key(|s| (s.show.starts_at_ms, s.show.id));
    let json: Vec<ShowOut> = shows.iter().map(ShowOut::from).collect();
    out.print(&json, || show_table(&shows))
}

/// How long after its start the server's box office still sells a show by default
/// (`cinebook-server --box-office-late-min`, 15): `cinebook shows` lists shows started at most
/// this long ago unless `--all` is given.
pub const BOX_OFFICE_LATE_MS: u64 = 15 * 60 * 1000;

/// The earliest start `cinebook shows` lists without `--all`: no show whose sales window has
/// closed at `now_ms`, and none before the `--date` day's start.
pub fn sales_open_from_ms(from_ms: Option<u64>, now_ms: u64) -> u64 {
    let open = now_ms.saturating_sub(BOX_OFFICE_LATE_MS);
    from_ms.map_or(open, |from| from.max(open))
}

pub fn show_table(shows: &[ShowSummary]) -> String {
    if shows.is_empty() {
        return "no shows".into();
    }
    let mut lines = vec![format!(
        "{:>5}  {:<16}  {:<28}  {:<24}  {:>6}  {:>9}",
        "SHOW", "STARTS", "MOVIE", "THEATER / SCREEN", "SCREEN", "FREE"
    )];
    for s in shows {
        lines.push(format!(
            "{:>5}  {:<16}  {:<28}  {:<24}  {:>6}  {:>9}",
            s.show.id,
            when::show_time(s.show.starts_at_ms),
            truncate(&s.movie_title, 28),
            truncate(&format!("{} / {}", s.theater_name, s.screen_name), 24),
            s.show.screen_id,
            format!("{}/{}", s.seats_free, s.seats_total)
        ));
    }
    lines.join("\n")
}

pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

async fn seats(client: &Client, show: u64, out: Out) -> anyhow::Result<()> {
    let map = client.seat_map(show).await?;
    out.print(&SeatMapOut::from(&map), || {
        draw::seat_map(&map, out.colored)
    })
}

async fn hold(
    client: &Client,
    show: u64,
    selection: SeatSelection,
    out: Out,
) -> anyhow::Result<()> {
    // Labels as typed (`a5`) are matched against the screen's; refusals name seats by label.
    let map = client.seat_map(show).await?;
    let selection = match selection {
        SeatSelection::Labels(typed) => {
            let labels: Vec<&str> = map.seats.iter().map(|s| s.label.as_str()).collect();
            let found = names::seat_labels(&typed, &labels).map_err(|unknown| {
                CliError::usage(format!("show {show} has no seat {}", unknown.join(", ")))
            })?;
            SeatSelection::Labels(found)
        }
        other => other,
    };
    let hold = match client.hold(show, selection).await {
        Ok(hold) => hold,
        Err(Error::SeatUnavailable { seats, .. }) => {
            let taken: Vec<&str> = seats
                .iter()
                .map(|id| {
                    map.seats
                        .get(*id as usize)
                        .map_or("?", |s| s.label.as_str())
                })
                .collect();
            return Err(CliError {
                code: crate::exit::UNAVAILABLE_SEATS,
                kind: "SeatUnavailable",
                message: format!(
                    "not free (held, sold or blocked): {}; nothing was held",
                    taken.join(", ")
                ),
            }
            .into());
        }
        Err(Error::NoAdjacentSeats {
            largest_block,
            free,
            ..
        }) => {
            return Err(CliError {
                code: crate::exit::UNAVAILABLE_SEATS,
                kind: "NoAdjacentSeats",
                message: format!(
                    "{free} seats are free but at most {largest_block} together in a row: \
                     hold fewer, or pick seats with --seats"
                ),
            }
            .into());
        }
        Err(error) => return Err(error.into()),
    };
    out.print(&HoldOut::from(&hold), || {
        format!(
            "hold {}: {} — {} — expires {} (confirm with `cinebook confirm {} --pay cash|card|comp`)",
            hold.hold_id,
            hold.labels.join(", "),
            ticket::total(&hold.total),
            when::clock(hold.expires_at_ms),
            hold.hold_id
        )
    })
}

/// How far the client's clock may be from the server's for `renew`'s ceiling check.
const CLOCK_SLACK_MS: u64 = 1_000;

/// `cinebook renew`: the hold's new expiry; when the server could not give a whole
/// `hold_ttl_ms` more, the hold is at its ceiling and says so.
async fn renew(client: &Client, hold_id: u64, out: Out) -> anyhow::Result<()> {
    let asked_at_ms = when::now_ms();
    let hold = match client.renew(hold_id).await {
        Ok(hold) => hold,
        Err(Error::Conflict { message }) if message.contains("maximum lifetime") => {
            return Err(CliError {
                code: crate::exit::UNAVAILABLE_SEATS,
                kind: "Conflict",
                message: format!(
                    "hold {hold_id} is at its ceiling and cannot be renewed again ({message}); \
                     confirm it before it expires"
                ),
            }
            .into());
        }
        Err(error) => return Err(error.into()),
    };
    let ttl_ms = client.welcome().map_or(0, |w| w.hold_ttl_ms);
    // A second of slack for the clocks of client and server.
    let at_ceiling = ttl_ms > 0
        && hold.expires_at_ms.saturating_add(CLOCK_SLACK_MS) < asked_at_ms.saturating_add(ttl_ms);
    out.print(&RenewOut::new(&hold, at_ceiling), || {
        let ceiling = if at_ceiling {
            " (its ceiling: it cannot be renewed past this)"
        } else {
            ""
        };
        format!(
            "hold {}: {} — expires {}{ceiling}",
            hold.hold_id,
            hold.labels.join(", "),
            when::clock(hold.expires_at_ms)
        )
    })
}

/// The payment for a hold: the hold's total, or zero for a comp.
pub fn payment_for(method: PaymentMethod, total: &Money) -> Payment {
    let amount_minor = if method == PaymentMethod::Comp {
        0
    } else {
        total.amount_minor
    };
    Payment {
        method,
        amount: Money {
            amount_minor,
            currency: total.currency.clone(),
        },
        reference: None,
    }
}

/// How a hold is paid for.
struct Sale {
    pay: Pay,
    /// The idempotency key of an earlier attempt, if any.
    key: Option<String>,
    /// Why a comp is given (the payment's reference).
    reason: Option<String>,
    /// The customer's e-mail and phone, for the ticket's notification.
    contact: Contact,
}

async fn confirm(
    client: &Client,
    hold_id: u64,
    sale: Sale,
    out: Out,
    print: &PrintArgs,
) -> anyhow::Result<()> {
    let Sale {
        pay,
        key,
        reason,
        contact,
    } = sale;
    // The hold's total comes with a renew (which also keeps it alive while we pay).
    let (mut payment, hold_gone) = match client.renew(hold_id).await {
        Ok(hold) => (payment_for(pay.method(), &hold.total), None),
        // A rerun with the key of an attempt whose outcome was unknown: if that attempt sold,
        // the hold is gone, and the server answers a confirm with a known key with its booking
        // before it looks for the hold (the amount is not needed for that). So ask.
        Err(error @ (Error::NotFound { .. } | Error::HoldExpired { .. })) if key.is_some() => {
            let payment = Payment {
                method: pay.method(),
                amount: Money {
                    amount_minor: 0,
                    currency: String::new(),
                },
                reference: None,
            };
            (payment, Some(error))
        }
        Err(error) => return Err(error.into()),
    };
    // The comp's reason travels as the payment's reference and is stored with the booking.
    payment.reference = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if pay == Pay::Comp && payment.reference.is_none() {
        return Err(CliError::usage("a comp needs a reason: --reason TEXT").into());
    }
    let key = key.unwrap_or_else(new_idempotency_key);
    let sold = client
        .confirm_with_contact(hold_id, payment, &key, contact)
        .await;
    let booking = match (sold, hold_gone) {
        (Ok(booking), _) => booking,
        (
            Err(
                error @ (Error::Timeout { .. }
                | Error::ConnectionLost { .. }
                | Error::Indeterminate { .. }),
            ),
            _,
        ) => {
            return Err(anyhow::Error::new(error).context(format!(
                "the sale's outcome is unknown; run again with --idempotency-key {key} (it can never sell twice)"
            )));
        }
        // The hold is gone and this key sold nothing: report why the hold is gone.
        (Err(Error::HoldExpired { .. } | Error::NotFound { .. }), Some(gone)) => {
            return Err(
                anyhow::Error::new(gone).context(format!("idempotency key {key} made no sale"))
            );
        }
        (Err(error), _) => return Err(error.into()),
    };
    print_ticket(client, &booking, Some(key), out, print, false).await
}

async fn print_ticket(
    client: &Client,
    booking: &cinebook_client::types::Booking,
    key: Option<String>,
    out: Out,
    print: &PrintArgs,
    reprint: bool,
) -> anyhow::Result<()> {
    // The film and time make the ticket; without them it still has the code and seats.
    let summary = client
        .seat_map(booking.show_id)
        .await
        .ok()
        .map(|m| m.summary);
    let text = ticket::render(booking, summary.as_ref());
    let json = TicketOut {
        booking: BookingOut::from(booking),
        ticket: text.clone(),
        idempotency_key: key,
    };
    out.print(&json, || {
        format!(
            "booking {} ({})\n{text}",
            booking.code,
            ticket::status(booking.status)
        )
    })?;
    if print.any() {
        for line in crate::print::deliver(client, booking, summary, reprint, print).await? {
            if out.json {
                eprintln!("{line}");
            } else {
                emit(&line)?;
            }
        }
    }
    Ok(())
}

/// `cinebook block` / `unblock`: house seats by label, with a reason.
async fn block(
    client: &Client,
    show: u64,
    typed: &[String],
    reason: &str,
    blocked: bool,
    out: Out,
) -> anyhow::Result<()> {
    let map = client.seat_map(show).await?;
    let labels: Vec<&str> = map.seats.iter().map(|s| s.label.as_str()).collect();
    let found = names::seat_labels(typed, &labels).map_err(|unknown| {
        CliError::usage(format!("show {show} has no seat {}", unknown.join(", ")))
    })?;
    let ids: Vec<u32> = found
        .iter()
        .filter_map(|l| map.seats.iter().find(|s| &s.label == l).map(|s| s.id))
        .collect();
    client
        .block_seats_with_reason(show, ids, blocked, reason)
        .await?;
    let verb = if blocked { "blocked" } else { "unblocked" };
    #[derive(Serialize)]
    struct BlockOut<'a> {
        show_id: u64,
        seats: &'a [String],
        blocked: bool,
        reason: &'a str,
    }
    out.print(
        &BlockOut {
            show_id: show,
            seats: &found,
            blocked,
            reason,
        },
        || format!("show {show}: {verb} {} ({reason})", found.join(", ")),
    )
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WatchOut {
    Snapshot(SeatMapOut),
    Changes(ChangeOut),
}

async fn watch(client: &Client, show: u64, out: Out) -> anyhow::Result<()> {
    let mut updates = client.subscribe(show);
    let mut map = None;
    loop {
        let update = tokio::select! {
            update = updates.next() => update,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let update = match update {
            None => return Ok(()),
            Some(Ok(update)) => update,
            Some(Err(error)) if error.is_permanent() || matches!(error, Error::NotFound { .. }) => {
                return Err(error.into())
            }
            Some(Err(error)) => {
                eprintln!("{}: {error} (reconnecting)", when::clock(when::now_ms()));
                continue;
            }
        };
        let now = when::clock(when::now_ms());
        match &update {
            SeatUpdate::Snapshot(snapshot) => {
                let free = snapshot
                    .states
                    .iter()
                    .filter(|s| **s == cinebook_client::types::SeatState::Free)
                    .count();
                out.line(&WatchOut::Snapshot(SeatMapOut::from(snapshot)), || {
                    format!(
                        "{now} seq {} seat map: {free} of {} free",
                        snapshot.seq,
                        snapshot.seats.len()
                    )
                })?;
            }
            SeatUpdate::Changes {
                show_id,
                seq,
                cause,
                changes,
            } => {
                let seats: Vec<ChangedSeatOut> = changes
                    .iter()
                    .map(|c| ChangedSeatOut::new(c, map.as_ref()))
                    .collect();
                let text = seats
                    .iter()
                    .map(|s| s.label.clone().unwrap_or_else(|| format!("#{}", s.seat_id)))
                    .collect::<Vec<_>>()
                    .join(" ");
                let change = ChangeOut {
                    show_id: *show_id,
                    seq: *seq,
                    cause: output::cause_name(*cause),
                    seats,
                };
                out.line(&WatchOut::Changes(change), || {
                    let text = if text.is_empty() {
                        "(no seat changed)".into()
                    } else {
                        text
                    };
                    format!("{now} seq {seq} {}: {text}", output::cause_name(*cause))
                })?;
            }
        }
        update.apply(&mut map);
    }
}

async fn shift(
    client: &Client,
    from: Option<u64>,
    to: Option<u64>,
    all: bool,
    out: Out,
) -> anyhow::Result<()> {
    let (today_from, today_to) = when::day_of(when::now_ms()).map_err(CliError::usage)?;
    let from = from.unwrap_or(today_from);
    let to = to.unwrap_or(today_to);
    if from >= to {
        return Err(CliError::usage("--from must be before --to").into());
    }
    let report = if all {
        crate::report_all::shift_all(client, from, to)
            .await
            .context("shift report of all terminals")?
    } else {
        client
            .shift_report(None, from, to)
            .await
            .context("shift report")?
    };
    out.print(&ReportOut::from(&report), || report_text(&report))
}

pub fn report_text(report: &cinebook_client::types::ShiftReport) -> String {
    let money = |minor: i64| ticket::money(minor, &report.currency);
    let mut lines = vec![
        format!(
            "shift report, {}: {} to {}",
            if report.terminal_id == 0 {
                "all terminals".to_owned()
            } else {
                format!("terminal {}", report.terminal_id)
            },
            when::show_time(report.from_ms),
            when::show_time(report.to_ms)
        ),
        format!(
            "{:<6} {:>6} {:>6} {:>14} {:>8} {:>14}",
            "METHOD", "SALES", "SEATS", "TAKEN", "REFUNDS", "REFUNDED"
        ),
    ];
    for l in &report.lines {
        lines.push(format!(
            "{:<6} {:>6} {:>6} {:>14} {:>8} {:>14}",
            l.method.name(),
            l.sales,
            l.seats,
            money(l.sales_minor),
            l.refunds,
            money(l.refunds_minor)
        ));
    }
    if report.lines.is_empty() {
        lines.push("no sales".into());
    }
    lines.push(format!("net {}", money(output::net_minor(report))));
    lines.join("\n")
}

/// Counts for the `seats` header, exposed for the box office.
pub fn free_summary(map: &cinebook_client::types::SeatMap) -> String {
    grid::free_by_category(map)
        .into_iter()
        .map(|(c, n)| format!("{} {n}", c.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_lists_only_open_sales_windows_unless_all() {
        let now = 10 * 3_600_000;
        // Started 20 minutes ago: closed even for the box office; 10 minutes ago: still open.
        let from = sales_open_from_ms(None, now);
        assert!(now - 20 * 60_000 < from && from <= now - 10 * 60_000);
        // A --date day that is over lists nothing; a later day keeps its own start.
        assert_eq!(sales_open_from_ms(Some(0), now), from);
        assert_eq!(sales_open_from_ms(Some(now + 1), now), now + 1);
        let all =
            <crate::args::Cli as clap::Parser>::try_parse_from(["cinebook", "shows", "--all"])
                .expect("--all");
        assert!(matches!(all.command, Command::Shows { all: true, .. }));
    }

    #[test]
    fn comps_are_free_and_others_pay_the_total() {
        let total = Money {
            amount_minor: 2_400,
            currency: "EUR".into(),
        };
        assert_eq!(
            payment_for(PaymentMethod::Comp, &total).amount.amount_minor,
            0
        );
        let card = payment_for(PaymentMethod::Card, &total);
        assert_eq!(card.amount, total);
        assert_eq!(card.method, PaymentMethod::Card);
    }

    #[test]
    fn the_show_table_lists_free_seats() {
        let map = crate::grid::tests::sample_map();
        let table = show_table(std::slice::from_ref(&map.summary));
        assert!(table.contains("Metropolis"));
        assert!(table.contains("4/6"));
        assert!(table.lines().next().is_some_and(|h| h.contains("SCREEN")));
        let screen_id = format!(" {} ", map.summary.show.screen_id);
        assert!(
            table.lines().nth(1).is_some_and(|l| l.contains(&screen_id)),
            "{table}"
        );
        assert_eq!(show_table(&[]), "no shows");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
