//! What a customer reads: the e-mail (text and the ticket's QR code) and the SMS, from a
//! [`Notice`]. Pure functions: no I/O, no clock.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use qrcode::render::svg;
use qrcode::QrCode;

use super::message::{Notice, NoticeKind};

/// Smallest side of the QR code image, pixels.
pub const QR_MIN_PIXELS: u32 = 240;
/// Longest SMS text, characters (one concatenated message of three parts).
pub const SMS_CHARS_MAX: usize = 450;

/// Why a message could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The QR code could not encode the text.
    #[error("QR code: {0}")]
    Qr(String),
    /// An address or the message itself was refused by the builder.
    #[error("e-mail: {0}")]
    Mail(String),
}

/// The text the ticket's QR code encodes. THE one place that decides it: the cinema's signed
/// ticket made when the sale was written (`cinebook_protocol::ticket::qr_text`, checked offline
/// by a door scanner), or the booking code (looked up online) for a row that has none.
pub fn ticket_qr_text(notice: &Notice) -> String {
    notice.ticket.clone().unwrap_or_else(|| notice.code.clone())
}

/// The QR code of `text` as an SVG image.
pub fn qr_svg(text: &str) -> Result<String, RenderError> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| RenderError::Qr(e.to_string()))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(QR_MIN_PIXELS, QR_MIN_PIXELS)
        .build())
}

/// A show time for people, in UTC.
pub fn show_time(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%A %Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "(time unknown)".into())
}

/// The subject line.
pub fn subject(notice: &Notice) -> String {
    let what = match notice.kind {
        NoticeKind::BookingConfirmed => "Your tickets",
        NoticeKind::BookingRefunded => "Your booking was refunded",
        NoticeKind::SeatsRefunded => "Seats of your booking were refunded",
        NoticeKind::ShowCancelled => "Your show was cancelled",
        NoticeKind::ShowRescheduled => "Your show was moved",
    };
    format!("{what}: {} — booking {}", notice.movie_title, notice.code)
}

/// The plain-text body of the e-mail.
pub fn email_text(notice: &Notice) -> String {
    let mut text = String::new();
    let seats = notice.seats.join(", ");
    let when = show_time(notice.starts_at_ms);
    let head = match notice.kind {
        NoticeKind::BookingConfirmed => format!(
            "Thank you for your booking. Show this code or the QR code at the door.\n\n\
             Booking code: {}\nMovie: {}\nWhere: {}\nWhen: {when}\nSeats: {seats}\nPaid: {}\n",
            notice.code, notice.movie_title, notice.venue, notice.amount
        ),
        NoticeKind::BookingRefunded => format!(
            "Booking {} ({}, {when}) was cancelled and {} refunded.\nSeats: {seats}\n",
            notice.code, notice.movie_title, notice.amount
        ),
        NoticeKind::SeatsRefunded => format!(
            "Seats {seats} of booking {} ({}, {when}) were refunded: {}.\n\
             Your other seats stay valid.\n",
            notice.code, notice.movie_title, notice.amount
        ),
        NoticeKind::ShowCancelled => format!(
            "We are sorry: the show {} on {when} ({}) was cancelled.\n\
             Booking {} was refunded in full: {}.\nSeats: {seats}\n",
            notice.movie_title, notice.venue, notice.code, notice.amount
        ),
        NoticeKind::ShowRescheduled => format!(
            "The show {} ({}) was moved from {} to {when}.\n\
             Booking {} stays valid for the new time. Seats: {seats}\n",
            notice.movie_title,
            notice.venue,
            notice
                .previous_starts_at_ms
                .map(show_time)
                .unwrap_or_default(),
            notice.code
        ),
    };
    text.push_str(&head);
    if let Some(reason) = notice.reason.as_deref().filter(|r| !r.is_empty()) {
        text.push_str(&format!("Reason: {reason}\n"));
    }
    text.push_str("\nCineBook\n");
    text
}

/// The SMS text, at most [`SMS_CHARS_MAX`] characters.
pub fn sms_text(notice: &Notice) -> String {
    let when = show_time(notice.starts_at_ms);
    let text = match notice.kind {
        NoticeKind::BookingConfirmed => format!(
            "CineBook: booking {} for {}, {when}, seats {}.",
            notice.code,
            notice.movie_title,
            notice.seats.join(", ")
        ),
        NoticeKind::BookingRefunded | NoticeKind::SeatsRefunded => format!(
            "CineBook: booking {} refunded {} (seats {}).",
            notice.code,
            notice.amount,
            notice.seats.join(", ")
        ),
        NoticeKind::ShowCancelled => format!(
            "CineBook: {} on {when} was cancelled; booking {} refunded {}.",
            notice.movie_title, notice.code, notice.amount
        ),
        NoticeKind::ShowRescheduled => format!(
            "CineBook: {} moved to {when}; booking {} stays valid.",
            notice.movie_title, notice.code
        ),
    };
    text.chars().take(SMS_CHARS_MAX).collect()
}

/// The RFC 5322 `Message-ID` of a notice: its stable message id, so a duplicate is visible.
pub fn message_id(id: &str) -> String {
    let local: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '.'
            }
        })
        .collect();
    format!("<{local}@cinebook>")
}

/// The whole e-mail for `to`, with the QR code attached for a confirmed booking.
pub fn email(id: &str, from: &Mailbox, to: &str, notice: &Notice) -> Result<Message, RenderError> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| RenderError::Mail(format!("address {to:?}: {e}")))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject(notice))
        .message_id(Some(message_id(id)));
    let text = SinglePart::plain(email_text(notice));
    let built = if notice.kind == NoticeKind::BookingConfirmed {
        let svg = qr_svg(&ticket_qr_text(notice))?;
        let svg_type =
            ContentType::parse("image/svg+xml").map_err(|e| RenderError::Mail(e.to_string()))?;
        let qr = Attachment::new("ticket-qr.svg".into()).body(svg, svg_type);
        builder.multipart(MultiPart::mixed().singlepart(text).singlepart(qr))
    } else {
        builder.singlepart(text)
    };
    built.map_err(|e| RenderError::Mail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn notice(kind: NoticeKind) -> Notice {
        Notice {
            kind,
            code: "K7QX-3MPA-WH4C-9RTE".into(),
            show_id: 1,
            movie_title: "Heat".into(),
            venue: "Capitol, Hall 1".into(),
            starts_at_ms: 1_767_225_600_000,
            previous_starts_at_ms: Some(1_767_218_400_000),
            seats: vec!["A1".into(), "A2".into()],
            amount: "25.00 EUR".into(),
            reason: Some("projector broken".into()),
            ticket: None,
        }
    }

    #[test]
    fn a_confirmation_carries_the_code_seats_time_and_a_qr_code_of_the_code() {
        let from: Mailbox = "CineBook <tickets@cinebook.test>".parse().expect("ok");
        let n = notice(NoticeKind::BookingConfirmed);
        let mail = email("confirmed:K7QX", &from, "ana@example.ch", &n).expect("ok");
        let raw = String::from_utf8(mail.formatted()).expect("ok");
        assert!(raw.contains("K7QX-3MPA-WH4C-9RTE"), "{raw}");
        assert!(raw.contains("A1, A2"));
        assert!(raw.contains("2026-01-01 00:00 UTC"), "{raw}");
        assert!(raw.contains("ticket-qr.svg"));
        assert!(
            raw.contains("Message-ID: <confirmed.K7QX@cinebook>"),
            "{raw}"
        );
        assert_eq!(ticket_qr_text(&n), n.code);
        let signed = Notice {
            ticket: Some("CB1:ABC".into()),
            ..n.clone()
        };
        assert_eq!(ticket_qr_text(&signed), "CB1:ABC");
        assert!(qr_svg(&ticket_qr_text(&n))
            .expect("ok")
            .starts_with("<?xml"));
    }

    #[test]
    fn every_kind_renders_and_sms_is_bounded() {
        for kind in [
            NoticeKind::BookingRefunded,
            NoticeKind::SeatsRefunded,
            NoticeKind::ShowCancelled,
            NoticeKind::ShowRescheduled,
        ] {
            let mut n = notice(kind);
            assert!(email_text(&n).contains(&n.code), "{kind:?}");
            n.movie_title = "x".repeat(2000);
            assert!(sms_text(&n).chars().count() <= SMS_CHARS_MAX);
        }
        let from: Mailbox = "t@cinebook.test".parse().expect("ok");
        let bad = email(
            "x",
            &from,
            "not an address",
            &notice(NoticeKind::ShowCancelled),
        );
        assert!(matches!(bad, Err(RenderError::Mail(_))));
    }
}
