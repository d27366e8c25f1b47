//! Money, and the printable ticket.

use cinebook_client::types::{Booking, BookingStatus, Money, ShowSummary};

use crate::when;

/// `12.50 EUR` (two minor digits, as every currency CineBook sells in has).
pub fn money(amount_minor: i64, currency: &str) -> String {
    Money {
        amount_minor,
        currency: currency.to_owned(),
    }
    .to_string()
}

/// [`money`] of a [`Money`].
pub fn total(value: &Money) -> String {
    money(value.amount_minor, &value.currency)
}

pub fn status(status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::Confirmed => "confirmed",
        BookingStatus::Cancelled => "cancelled",
        BookingStatus::Refunded => "refunded",
        BookingStatus::Admitted => "admitted",
    }
}

/// A ticket for a receipt printer, 32 columns wide; `show` adds the film, place and time.
pub fn render(booking: &Booking, show: Option<&ShowSummary>) -> String {
    let rule = "-".repeat(32);
    let mut lines = vec![
        rule.clone(),
        format!("CINEBOOK  {}", booking.code),
        rule.clone(),
    ];
    match show {
        Some(show) => {
            lines.push(show.movie_title.clone());
            lines.push(format!("{} / {}", show.theater_name, show.screen_name));
            lines.push(when::show_time(show.show.starts_at_ms));
        }
        None => lines.push(format!("show {}", booking.show_id)),
    }
    lines.push(String::new());
    for seat in &booking.seats {
        lines.push(format!(
            "{:<6}{:<10}{:>16}",
            seat.label,
            seat.category.name(),
            money(seat.price_minor, &booking.total.currency)
        ));
    }
    lines.push(format!("{:<19}{:>13}", "total", total(&booking.total)));
    lines.push(format!(
        "paid {} {}",
        booking.payment.method.name(),
        total(&booking.payment.amount)
    ));
    lines.push(format!(
        "{} {}",
        status(booking.status),
        when::show_time(booking.sold_at_ms)
    ));
    lines.push(rule);
    lines.join("\n")
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use cinebook_client::types::{BookedSeat, Category, Payment, PaymentMethod};

    pub fn sample_booking() -> Booking {
        Booking {
            code: "K7QX-3MPA".into(),
            show_id: 7,
            seats: vec![
                BookedSeat {
                    seat_id: 0,
                    label: "A1".into(),
                    category: Category::Standard,
                    price_minor: 1_200,
                },
                BookedSeat {
                    seat_id: 2,
                    label: "A4".into(),
                    category: Category::Standard,
                    price_minor: 1_200,
                },
            ],
            total: Money {
                amount_minor: 2_400,
                currency: "EUR".into(),
            },
            payment: Payment {
                method: PaymentMethod::Cash,
                amount: Money {
                    amount_minor: 2_400,
                    currency: "EUR".into(),
                },
                reference: None,
            },
            status: BookingStatus::Confirmed,
            terminal_id: 3,
            sold_at_ms: 1_700_000_000_000,
            lamport: 5,
            node_id: 1,
        }
    }

    #[test]
    fn money_has_two_minor_digits() {
        assert_eq!(money(1_250, "EUR"), "12.50 EUR");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        assert_eq!(money(-1_200, "EUR"), "-12.00 EUR");
    }

    #[test]
    fn the_ticket_carries_code_seats_and_total() {
        let map = crate::grid::tests::sample_map();
        let text = render(&sample_booking(), Some(&map.summary));
        assert!(text.contains("CINEBOOK  K7QX-3MPA"));
        assert!(text.contains("Metropolis"));
        assert!(text.contains("Odeon / Screen 1"));
        assert!(text.contains("A4    standard"), "{text}");
        assert!(text.contains("24.00 EUR"));
        assert!(text.contains("paid cash"));
        assert!(text.lines().all(|l| l.chars().count() <= 32), "{text}");
    }
}
