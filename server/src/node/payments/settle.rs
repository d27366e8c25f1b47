//! A captured payment becomes exactly one booking or exactly one refund.
//!
//! [`settle_payment`] is the one place that decides, under the order's lock, from the order's
//! durable state (docs/PAYMENTS.md):
//! - `creating`/`awaiting_payment` → `captured` (with the payment id), then the sale;
//! - `captured` (the same payment) → the sale again (its idempotency key finds a committed one);
//! - `booked`/`refunded` (the same payment) → nothing: a duplicate;
//! - `expired` → `refund_pending`: paid after the window ended;
//! - `refund_pending` (the same payment) → the refund again (found by its receipt first);
//! - any state with *another* payment already on it → that extra payment is refunded.
//!
//! The sale: committed → `booked`; refused (hold gone, seats resold, window over) →
//! `refund_pending` → refund → `refunded`; unknown or database down → stays `captured`, and the
//! reconciler tries again.

use std::sync::Arc;
use std::time::Duration;

use cinebook_gateway::{GatewayError, GatewayPayment, PaymentStatus, RefundRequest};
use cinebook_protocol::types::{Booking, Money, Payment, PaymentMethod, PaymentOrderState};
use cinebook_protocol::{ErrorBody, ErrorCode, Reply};

use super::{call, payments, store, Caller, Node};
use crate::node::now_ms;
use crate::store::payments::{OrderChange, OrderRecord, PaymentRow, RefundRow};

use PaymentOrderState::*;

/// The sale's idempotency key of an order.
pub fn sale_key(order_id: u64) -> String {
    format!("pay-{order_id}")
}

/// Our refund receipt for an order that could not be booked.
pub fn order_refund_receipt(order_id: u64) -> String {
    format!("cb-refund-{order_id}")
}

/// Our refund receipt for a box-office refund of a gateway-paid booking.
pub fn booking_refund_receipt(code: &str) -> String {
    format!("cb-cancel-{code}")
}

/// Refunds a gateway-paid booking in full through the gateway (a box-office refund), once.
pub async fn refund_booking(node: &Node, booking: &Booking) -> Result<String, ErrorBody> {
    let receipt = booking_refund_receipt(&booking.code);
    // What is left of the booking: a partial refund before this one lowered its total.
    refund_part_of_booking(node, booking, booking.total.amount_minor, &receipt).await
}

/// Refunds `amount_minor` of a gateway-paid booking through the gateway under `receipt`, once
/// (a retry with the same receipt finds the first refund). Returns the gateway's refund id.
pub async fn refund_part_of_booking(
    node: &Node,
    booking: &Booking,
    amount_minor: i64,
    receipt: &str,
) -> Result<String, ErrorBody> {
    let Some(payment_id) = booking.payment.reference.clone() else {
        return Err(ErrorBody::new(
            ErrorCode::Internal,
            format!(
                "booking {} was paid through the gateway but names no payment",
                booking.code
            ),
        ));
    };
    if amount_minor <= 0 || amount_minor > booking.total.amount_minor {
        return Err(ErrorBody::new(
            ErrorCode::Internal,
            format!(
                "a refund of {amount_minor} from booking {} that has {} left",
                booking.code, booking.total.amount_minor
            ),
        ));
    }
    let order = node
        .store_call(store(node)?.order_by_booking(&booking.code))
        .await?
        .ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::Internal,
                format!("booking {} has no payment order", booking.code),
            )
        })?;
    refuse_if_a_refund_is_unrecorded(node, booking, receipt).await?;
    refund(
        node,
        &order,
        &payment_id,
        amount_minor,
        Some(booking.code.clone()),
        receipt,
    )
    .await
}

/// Refuses a refund of `booking` under a new `receipt` while an earlier one (asked of the
/// gateway, and maybe made there) is not yet on the booking: what the gateway may have returned
/// must equal what the booking lost. Without this, a refund whose store write failed and a
/// retry naming other seats would return the overlap twice. Repeating the unfinished refund
/// (same seats, same receipt) finishes it.
async fn refuse_if_a_refund_is_unrecorded(
    node: &Node,
    booking: &Booking,
    receipt: &str,
) -> Result<(), ErrorBody> {
    // A scan of the refunds: partial refunds are box-office acts, not a hot path.
    let refunds = node.store_call(store(node)?.all_refunds()).await?;
    let earlier: Vec<&RefundRow> = refunds
        .iter()
        .filter(|r| r.booking_code.as_deref() == Some(booking.code.as_str()))
        .filter(|r| r.receipt != receipt && r.state != "failed")
        .collect();
    let asked_minor: i64 = earlier.iter().map(|r| r.amount_minor).sum();
    let lost_minor = booking.payment.amount.amount_minor - booking.total.amount_minor;
    if asked_minor == lost_minor {
        return Ok(());
    }
    let unfinished: Vec<&str> = earlier.iter().map(|r| r.receipt.as_str()).collect();
    Err(ErrorBody::new(
        ErrorCode::Conflict,
        format!(
            "an earlier refund of booking {} is not recorded on it yet (refunds {unfinished:?} \
             return {asked_minor}, the booking lost {lost_minor}); repeat that refund with the \
             same seats first",
            booking.code
        ),
    ))
}

/// Our refund receipt for an extra payment on an order that already has one.
pub fn extra_refund_receipt(payment_id: &str) -> String {
    format!("cb-extra-{payment_id}")
}

/// Settles one payment the gateway reports for `order_id` (see the module doc). Returns the
/// order as it is afterwards.
pub async fn settle_payment(
    node: &Arc<Node>,
    order_id: u64,
    payment: GatewayPayment,
) -> Result<OrderRecord, ErrorBody> {
    let payments = payments(node)?;
    let _lock = payments.lock(order_id).await;
    let order = load(node, order_id).await?;
    if let Err(refused) = super::checkout::check_payment_matches(&order, &payment) {
        return Err(refund_mismatched(node, &order, &payment, refused).await?);
    }
    let payment = match payment.status {
        PaymentStatus::Authorized => capture(node, &order, &payment).await?,
        _ => payment,
    };
    let ours = order.payment_id.as_deref() == Some(payment.id.as_str());
    if order.state == RefundPending && ours {
        // Our refund may have happened already (the gateway then says `refunded`): the refund
        // path finds it by its receipt before it asks again.
        return refund_order(node, order).await;
    }
    if payment.status != PaymentStatus::Captured {
        // Created, failed, or refunded at the gateway by someone else: nothing to sell.
        record_payment(node, &order, &payment).await?;
        return Ok(order);
    }
    record_payment(node, &order, &payment).await?;
    match order.state {
        Creating | AwaitingPayment => {
            let change = OrderChange {
                payment_id: Some(payment.id.clone()),
                ..OrderChange::to(Captured, now_ms())
            };
            transition(node, &order, &[Creating, AwaitingPayment], &change).await?;
            #[cfg(feature = "fault-injection")]
            node.faults
                .hit(crate::node::faults::FaultPoint::PaymentCaptured);
            sell(node, load(node, order_id).await?).await
        }
        Captured if ours => sell(node, order).await,
        RefundPending if ours => refund_order(node, order).await,
        Booked | Refunded if ours => Ok(order),
        Expired if order.payment_id.is_none() => {
            let change = OrderChange {
                payment_id: Some(payment.id.clone()),
                reason: Some("paid after the payment window ended; refunded".to_owned()),
                ..OrderChange::to(RefundPending, now_ms())
            };
            transition(node, &order, &[Expired], &change).await?;
            refund_order(node, load(node, order_id).await?).await
        }
        _ => {
            // The order already has its payment: this one is a second charge. Return it.
            let receipt = extra_refund_receipt(&payment.id);
            let amount = i64::try_from(payment.amount_minor).unwrap_or(i64::MAX);
            refund(node, &order, &payment.id, amount, None, &receipt).await?;
            Ok(order)
        }
    }
}

/// A payment the gateway holds for this order whose amount or currency is not the order's:
/// captured, it is money we must not keep and cannot sell for, so it is refunded in full
/// (receipt `cb-extra-<payment_id>`, found again on every later attempt: refunded once).
/// Returns the refusal to answer, saying whether it was refunded.
async fn refund_mismatched(
    node: &Node,
    order: &OrderRecord,
    payment: &GatewayPayment,
    refused: ErrorBody,
) -> Result<ErrorBody, ErrorBody> {
    let this_order = order.gateway_order_id.is_some()
        && payment.order_id.as_deref() == order.gateway_order_id.as_deref();
    if !this_order || payment.status != PaymentStatus::Captured {
        return Ok(refused);
    }
    record_payment(node, order, payment).await?;
    let receipt = extra_refund_receipt(&payment.id);
    let amount = i64::try_from(payment.amount_minor).unwrap_or(i64::MAX);
    let refund_id = refund(node, order, &payment.id, amount, None, &receipt).await?;
    tracing::warn!(order_id = order.order_id, payment_id = %payment.id, %refund_id, "a captured payment did not match its order; refunded");
    Ok(ErrorBody::new(
        refused.code,
        format!(
            "{}; the payment was refunded ({refund_id})",
            refused.message
        ),
    ))
}

/// Records a payment that failed (the order waits on: the customer may try again).
pub async fn record_failed(
    node: &Arc<Node>,
    order: &OrderRecord,
    payment: &GatewayPayment,
) -> Result<(), ErrorBody> {
    record_payment(node, order, payment).await
}

async fn load(node: &Node, order_id: u64) -> Result<OrderRecord, ErrorBody> {
    node.store_call(store(node)?.order(order_id))
        .await?
        .ok_or_else(|| ErrorBody::new(ErrorCode::NotFound, format!("payment order {order_id}")))
}

async fn transition(
    node: &Node,
    order: &OrderRecord,
    from: &[PaymentOrderState],
    change: &OrderChange,
) -> Result<(), ErrorBody> {
    let moved = node
        .store_call(store(node)?.change_order(order.order_id, from, change))
        .await?;
    if !moved {
        // Only this node's lock holder moves an order; another node (a deposed leader) did.
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!(
                "payment order {} moved while it was being settled; retry",
                order.order_id
            ),
        ));
    }
    Ok(())
}

async fn record_payment(
    node: &Node,
    order: &OrderRecord,
    payment: &GatewayPayment,
) -> Result<(), ErrorBody> {
    let status = match payment.status {
        PaymentStatus::Created => "created",
        PaymentStatus::Authorized => "authorized",
        PaymentStatus::Captured => "captured",
        PaymentStatus::Refunded => "refunded",
        PaymentStatus::Failed => "failed",
    };
    let row = PaymentRow {
        payment_id: payment.id.clone(),
        order_id: order.order_id,
        amount_minor: i64::try_from(payment.amount_minor).unwrap_or(i64::MAX),
        currency: payment.currency.clone(),
        status: status.to_owned(),
        at_ms: now_ms(),
    };
    node.store_call(store(node)?.record_payment(&row)).await
}

async fn capture(
    node: &Node,
    order: &OrderRecord,
    payment: &GatewayPayment,
) -> Result<GatewayPayment, ErrorBody> {
    let payments = payments(node)?;
    let gateway = payments.config.gateway.clone();
    // Capturing a captured payment answers it as it is: retries charge nothing twice.
    call::with_retries(&payments.config, "capture", || {
        let gateway = gateway.clone();
        let (id, currency) = (payment.id.clone(), order.currency.clone());
        let amount = payment.amount_minor;
        async move { gateway.capture(&id, amount, &currency).await }
    })
    .await
    .map_err(|e| call::to_wire(&e, "capturing the payment"))
}

/// Error codes after which a sale certainly did not happen and will not: the payment goes back.
fn sale_refused(code: &ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::HoldExpired
            | ErrorCode::NotFound
            | ErrorCode::SeatUnavailable { .. }
            | ErrorCode::InvalidArgument
            | ErrorCode::Conflict
            | ErrorCode::SalesClosed
            | ErrorCode::Forbidden
            | ErrorCode::SoldOut
    )
}

/// Sells a `captured` order's hold through the confirm path.
async fn sell(node: &Arc<Node>, order: OrderRecord) -> Result<OrderRecord, ErrorBody> {
    let Some(payment_id) = order.payment_id.clone() else {
        return Err(ErrorBody::new(
            ErrorCode::Internal,
            "a captured order without its payment",
        ));
    };
    let caller = Caller {
        role: order.role,
        terminal_id: order.terminal_id,
        peer_node_id: None,
    };
    let payment = Payment {
        method: PaymentMethod::Gateway,
        amount: Money {
            amount_minor: order.amount_minor,
            currency: order.currency.clone(),
        },
        reference: Some(payment_id),
    };
    let key = sale_key(order.order_id);
    let sold = super::super::handlers::confirm_sale(
        node,
        &caller,
        order.hold_id,
        payment,
        key,
        order.contact.clone(),
    )
    .await;
    match sold {
        Ok(Reply::Booking(booking)) => {
            let change = OrderChange {
                booking_code: Some(booking.code.clone()),
                ..OrderChange::to(Booked, now_ms())
            };
            transition(node, &order, &[Captured], &change).await?;
            load(node, order.order_id).await
        }
        Ok(_) => Err(ErrorBody::new(
            ErrorCode::Internal,
            "a sale answered no booking",
        )),
        Err(e) if sale_refused(&e.code) => {
            tracing::info!(order_id = order.order_id, reason = %e.message, "captured payment cannot be booked: refunding");
            let change = OrderChange {
                reason: Some(format!(
                    "the seats could not be sold ({}); the payment is refunded",
                    e.message
                )),
                ..OrderChange::to(RefundPending, now_ms())
            };
            transition(node, &order, &[Captured], &change).await?;
            refund_order(node, load(node, order.order_id).await?).await
        }
        Err(e) => {
            // Unknown or not now (database down, overloaded): the order stays captured; the
            // next attempt (a retry, a webhook, the reconciler) sells it with the same key.
            tracing::warn!(order_id = order.order_id, error = %e.message, "captured order not sold yet");
            Ok(order)
        }
    }
}

/// Refunds a `refund_pending` order's payment in full, then marks it `refunded`.
async fn refund_order(node: &Arc<Node>, order: OrderRecord) -> Result<OrderRecord, ErrorBody> {
    let Some(payment_id) = order.payment_id.clone() else {
        return Err(ErrorBody::new(
            ErrorCode::Internal,
            "a refund without its payment",
        ));
    };
    let receipt = order_refund_receipt(order.order_id);
    refund(
        node,
        &order,
        &payment_id,
        order.amount_minor,
        None,
        &receipt,
    )
    .await?;
    transition(
        node,
        &order,
        &[RefundPending],
        &OrderChange::to(Refunded, now_ms()),
    )
    .await?;
    load(node, order.order_id).await
}

/// Refunds `amount_minor` of `payment_id` under `receipt`, exactly once: the receipt is
/// recorded before the gateway is asked; a later attempt (after a timeout, a crash) first looks
/// the refund up at the gateway by its receipt. Returns the gateway's refund id.
pub(crate) async fn refund(
    node: &Node,
    order: &OrderRecord,
    payment_id: &str,
    amount_minor: i64,
    booking_code: Option<String>,
    receipt: &str,
) -> Result<String, ErrorBody> {
    let payments = payments(node)?;
    let store = store(node)?;
    let existing = node.store_call(store.refund(receipt)).await?;
    if let Some(id) = existing.as_ref().and_then(|r| r.gateway_refund_id.clone()) {
        return Ok(id);
    }
    let now = now_ms();
    let mut row = RefundRow {
        receipt: receipt.to_owned(),
        order_id: order.order_id,
        payment_id: payment_id.to_owned(),
        booking_code,
        gateway_refund_id: None,
        amount_minor,
        currency: order.currency.clone(),
        state: "requested".to_owned(),
        created_at_ms: now,
        updated_at_ms: now,
    };
    let mut asked_before = existing.is_some();
    if !asked_before {
        node.store_call(store.record_refund(&row)).await?;
    }
    let config = &payments.config;
    let gateway = &config.gateway;
    let request = RefundRequest {
        amount_minor: u64::try_from(amount_minor).unwrap_or(0),
        receipt: receipt.to_owned(),
        notes: vec![("order_id".to_owned(), order.order_id.to_string())],
    };
    let mut pause_ms = config.gateway_retry_backoff_ms;
    let mut last = GatewayError::Timeout;
    for _ in 0..config.gateway_attempts_max.max(1) {
        if asked_before {
            match call::bounded(config, gateway.payment_refunds(payment_id)).await {
                Ok(refunds) => {
                    if let Some(found) = refunds
                        .into_iter()
                        .find(|r| r.receipt.as_deref() == Some(receipt))
                    {
                        return finish(node, &mut row, found).await;
                    }
                }
                Err(e) if e.is_retryable() => {
                    last = e;
                    pause(&mut pause_ms).await;
                    continue;
                }
                Err(e) => return Err(call::to_wire(&e, "looking up a refund")),
            }
        }
        match call::bounded(config, gateway.refund(payment_id, &request)).await {
            Ok(made) => return finish(node, &mut row, made).await,
            Err(e) if e.is_retryable() => {
                // A timeout may have refunded: the next attempt looks first.
                asked_before |= !e.is_definite();
                last = e;
                pause(&mut pause_ms).await;
            }
            Err(e) => {
                // A definite refusal: nothing was returned, so the row must not count as asked.
                if !asked_before {
                    row.state = "failed".to_owned();
                    row.updated_at_ms = now_ms();
                    node.store_call(store.record_refund(&row)).await?;
                }
                return Err(call::to_wire(&e, "refunding the payment"));
            }
        }
    }
    Err(call::to_wire(&last, "refunding the payment"))
}

async fn pause(pause_ms: &mut u64) {
    tokio::time::sleep(Duration::from_millis(*pause_ms)).await;
    *pause_ms = pause_ms.saturating_mul(2);
}

async fn finish(
    node: &Node,
    row: &mut RefundRow,
    made: cinebook_gateway::GatewayRefund,
) -> Result<String, ErrorBody> {
    row.gateway_refund_id = Some(made.id.clone());
    row.state = match made.status {
        cinebook_gateway::RefundStatus::Pending => "pending",
        cinebook_gateway::RefundStatus::Processed => "processed",
        cinebook_gateway::RefundStatus::Failed => "failed",
    }
    .to_owned();
    row.updated_at_ms = now_ms();
    node.store_call(store(node)?.record_refund(row)).await?;
    Ok(made.id)
}
