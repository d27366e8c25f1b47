//! A show whose start changes (`UpsertShow`) tells every customer with a live booking: the
//! notices are written in the upsert's own transaction (`Store::upsert_show_announced`).

use cinebook_protocol::types::{BookingStatus, Show};

use super::{now_ms, Catalog, Node};
use crate::notify::message::{self, OutboxMessage};

/// The notices an upsert of `show` causes: one per live booking when its start moves, none
/// for a new show or an unchanged start.
pub fn notices(node: &Node, catalog: &Catalog, show: &Show) -> Vec<OutboxMessage> {
    let Some(before) = catalog.shows.get(&show.id) else {
        return Vec::new();
    };
    if before.starts_at_ms == show.starts_at_ms {
        return Vec::new();
    }
    let Some(slot) = node.show(show.id) else {
        return Vec::new();
    };
    let at = now_ms();
    let state = slot.read();
    state
        .bookings()
        .filter(|b| matches!(b.status, BookingStatus::Confirmed | BookingStatus::Admitted))
        .map(|b| message::rescheduled(catalog, b, show.starts_at_ms, before.starts_at_ms, at))
        .collect()
}
