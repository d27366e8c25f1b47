//! Settling sales whose outcome is unknown, by reading the store.
//!
//! A sale is *unknown* when its `COMMIT` got no definite answer (a timeout, a lost
//! acknowledgement) or when the node lost track of it (a panic). Its hold stays pinned. The
//! resolver asks the store, with [`crate::store::Store::resolve_sale`], whether the booking is
//! durable — a read that returns only once no transaction that may still write it is open — and
//! retries with a bounded back-off until it knows. Then: durable → the seats become sold and
//! every waiting confirm gets the booking; not durable → the hold is unpinned (its seats stay
//! held until its deadline) and the confirm may be retried as a new attempt.
//!
//! [`audit`] runs on every sweep: a pinned hold that no writer or resolver owns is adopted here.

use std::sync::Arc;
use std::time::Duration;

use cinebook_protocol::types::Booking;
use cinebook_protocol::{ErrorBody, ErrorCode};

use super::outcomes::SaleTicket;
use super::{Node, ShowSlot};
use crate::domain::{SaleIntent, SaleResult, ShowInput};
use crate::store::StoredBooking;

/// First pause between two reads of the store while resolving.
pub const RESOLVE_BACKOFF_MIN_MS: u64 = 50;
/// Longest pause between two reads of the store while resolving.
pub const RESOLVE_BACKOFF_MAX_MS: u64 = 2_000;

/// Resolves one unknown sale; returns once it is settled (or the node shuts down, leaving the
/// store as the truth for the next start).
pub async fn resolve(node: Arc<Node>, slot: Arc<ShowSlot>, intent: SaleIntent, ticket: SaleTicket) {
    ticket.resolving();
    let code = intent.booking.code.clone();
    let mut backoff_ms = RESOLVE_BACKOFF_MIN_MS;
    loop {
        let read = tokio::select! {
            read = node.store_call(node.store.resolve_sale(&code)) => read,
            _ = node.shutdown.cancelled() => {
                tracing::info!(code = %code, "shutting down with a sale unresolved; the store decides at the next start");
                return;
            }
        };
        match read.map(|stored| resolution(&intent, stored)) {
            Ok(Resolution::Committed) => {
                tracing::info!(code = %code, "unknown sale resolved: it was committed");
                node.metrics.sale_outcome("committed");
                let result = settle(&node, &slot, &intent, SaleResult::Committed).await;
                ticket.settle(result);
                return;
            }
            Ok(Resolution::Differs) => {
                // A booking with this code but other seats: codes are unique, so this is a bug.
                tracing::error!(code = %code, "STORED BOOKING DIFFERS FROM THE SALE SENT");
                let result = settle(&node, &slot, &intent, SaleResult::Failed).await;
                ticket.settle(result.and(Err(ErrorBody::new(
                    ErrorCode::Internal,
                    format!("booking {code} in the store differs from the sale sent"),
                ))));
                return;
            }
            Ok(Resolution::NotCommitted) => {
                tracing::info!(code = %code, "unknown sale resolved: it was not committed");
                node.metrics.sale_outcome("not_committed");
                let result = settle(&node, &slot, &intent, SaleResult::Failed).await;
                ticket.settle(result.and(Err(ErrorBody::new(
                    ErrorCode::Unavailable,
                    "the sale was not committed; retry with the same idempotency key",
                ))));
                return;
            }
            Err(error) => {
                tracing::debug!(code = %code, error = %error, backoff_ms, "cannot resolve yet");
                tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(RESOLVE_BACKOFF_MAX_MS);
            }
        }
    }
}

/// What the store's answer to [`crate::store::Store::resolve_sale`] means for a pinned sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The booking is durable.
    Committed,
    /// It is not, and never will be (the read waited for any transaction writing it).
    NotCommitted,
    /// A booking with this code but other seats is stored: a bug (codes are unique).
    Differs,
}

/// Reads the store's answer for `intent`.
pub fn resolution(intent: &SaleIntent, stored: Option<StoredBooking>) -> Resolution {
    match stored {
        None => Resolution::NotCommitted,
        Some(stored) if stored.booking.seats == intent.booking.seats => Resolution::Committed,
        Some(_) => Resolution::Differs,
    }
}

/// Applies the store's definite answer to the show: through the worker queue, or directly when
/// the queue is full (the answer is durable; memory must not stay behind the store).
pub(crate) async fn settle(
    node: &Arc<Node>,
    slot: &Arc<ShowSlot>,
    intent: &SaleIntent,
    result: SaleResult,
) -> Result<Booking, ErrorBody> {
    let input = ShowInput::SaleResult {
        hold_id: intent.hold_id,
        result,
    };
    let applied = match node.submit(slot.clone(), input.clone()).await {
        Ok(applied) => applied,
        Err(queue) => {
            tracing::debug!(error = %queue, "sale result applied outside the work queue");
            let (node, slot) = (node.clone(), slot.clone());
            match tokio::task::spawn_blocking(move || node.apply_input(&slot, input)).await {
                Ok(applied) => applied,
                Err(_) => {
                    return Err(ErrorBody::new(
                        ErrorCode::Internal,
                        "applying a sale's result panicked; the pin audit retries it",
                    ))
                }
            }
        }
    };
    match (applied, result) {
        (Ok(_), SaleResult::Committed) => {
            node.metrics.seats_sold(intent.booking.seats.len());
            Ok(intent.booking.clone())
        }
        (Ok(_), SaleResult::Failed) => Err(ErrorBody::new(
            ErrorCode::Unavailable,
            "the sale was not committed; retry with the same idempotency key",
        )),
        (Err(e), _) => {
            tracing::error!(code = %intent.booking.code, error = %e, "a sale's result did not apply to the seat map");
            Err(ErrorBody::new(
                ErrorCode::Internal,
                format!("sale {}: {e}", intent.booking.code),
            ))
        }
    }
}

/// Adopts every pinned hold no writer or resolver owns and resolves it from the store.
pub fn audit(node: &Arc<Node>) {
    if !node.accepts_writes() {
        return;
    }
    for slot in node.show_slots() {
        let pinned: Vec<SaleIntent> = slot
            .read()
            .holds()
            .filter_map(|h| h.sale.as_deref().cloned())
            .collect();
        for intent in pinned {
            let key = (intent.booking.terminal_id, intent.idempotency_key.clone());
            if let Some(ticket) = node.outcomes.adopt(key, intent.hold_id, slot.show_id) {
                tracing::warn!(code = %intent.booking.code, hold_id = intent.hold_id, "adopting an orphaned pinned sale");
                tokio::spawn(resolve(node.clone(), slot.clone(), intent, ticket));
            }
        }
    }
}
