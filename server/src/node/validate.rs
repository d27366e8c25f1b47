//! Widths of every string a request carries, checked before anything is queued or written.
//!
//! A value longer than its column makes MySQL (strict mode) refuse the statement; in a sale
//! batch that rolls the whole batch back and forces up to `writer_batch_max` sales to be
//! re-committed one by one. So every width is checked here, at the edge, against the store's
//! own column widths ([`widths`], in characters, as MySQL counts them), and a request that does
//! not fit is answered `InvalidArgument` naming the field and its limit.

use cinebook_protocol::types::{Payment, Screen, SeatSelection, Show};
use cinebook_protocol::{ErrorBody, ErrorCode, Request};

use crate::store::mysql::widths;

/// Checks the width of every string in `request`.
pub fn request(request: &Request) -> Result<(), ErrorBody> {
    match request {
        Request::Hold {
            selection,
            idempotency_key,
            ..
        } => {
            if let Some(key) = idempotency_key {
                fits("idempotency_key", key, widths::IDEMPOTENCY_KEY)?;
            }
            if let SeatSelection::Labels(labels) = selection {
                for label in labels {
                    fits("selection label", label, widths::LABEL)?;
                }
            }
            Ok(())
        }
        Request::Confirm {
            payment,
            idempotency_key,
            ..
        } => {
            fits("idempotency_key", idempotency_key, widths::IDEMPOTENCY_KEY)?;
            self::payment(payment)
        }
        Request::ConfirmWithContact {
            payment,
            idempotency_key,
            contact,
            ..
        } => {
            fits("idempotency_key", idempotency_key, widths::IDEMPOTENCY_KEY)?;
            self::payment(payment)?;
            crate::notify::contact::check(contact)
        }
        Request::CreatePaymentOrderWithContact {
            idempotency_key,
            contact,
            ..
        } => {
            fits("idempotency_key", idempotency_key, widths::IDEMPOTENCY_KEY)?;
            crate::notify::contact::check(contact)
        }
        Request::CancelShow { reason, .. } => fits("reason", reason, widths::REASON),
        Request::Cancel { code, reason, .. } => {
            fits("code", code, widths::BOOKING_CODE)?;
            fits("reason", reason, widths::REASON)
        }
        Request::RefundSeats { code, reason, .. } => {
            fits("code", code, widths::BOOKING_CODE)?;
            fits("reason", reason, widths::REASON)
        }
        Request::GetBooking { code } => fits("code", code, widths::BOOKING_CODE),
        Request::ListPage(page) => page_cursor(page.after.as_deref()),
        Request::UpsertCity(city) => fits("city.name", &city.name, widths::NAME),
        Request::UpsertTheater(theater) => fits("theater.name", &theater.name, widths::NAME),
        Request::UpsertMovie(movie) => {
            fits("movie.title", &movie.title, widths::TITLE)?;
            fits("movie.rating", &movie.rating, widths::RATING)
        }
        Request::UpsertScreen(screen) => self::screen(screen),
        Request::UpsertShow(show) => self::show(show),
        Request::AddTerminal { name, .. } => fits("terminal name", name, widths::NAME),
        _ => Ok(()),
    }
}

fn payment(payment: &Payment) -> Result<(), ErrorBody> {
    fits(
        "payment.amount.currency",
        &payment.amount.currency,
        widths::CURRENCY,
    )?;
    match &payment.reference {
        Some(reference) => fits("payment.reference", reference, widths::PAYMENT_REFERENCE),
        None => Ok(()),
    }
}

fn screen(screen: &Screen) -> Result<(), ErrorBody> {
    fits("screen.name", &screen.name, widths::NAME)?;
    for seat in &screen.seats {
        fits("seat.row", &seat.row, widths::ROW)?;
        fits("seat.label", &seat.label, widths::LABEL)?;
    }
    Ok(())
}

fn show(show: &Show) -> Result<(), ErrorBody> {
    fits("show.currency", &show.currency, widths::CURRENCY)
}

/// `value` has at most `max_chars` characters, or an `InvalidArgument` naming `field`.
fn fits(field: &str, value: &str, max_chars: usize) -> Result<(), ErrorBody> {
    // Counting characters is O(len); the frame limit bounds len.
    let chars = value.chars().count();
    if chars <= max_chars {
        return Ok(());
    }
    Err(ErrorBody::new(
        ErrorCode::InvalidArgument,
        format!("{field} has {chars} characters; at most {max_chars} are allowed"),
    ))
}

/// A page's cursor is at most `PAGE_CURSOR_MAX_BYTES` (what a node makes; longer is not one).
fn page_cursor(after: Option<&str>) -> Result<(), ErrorBody> {
    use cinebook_protocol::page::PAGE_CURSOR_MAX_BYTES;
    match after {
        Some(cursor) if cursor.len() > PAGE_CURSOR_MAX_BYTES => Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!(
                "after: a cursor has at most page_cursor_max_bytes = {PAGE_CURSOR_MAX_BYTES} bytes"
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use cinebook_protocol::types::{Category, City, Money, Movie, PaymentMethod, Seat, Theater};

    use super::*;

    fn long(width: usize) -> String {
        "é".repeat(width + 1)
    }

    fn payment(reference: Option<String>, currency: &str) -> Payment {
        Payment {
            method: PaymentMethod::Card,
            amount: Money {
                amount_minor: 100,
                currency: currency.into(),
            },
            reference,
        }
    }

    fn seat(row: &str, label: &str) -> Seat {
        Seat {
            id: 0,
            row: row.into(),
            label: label.into(),
            category: Category::Standard,
            x: 0,
            y: 0,
        }
    }

    fn screen(name: &str, seat: Seat) -> Request {
        Request::UpsertScreen(Screen {
            id: 1,
            theater_id: 1,
            name: name.into(),
            seats: vec![seat],
        })
    }

    fn movie(title: &str, rating: &str) -> Request {
        Request::UpsertMovie(Movie {
            id: 1,
            title: title.into(),
            runtime_min: 90,
            rating: rating.into(),
        })
    }

    fn hold(key: Option<String>, label: &str) -> Request {
        Request::Hold {
            show_id: 1,
            selection: SeatSelection::Labels(vec![label.into()]),
            idempotency_key: key,
        }
    }

    fn confirm(payment: Payment, key: &str) -> Request {
        Request::Confirm {
            hold_id: 1,
            payment,
            idempotency_key: key.into(),
        }
    }

    fn cancel(code: &str, reason: &str) -> Request {
        Request::Cancel {
            code: code.into(),
            refund: false,
            reason: reason.into(),
        }
    }

    #[test]
    fn every_width_is_checked_and_named() {
        let refused = [
            (
                confirm(payment(Some(long(widths::PAYMENT_REFERENCE)), "EUR"), "k"),
                "payment.reference",
            ),
            (
                confirm(payment(None, "EURO"), "k"),
                "payment.amount.currency",
            ),
            (
                confirm(payment(None, "EUR"), &long(widths::IDEMPOTENCY_KEY)),
                "idempotency_key",
            ),
            (cancel("C", &long(widths::REASON)), "reason"),
            (cancel(&long(widths::BOOKING_CODE), ""), "code"),
            (
                hold(Some(long(widths::IDEMPOTENCY_KEY)), "A1"),
                "idempotency_key",
            ),
            (hold(None, &long(widths::LABEL)), "selection label"),
            (
                Request::UpsertCity(City {
                    id: 1,
                    name: long(widths::NAME),
                }),
                "city.name",
            ),
            (
                Request::UpsertTheater(Theater {
                    id: 1,
                    city_id: 1,
                    name: long(widths::NAME),
                }),
                "theater.name",
            ),
            (movie(&long(widths::TITLE), "12"), "movie.title"),
            (movie("T", &long(widths::RATING)), "movie.rating"),
            (screen(&long(widths::NAME), seat("A", "A1")), "screen.name"),
            (screen("S", seat(&long(widths::ROW), "A1")), "seat.row"),
            (screen("S", seat("A", &long(widths::LABEL))), "seat.label"),
            (
                Request::AddTerminal {
                    name: long(widths::NAME),
                    role: cinebook_protocol::types::Role::Kiosk,
                },
                "terminal name",
            ),
        ];
        for (request, field) in refused {
            let error = super::request(&request).expect_err(field);
            assert_eq!(error.code, ErrorCode::InvalidArgument);
            assert!(
                error.message.starts_with(field),
                "{field}: {}",
                error.message
            );
        }
    }

    #[test]
    fn values_at_the_width_pass_counted_in_characters() {
        let at = |w: usize| "é".repeat(w);
        let fine = [
            confirm(
                payment(Some(at(widths::PAYMENT_REFERENCE)), "EUR"),
                &at(widths::IDEMPOTENCY_KEY),
            ),
            cancel(&at(widths::BOOKING_CODE), &at(widths::REASON)),
            hold(Some(at(widths::IDEMPOTENCY_KEY)), &at(widths::LABEL)),
            movie(&at(widths::TITLE), &at(widths::RATING)),
            screen(
                &at(widths::NAME),
                seat(&at(widths::ROW), &at(widths::LABEL)),
            ),
        ];
        for request in fine {
            assert_eq!(super::request(&request), Ok(()), "{request:?}");
        }
    }
}
