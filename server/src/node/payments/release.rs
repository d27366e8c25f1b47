//! `Release` of a hold pinned to its payment order: the customer declined at the checkout (or
//! closed it, or left the site), and the terminal gives the seats back.
//!
//! The seats may only come back if nothing was paid: the gateway's payments of the order are
//! read first, and a captured or authorized one is settled (sold) instead, the release refused.
//! Otherwise, under the order's lock, the order moves `creating|awaiting_payment → expired`
//! (reason "released before payment") and the show gives the seats back
//! (`Command::ReleaseUnpaid`, replicated as the ordinary `Released` event). A payment that
//! still reaches the gateway's order after that finds the order `expired` and is refunded by
//! the settle path, as a payment after the window's end is.

use std::sync::Arc;

use cinebook_gateway::PaymentStatus;
use cinebook_protocol::types::{HoldId, PaymentOrderState};
use cinebook_protocol::{ErrorBody, ErrorCode, Reply};

use super::{call, caller_order, payments, settle, store, Caller, Node};
use crate::domain::{Command, DomainError, ShowInput};
use crate::node::now_ms;
use crate::store::payments::{OrderChange, OrderRecord};

/// The order's reason once its hold was released before anything was paid.
pub const RELEASED_UNPAID_REASON: &str =
    "released before payment: the customer declined or left the checkout";

/// Releases `hold_id`, pinned to payment order `order_id`, if the order was not paid.
pub async fn release_unpaid(
    node: &Arc<Node>,
    caller: &Caller,
    hold_id: HoldId,
    order_id: u64,
) -> Result<Reply, ErrorBody> {
    payments(node)?;
    let order = caller_order(node, caller, order_id).await?;
    debug_assert_eq!(order.hold_id, hold_id, "a hold is pinned to its own order");
    if let Some(state) = settle_any_payment(node, &order).await? {
        return Err(paid(hold_id, order_id, state));
    }
    {
        let _lock = payments(node)?.lock(order_id).await;
        let order = node
            .store_call(store(node)?.order(order_id))
            .await?
            .ok_or_else(|| ErrorBody::new(ErrorCode::Internal, "a payment order vanished"))?;
        match order.state {
            PaymentOrderState::Creating | PaymentOrderState::AwaitingPayment => {
                let change = OrderChange {
                    reason: Some(RELEASED_UNPAID_REASON.to_owned()),
                    ..OrderChange::to(PaymentOrderState::Expired, now_ms())
                };
                node.store_call(store(node)?.change_order(
                    order_id,
                    &[
                        PaymentOrderState::Creating,
                        PaymentOrderState::AwaitingPayment,
                    ],
                    &change,
                ))
                .await?;
            }
            // Ended unpaid before (a release whose show step was lost, or the window's end).
            PaymentOrderState::Expired if order.payment_id.is_none() => {}
            state => return Err(paid(hold_id, order_id, state)),
        }
    }
    give_back(node, caller, hold_id, order_id).await
}

/// Reads the order's payments at the gateway and settles any that took money; the order's
/// state afterwards if one did.
async fn settle_any_payment(
    node: &Arc<Node>,
    order: &OrderRecord,
) -> Result<Option<PaymentOrderState>, ErrorBody> {
    let Some(gateway_order_id) = order.gateway_order_id.clone() else {
        // No gateway order was recorded: nobody can have paid it.
        return Ok(None);
    };
    let config = &payments(node)?.config;
    let gateway = config.gateway.clone();
    let attempts = call::with_retries(config, "order_payments", || {
        let gateway = gateway.clone();
        let id = gateway_order_id.clone();
        async move { gateway.order_payments(&id).await }
    })
    .await
    .map_err(|e| call::to_wire(&e, "reading the order's payments before the release"))?;
    let mut settled = None;
    for payment in attempts {
        if matches!(
            payment.status,
            PaymentStatus::Captured | PaymentStatus::Authorized
        ) {
            settled = Some(
                settle::settle_payment(node, order.order_id, payment)
                    .await?
                    .state,
            );
        }
    }
    Ok(settled)
}

/// The show's side: the pinned hold's seats become free.
async fn give_back(
    node: &Arc<Node>,
    caller: &Caller,
    hold_id: HoldId,
    order_id: u64,
) -> Result<Reply, ErrorBody> {
    let slot = node
        .show_of_hold(hold_id)
        .ok_or_else(|| node.hold_not_open(hold_id))?;
    let command = Command::ReleaseUnpaid {
        hold_id,
        terminal_id: caller.terminal_id,
        order_id,
    };
    node.submit(slot, ShowInput::Command(command))
        .await?
        .map_err(|e| match e {
            DomainError::HoldNotFound(_) => node.hold_not_open(hold_id),
            e => e.to_wire(),
        })?;
    tracing::info!(
        hold_id,
        order_id,
        "a hold waiting for its payment was released unpaid"
    );
    Ok(Reply::Released { hold_id })
}

fn paid(hold_id: HoldId, order_id: u64, state: PaymentOrderState) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Conflict,
        format!(
            "hold {hold_id} is not released: its payment order {order_id} was paid ({})",
            state.name()
        ),
    )
}
