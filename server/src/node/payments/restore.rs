//! Start-up: holds live in memory only, so the holds of orders still open are rebuilt from
//! their durable orders (same hold id, same seats, pinned to the order until its window ends).
//! A captured order's hold is rebuilt for one more payment window even if its own has ended:
//! the customer paid in time, and the reconciler sells it next. A new leader does the same when
//! it takes over (`Node::take_over`), and re-pins a hold it has without its pin (a hold rebuilt
//! from a snapshot, which carries no pin).

use std::sync::Arc;

use cinebook_protocol::types::PaymentOrderState;

use super::{payments, store, Node};
use crate::domain::{Command, HoldSpec, ShowInput};
use crate::node::{now_ms, ShowSlot};
use crate::store::payments::OrderRecord;

/// Rebuilds the hold of every open order that has none; how many it rebuilt.
pub async fn restore_holds(node: &Arc<Node>) -> usize {
    let (Ok(payments), Ok(store)) = (payments(node), store(node)) else {
        return 0;
    };
    let orders = match node.store_call(store.open_orders()).await {
        Ok(orders) => orders,
        Err(e) => {
            tracing::warn!(error = %e.message, "open payment orders unreadable; the reconciler retries");
            return 0;
        }
    };
    let now = now_ms();
    let mut restored = 0;
    for order in orders {
        let until_ms = match order.state {
            PaymentOrderState::AwaitingPayment if order.window_ends_at_ms > now => {
                order.window_ends_at_ms
            }
            PaymentOrderState::Captured => order
                .window_ends_at_ms
                .max(now.saturating_add(payments.config.payment_window_ms)),
            _ => continue,
        };
        let result = match node.show_of_hold(order.hold_id) {
            // A hold rebuilt from a snapshot lacks its pin: pin it again.
            Some(slot) if unpinned(&slot, &order) => pin(node, slot, &order, until_ms).await,
            Some(_) => continue,
            None => restore_one(node, &order, until_ms).await,
        };
        match result {
            Ok(()) => restored += 1,
            Err(e) => {
                tracing::warn!(order_id = order.order_id, error = %e, "hold of a payment order not rebuilt; the reconciler settles it")
            }
        }
    }
    restored
}

async fn restore_one(node: &Arc<Node>, order: &OrderRecord, until_ms: u64) -> Result<(), String> {
    let slot = node
        .show(order.show_id)
        .ok_or_else(|| format!("show {} is gone", order.show_id))?;
    let hold = Command::Hold {
        hold_id: order.hold_id,
        terminal_id: order.terminal_id,
        spec: HoldSpec::Seats(order.seats.clone()),
        idempotency_key: None,
        sales_close_at_ms: u64::MAX,
    };
    node.submit(slot.clone(), ShowInput::Command(hold))
        .await
        .map_err(|e| e.message)?
        .map_err(|e| e.to_string())?;
    pin(node, slot, order, until_ms).await
}

/// Whether the order's hold exists here (its terminal's) without its payment pin.
fn unpinned(slot: &ShowSlot, order: &OrderRecord) -> bool {
    slot.read()
        .hold(order.hold_id)
        .is_some_and(|h| h.terminal_id == order.terminal_id && h.payment_order.is_none())
}

/// Pins the order's hold to it until `until_ms`.
async fn pin(
    node: &Arc<Node>,
    slot: Arc<ShowSlot>,
    order: &OrderRecord,
    until_ms: u64,
) -> Result<(), String> {
    let pin = Command::AwaitPayment {
        hold_id: order.hold_id,
        terminal_id: order.terminal_id,
        order_id: order.order_id,
        until_ms,
    };
    node.submit(slot, ShowInput::Command(pin))
        .await
        .map_err(|e| e.message)?
        .map_err(|e| e.to_string())?;
    Ok(())
}
