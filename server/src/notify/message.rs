//! What the outbox holds: one [`OutboxMessage`] per change a customer hears about, written in
//! the same transaction as the change, and the [`Notice`] it carries.
//!
//! A message's id is stable: it is derived from the change it announces (`confirmed:<code>`,
//! `refunded:<code>`, `seats-refunded:<code>:<refund lamport>`, `show-cancelled:<code>`,
//! `rescheduled:<code>:<new start>`), so every delivery of it — a relay retried after a crash, a
//! broker redelivery — carries the same id and consumers can tell a duplicate.

use cinebook_protocol::types::{Booking, Contact, Show, ShowId};
use serde::{Deserialize, Serialize};

use crate::node::catalog::Catalog;

/// Longest message id, bytes (the `outbox.id` column).
pub const OUTBOX_ID_BYTES_MAX: usize = 96;
/// Longest payload a message carries, bytes (the `outbox.payload` column).
pub const OUTBOX_PAYLOAD_BYTES_MAX: usize = 16_000;

/// What a notice announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A sale: the ticket.
    BookingConfirmed,
    /// The whole booking was cancelled and refunded.
    BookingRefunded,
    /// Some seats of the booking were refunded.
    SeatsRefunded,
    /// The show was cancelled; the booking was refunded.
    ShowCancelled,
    /// The show's start time changed.
    ShowRescheduled,
}

impl NoticeKind {
    /// The stored name (also the AMQP routing key).
    pub fn name(self) -> &'static str {
        match self {
            NoticeKind::BookingConfirmed => "booking_confirmed",
            NoticeKind::BookingRefunded => "booking_refunded",
            NoticeKind::SeatsRefunded => "seats_refunded",
            NoticeKind::ShowCancelled => "show_cancelled",
            NoticeKind::ShowRescheduled => "show_rescheduled",
        }
    }
}

/// Everything a customer is told, independent of the channel (e-mail, SMS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// The booking code.
    pub code: String,
    /// The show.
    pub show_id: ShowId,
    /// Movie title (empty if the catalog did not know it).
    pub movie_title: String,
    /// Theater and screen, for people.
    pub venue: String,
    /// Show start, ms since the Unix epoch.
    pub starts_at_ms: u64,
    /// The earlier start, for a rescheduled show.
    pub previous_starts_at_ms: Option<u64>,
    /// Seat labels this notice is about (the booking's, or the refunded ones).
    pub seats: Vec<String>,
    /// An amount for people (`25.00 EUR`): paid, or refunded.
    pub amount: String,
    /// Why (a refund's or cancellation's reason).
    pub reason: Option<String>,
    /// The cinema's signed ticket (`CB1:…`, PROTOCOL.md §17) for the QR code of a
    /// confirmation, signed when the sale was written; `None` in older rows and other notices
    /// (the QR code then holds the booking code).
    #[serde(default)]
    pub ticket: Option<String>,
}

/// One outbox row as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Stable message id (see the module documentation).
    pub id: String,
    /// What it announces.
    pub kind: NoticeKind,
    /// The booking whose contact receives it.
    pub code: String,
    /// The show.
    pub show_id: ShowId,
    /// The [`Notice`] as JSON.
    pub payload: String,
    /// Written, ms since the Unix epoch.
    pub created_at_ms: u64,
}

/// A message as delivered: the row, its notice and the booking's contact, read together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Stable message id.
    pub id: String,
    /// What the customer is told.
    pub notice: Notice,
    /// Where (the booking's contact as stored).
    pub contact: Contact,
}

/// An outbox row waiting to be delivered (or parked), as a store reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMessage {
    /// Order of writing.
    pub seq: u64,
    /// The row.
    pub message: OutboxMessage,
    /// The booking's contact, read in the same query.
    pub contact: Contact,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

impl PendingMessage {
    /// The message as consumers receive it; `Err` if its payload is not a [`Notice`].
    pub fn delivery(&self) -> Result<Delivery, serde_json::Error> {
        Ok(Delivery {
            id: self.message.id.clone(),
            notice: serde_json::from_str(&self.message.payload)?,
            contact: self.contact.clone(),
        })
    }
}

/// What became of a delivery attempt, to record on its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxMark {
    /// Delivered (in-process) or acknowledged by the broker (relay): never sent again.
    Sent {
        /// When, ms since the Unix epoch.
        at_ms: u64,
    },
    /// Failed; try again at `next_at_ms`.
    Retry {
        /// Failed attempts so far.
        attempts: u32,
        /// Not before, ms since the Unix epoch.
        next_at_ms: u64,
        /// Why it failed.
        error: String,
    },
    /// Failed `notify_attempts_max` times: parked until an operator replays it.
    Dead {
        /// Failed attempts.
        attempts: u32,
        /// The last failure.
        error: String,
    },
}

/// Outbox rows by state, and the age of the oldest one waiting (the outbox lag).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Rows waiting to be delivered.
    pub pending: u64,
    /// Rows delivered or handed to the broker.
    pub sent: u64,
    /// Rows parked after too many failures.
    pub dead: u64,
    /// `created_at_ms` of the oldest pending row.
    pub oldest_pending_at_ms: Option<u64>,
}

/// Show details for a notice, from the catalog.
fn show_facts(catalog: &Catalog, show_id: ShowId) -> (String, String, u64) {
    let Some(show) = catalog.shows.get(&show_id) else {
        return (String::new(), String::new(), 0);
    };
    let title = catalog
        .movies
        .get(&show.movie_id)
        .map(|m| m.title.clone())
        .unwrap_or_default();
    (title, venue(catalog, show), show.starts_at_ms)
}

fn venue(catalog: &Catalog, show: &Show) -> String {
    let screen = catalog
        .screens
        .get(&show.screen_id)
        .map(|(s, _)| s.name.clone())
        .unwrap_or_default();
    match catalog.theater_of(show) {
        Some(theater) => format!("{}, {screen}", theater.name),
        None => screen,
    }
}

/// What a notice says beyond the booking and the show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// Seat labels the notice is about.
    pub seats: Vec<String>,
    /// The amount paid or refunded, for people.
    pub amount: String,
    /// Why.
    pub reason: Option<String>,
    /// The earlier start of a rescheduled show.
    pub previous_starts_at_ms: Option<u64>,
    /// Tells apart messages of one kind for one booking (a refund's Lamport time, a new start).
    pub id_suffix: Option<String>,
    /// The signed ticket, for a confirmation.
    pub ticket: Option<String>,
}

/// Builds the message announcing `kind` for `booking`, written at `at_ms`.
pub fn build(
    catalog: &Catalog,
    kind: NoticeKind,
    booking: &Booking,
    details: Details,
    at_ms: u64,
) -> OutboxMessage {
    let Details {
        seats,
        amount,
        reason,
        previous_starts_at_ms,
        id_suffix,
        ticket,
    } = details;
    let (movie_title, venue, starts_at_ms) = show_facts(catalog, booking.show_id);
    let notice = Notice {
        kind,
        code: booking.code.clone(),
        show_id: booking.show_id,
        movie_title,
        venue,
        starts_at_ms,
        previous_starts_at_ms,
        seats,
        amount,
        reason,
        ticket,
    };
    message(notice, at_ms, id_suffix)
}

/// The row for `notice`; `suffix` tells apart messages of one kind for one booking.
pub fn message(notice: Notice, at_ms: u64, suffix: Option<String>) -> OutboxMessage {
    let prefix = match notice.kind {
        NoticeKind::BookingConfirmed => "confirmed",
        NoticeKind::BookingRefunded => "refunded",
        NoticeKind::SeatsRefunded => "seats-refunded",
        NoticeKind::ShowCancelled => "show-cancelled",
        NoticeKind::ShowRescheduled => "rescheduled",
    };
    let id = match suffix {
        Some(suffix) => format!("{prefix}:{}:{suffix}", notice.code),
        None => format!("{prefix}:{}", notice.code),
    };
    debug_assert!(
        id.len() <= OUTBOX_ID_BYTES_MAX,
        "codes are 32 bytes at most"
    );
    // A Notice of bounded strings always serialises; the fallback keeps the row writable.
    let payload = serde_json::to_string(&notice).unwrap_or_else(|_| "{}".into());
    OutboxMessage {
        id,
        kind: notice.kind,
        code: notice.code,
        show_id: notice.show_id,
        payload,
        created_at_ms: at_ms,
    }
}

/// Seat labels of a booking.
pub fn labels(booking: &Booking) -> Vec<String> {
    booking.seats.iter().map(|s| s.label.clone()).collect()
}

/// The message telling the customer of `booking` that its show moved from
/// `previous_starts_at_ms` to `starts_at_ms` (the id carries the new start, so each move is
/// its own message and a repeated upsert of the same start is one).
pub fn rescheduled(
    catalog: &Catalog,
    booking: &Booking,
    starts_at_ms: u64,
    previous_starts_at_ms: u64,
    at_ms: u64,
) -> OutboxMessage {
    let (movie_title, venue, _) = show_facts(catalog, booking.show_id);
    let notice = Notice {
        kind: NoticeKind::ShowRescheduled,
        code: booking.code.clone(),
        show_id: booking.show_id,
        movie_title,
        venue,
        starts_at_ms,
        previous_starts_at_ms: Some(previous_starts_at_ms),
        seats: labels(booking),
        amount: booking.total.to_string(),
        reason: None,
        ticket: None,
    };
    message(notice, at_ms, Some(starts_at_ms.to_string()))
}
