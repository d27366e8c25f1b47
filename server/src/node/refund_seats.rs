//! `RefundSeats`: a partial refund of some seats of a confirmed booking, by its payment method.
//!
//! The order is the one of a full refund (`durable::cancel`): money paid through the gateway
//! goes back through it first (receipt [`seats_refund_receipt`], so a retry after a lost answer
//! finds the first refund instead of making a second), then the store records the refund (its
//! conditional transaction refuses a seat the booking no longer owns), then the show core frees
//! the seats (`Command::RefundSeats` through `Node::apply_input`).

use std::sync::Arc;

use cinebook_protocol::types::{Money, PaymentMethod, SeatId, SeatsRefund};
use cinebook_protocol::{ErrorBody, ErrorCode, Reply};
use sha2::{Digest, Sha256};

use super::durable::{apply_durable, reconcile_booking};
use super::handlers::{get_booking, Caller};
use super::{now_ms, Node};
use crate::domain::{refunded_seats, Command, ShowInput};
use crate::store::SeatRefundRecord;

/// Seats one `RefundSeats` may name.
pub const SEATS_PER_REFUND_MAX: usize = 256;

/// Hex digits of the seat-set hash in [`seats_refund_receipt`] (the receipt stays within the
/// gateway's 40 characters).
const RECEIPT_HASH_HEX_DIGITS: usize = 24;

/// Our gateway receipt for the partial refund of `seats` of booking `code`: the same for a
/// retry of the same refund, different for another set of seats.
pub fn seats_refund_receipt(code: &str, seats: &[SeatId]) -> String {
    let mut sorted = seats.to_vec();
    sorted.sort_unstable();
    let mut hash = Sha256::new();
    hash.update(code.as_bytes());
    for seat in &sorted {
        hash.update(b"|");
        hash.update(seat.to_string().as_bytes());
    }
    let digest = hex::encode(hash.finalize());
    format!("cb-seats-{}", &digest[..RECEIPT_HASH_HEX_DIGITS])
}

/// Answers `RefundSeats`.
pub async fn refund_seats(
    node: &Arc<Node>,
    caller: &Caller,
    code: String,
    seats: Vec<SeatId>,
    reason: String,
) -> Result<Reply, ErrorBody> {
    if seats.len() > SEATS_PER_REFUND_MAX {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!("a partial refund names at most {SEATS_PER_REFUND_MAX} seats"),
        ));
    }
    let booking = get_booking(node, caller, &code)?;
    let refunded = refunded_seats(&booking, &seats).map_err(|e| e.to_wire())?;
    let slot = node
        .show(booking.show_id)
        .ok_or_else(|| ErrorBody::new(ErrorCode::NotFound, format!("show {}", booking.show_id)))?;
    let amount = Money {
        amount_minor: refunded.iter().map(|s| s.price_minor).sum(),
        currency: booking.total.currency.clone(),
    };
    debug_assert!(amount.amount_minor <= booking.total.amount_minor);
    let method = booking.payment.method;
    let gateway_refund_id = if method == PaymentMethod::Gateway && amount.amount_minor > 0 {
        let receipt = seats_refund_receipt(&code, &seats);
        Some(
            super::payments::settle::refund_part_of_booking(
                node,
                &booking,
                amount.amount_minor,
                &receipt,
            )
            .await?,
        )
    } else {
        None
    };
    let record = SeatRefundRecord {
        code: code.clone(),
        seats: seats.clone(),
        amount: amount.clone(),
        terminal_id: caller.terminal_id,
        at_ms: now_ms(),
        lamport: node.lamport.tick(),
        node_id: node.config.node_id,
        outbox: Vec::new(),
        reason,
    };
    let record = SeatRefundRecord {
        outbox: vec![announcement(node, &booking, &seats, &amount, &record)],
        ..record
    };
    if let Err(e) = node
        .store_call(node.store.commit_seat_refund(&record))
        .await
    {
        // A lost answer, or memory behind the store: make memory agree before answering.
        reconcile_booking(node, &slot, &code).await;
        return Err(e);
    }
    let command = Command::RefundSeats {
        code: code.clone(),
        seats: seats.clone(),
    };
    apply_durable(node, &slot, ShowInput::Command(command)).await?;
    let booking = get_booking(node, caller, &code)?;
    Ok(Reply::SeatsRefunded(SeatsRefund {
        booking,
        seats,
        amount,
        method,
        gateway_refund_id,
    }))
}

/// The outbox row telling the customer which seats were refunded (its id carries the refund's
/// Lamport time: each partial refund of a booking is its own message).
fn announcement(
    node: &Node,
    booking: &cinebook_protocol::types::Booking,
    seats: &[SeatId],
    amount: &cinebook_protocol::types::Money,
    record: &SeatRefundRecord,
) -> crate::notify::message::OutboxMessage {
    use crate::notify::message;
    let labels = booking
        .seats
        .iter()
        .filter(|s| seats.contains(&s.seat_id))
        .map(|s| s.label.clone())
        .collect();
    let details = message::Details {
        seats: labels,
        amount: amount.to_string(),
        reason: Some(record.reason.clone()).filter(|r| !r.is_empty()),
        previous_starts_at_ms: None,
        id_suffix: Some(record.lamport.to_string()),
        ticket: None,
    };
    message::build(
        &node.catalog(),
        message::NoticeKind::SeatsRefunded,
        booking,
        details,
        record.at_ms,
    )
}
