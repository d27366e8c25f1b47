//! Writes that the store records before (or, for blocking, right after) the show core applies
//! them: cancellations and blocked seats. When the store's answer is lost, the show is brought
//! back in line with what the store holds ([`reconcile_booking`], [`reconcile_blocks`]) so that
//! memory and the database agree once quiet.

use std::sync::Arc;

use cinebook_protocol::types::{Booking, BookingStatus, Money, PaymentMethod, SeatId};
use cinebook_protocol::Reply;
use cinebook_protocol::{ErrorBody, ErrorCode};

use super::handlers::{get_booking, Caller};
use super::{now_ms, Node, ShowSlot};
use crate::domain::{Command, DurableShow, ShowInput};
use crate::notify::message::{self, NoticeKind};
use crate::store::{BlockRecord, CancelRecord};

/// Cancels (or refunds) a confirmed booking: durable first, then in the seat map. A refund is
/// announced to the customer (an outbox row in the cancellation's transaction).
pub async fn cancel(
    node: &Arc<Node>,
    caller: &Caller,
    booking: Booking,
    refund: bool,
    reason: String,
) -> Result<Reply, ErrorBody> {
    let notice = refund.then_some(NoticeKind::BookingRefunded);
    cancel_announced(node, caller, booking, refund, reason, notice).await
}

/// [`cancel`], announced as `notice` (none: the customer is not told).
pub async fn cancel_announced(
    node: &Arc<Node>,
    caller: &Caller,
    booking: Booking,
    refund: bool,
    reason: String,
    notice: Option<NoticeKind>,
) -> Result<Reply, ErrorBody> {
    let code = booking.code.clone();
    if booking.status != BookingStatus::Confirmed {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("booking {code} is already {:?}", booking.status),
        ));
    }
    let slot = node
        .show(booking.show_id)
        .ok_or_else(|| ErrorBody::new(ErrorCode::NotFound, format!("show {}", booking.show_id)))?;
    let amount = Money {
        amount_minor: if refund {
            booking.total.amount_minor
        } else {
            0
        },
        currency: booking.total.currency.clone(),
    };
    let record = CancelRecord {
        code: code.clone(),
        refund,
        amount: amount.clone(),
        terminal_id: caller.terminal_id,
        at_ms: now_ms(),
        lamport: node.lamport.tick(),
        node_id: node.config.node_id,
        outbox: notice
            .map(|kind| {
                let details = message::Details {
                    seats: message::labels(&booking),
                    amount: amount.to_string(),
                    reason: Some(reason.clone()).filter(|r| !r.is_empty()),
                    ..Default::default()
                };
                message::build(&node.catalog(), kind, &booking, details, now_ms())
            })
            .into_iter()
            .collect(),
        reason,
    };
    // Money paid through the gateway goes back through it, before the booking is cancelled:
    // a refund that fails leaves the booking as it was (retry the cancel; the receipt makes the
    // retry find the first refund instead of making a second).
    if refund && booking.payment.method == PaymentMethod::Gateway {
        super::payments::settle::refund_booking(node, &booking).await?;
    }
    // Durable first; the conditional update in the store refuses a second cancel.
    if let Err(e) = node.store_call(node.store.commit_cancel(&record)).await {
        // The answer may be lost (a timeout) or memory may be behind (already cancelled on
        // another path): make memory agree with the store before answering.
        reconcile_booking(node, &slot, &code).await;
        return Err(e);
    }
    apply_durable(
        node,
        &slot,
        ShowInput::Command(Command::Cancel {
            code: code.clone(),
            refund,
        }),
    )
    .await?;
    get_booking(node, caller, &code).map(Reply::Booking)
}

/// Blocks (house seats, broken) or unblocks seats. Blocking takes the seats in memory first, so
/// no hold can take them while the store records it; unblocking is recorded first, so a seat is
/// never sold while the store still says blocked. Either way, a failed write is undone in memory
/// and a lost answer is settled by reading the store.
pub async fn block_seats(
    node: &Arc<Node>,
    caller: &Caller,
    slot: Arc<ShowSlot>,
    seats: Vec<SeatId>,
    blocked: bool,
    reason: Option<String>,
) -> Result<Reply, ErrorBody> {
    let record = BlockRecord {
        show_id: slot.show_id,
        seats: seats.clone(),
        blocked,
        terminal_id: caller.terminal_id,
        at_ms: now_ms(),
        lamport: node.lamport.tick(),
        node_id: node.config.node_id,
        reason,
    };
    let command = |blocked| {
        ShowInput::Command(Command::Block {
            seats: seats.clone(),
            blocked,
        })
    };
    if blocked {
        node.submit(slot.clone(), command(true))
            .await?
            .map_err(|e| e.to_wire())?;
        if let Err(e) = node.store_call(node.store.commit_block(&record)).await {
            reconcile_blocks(node, &slot).await;
            return Err(e);
        }
    } else {
        // Checked in memory first so a wrong seat is refused before anything is written.
        let wrong: Vec<SeatId> = {
            let state = slot.read();
            seats
                .iter()
                .copied()
                .filter(|s| state.slot(*s) != Some(crate::domain::SlotState::Blocked))
                .collect()
        };
        if !wrong.is_empty() {
            return Err(ErrorBody::new(
                ErrorCode::SeatUnavailable { seats: wrong },
                "only blocked seats can be unblocked",
            ));
        }
        if let Err(e) = node.store_call(node.store.commit_block(&record)).await {
            reconcile_blocks(node, &slot).await;
            return Err(e);
        }
        apply_durable(node, &slot, command(false)).await?;
    }
    Ok(Reply::Done)
}

/// Applies a change the store already holds: through the queue, or directly if it is full.
pub(crate) async fn apply_durable(
    node: &Arc<Node>,
    slot: &Arc<ShowSlot>,
    input: ShowInput,
) -> Result<(), ErrorBody> {
    let applied = match node.submit(slot.clone(), input.clone()).await {
        Ok(applied) => applied,
        Err(queue) => {
            tracing::debug!(error = %queue, "durable change applied outside the work queue");
            node.apply_input(slot, input)
        }
    };
    applied.map(|_| ()).map_err(|e| {
        tracing::error!(show_id = slot.show_id, error = %e, "a durable change did not apply to the seat map");
        e.to_wire()
    })
}

/// Makes the show agree with the store about one booking (one read, bounded by the store
/// timeout; if it fails, the next start or take-over settles it).
pub async fn reconcile_booking(node: &Arc<Node>, slot: &Arc<ShowSlot>, code: &str) {
    match node.store_call(node.store.resolve_sale(code)).await {
        Ok(Some(stored)) => {
            let durable = DurableShow {
                bookings: vec![(stored.booking, stored.idempotency_key)],
                blocked: None,
            };
            reconcile(node, slot, durable).await;
        }
        Ok(None) => tracing::error!(code, "a booking known in memory is not in the store"),
        Err(e) => {
            tracing::warn!(code, error = %e, "cannot read a booking back; memory may be behind the store until the next start")
        }
    }
}

/// Makes the show's blocked seats agree with the store.
pub async fn reconcile_blocks(node: &Arc<Node>, slot: &Arc<ShowSlot>) {
    match node.store_call(node.store.load_blocked_seats()).await {
        Ok(all) => {
            let blocked = all
                .into_iter()
                .filter(|(show, _)| *show == slot.show_id)
                .map(|(_, seat)| seat)
                .collect();
            let durable = DurableShow {
                bookings: Vec::new(),
                blocked: Some(blocked),
            };
            reconcile(node, slot, durable).await;
        }
        Err(e) => {
            tracing::warn!(show_id = slot.show_id, error = %e, "cannot read blocked seats back; memory may be behind the store until the next start")
        }
    }
}

async fn reconcile(node: &Arc<Node>, slot: &Arc<ShowSlot>, durable: DurableShow) {
    let applied = match node
        .submit(slot.clone(), ShowInput::Durable(durable.clone()))
        .await
    {
        Ok(applied) => applied,
        Err(_) => node.apply_input(slot, ShowInput::Durable(durable)),
    };
    match applied {
        Ok(output) => {
            for why in output.diverged {
                tracing::error!(show_id = slot.show_id, %why, "STORED FACT DOES NOT FIT THE SEAT MAP");
            }
        }
        Err(e) => tracing::error!(show_id = slot.show_id, error = %e, "reconcile refused"),
    }
}
