//! What every store's outbox shares: the state names and their parsing.
//!
//! A row is `pending` until it is delivered in-process or acknowledged by the broker (`sent`),
//! or until it failed `notify_attempts_max` times in-process (`dead`, replayable). Every change
//! of a row is conditional on it being `pending`, so a late mark after a replay or a second
//! relay never moves a row twice.

use super::StoreError;
use crate::notify::message::{NoticeKind, OutboxStats};

/// Longest `last_error` kept, characters.
pub const LAST_ERROR_CHARS_MAX: usize = 500;

/// The stored state names.
pub mod state {
    /// Waiting for delivery.
    pub const PENDING: &str = "pending";
    /// Delivered (or acknowledged by the broker).
    pub const SENT: &str = "sent";
    /// Parked after too many failures.
    pub const DEAD: &str = "dead";
}

/// Every kind, for parsing.
const KINDS: [NoticeKind; 5] = [
    NoticeKind::BookingConfirmed,
    NoticeKind::BookingRefunded,
    NoticeKind::SeatsRefunded,
    NoticeKind::ShowCancelled,
    NoticeKind::ShowRescheduled,
];

/// Parses [`NoticeKind::name`].
pub fn parse_kind(text: &str) -> Result<NoticeKind, StoreError> {
    KINDS
        .into_iter()
        .find(|k| k.name() == text)
        .ok_or_else(|| StoreError::Corrupt(format!("outbox: unknown kind {text:?}")))
}

/// Adds one `GROUP BY state` row to `stats`.
pub fn count_into(stats: &mut OutboxStats, state: &str, count: u64, oldest: Option<u64>) {
    match state {
        state::PENDING => {
            stats.pending = count;
            stats.oldest_pending_at_ms = oldest;
        }
        state::SENT => stats.sent = count,
        state::DEAD => stats.dead = count,
        _ => {}
    }
}
