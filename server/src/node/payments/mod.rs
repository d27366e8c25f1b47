//! Online payments through a gateway: payment orders, checkout verification, webhooks,
//! refunds and the reconciler. docs/PAYMENTS.md has the state machine.
//!
//! Nothing here changes a show directly: a hold is pinned to its order with
//! `Command::AwaitPayment` and sold through the confirm path (`handlers::confirm_sale`, with
//! `PaymentMethod::Gateway`), both through `Node::apply_input`. What this module adds is the
//! durable order ([`crate::store::payments`]) and the rule that decides, for each captured
//! payment, *one* of: booking, or refund. Every path that learns of a capture (the checkout
//! result, a webhook, the reconciler) goes through [`settle::settle_captured`], serialised per
//! order, and every step is a conditional transition in the store, so duplicates and races
//! change nothing twice.
//!
//! # Layout
//! - this file: configuration, per-order locks, `CreatePaymentOrder`, `PaymentStatus`;
//! - `checkout.rs`: `VerifyCheckout`;
//! - `settle.rs`: a captured payment → booking or refund; refunds through the gateway;
//! - `webhook.rs`, `webhook_http.rs`: `POST /payments/webhook` (typed outcome; HTTP side);
//! - `reconciler.rs`: every open order settled against the gateway (leader, start-up and every
//!   `reconcile_interval_ms`);
//! - `release.rs`: `Release` of a hold waiting for its payment (declined, abandoned);
//! - `restore.rs`: the holds of open orders, rebuilt at start-up;
//! - `call.rs`: gateway calls with a deadline and bounded retries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cinebook_gateway::PaymentGateway;
use cinebook_protocol::types::{HoldId, Money, PaymentOrderInfo, PaymentOrderState};
use cinebook_protocol::{ErrorBody, ErrorCode};
use parking_lot::Mutex;

use super::handlers::Caller;
use super::{now_ms, Node};
use crate::domain::{Command, ShowInput};
use crate::store::payments::{OrderChange, OrderRecord, PaymentStore};

mod call;
mod checkout;
pub mod reconciler;
pub mod release;
pub mod restore;
pub mod settle;
pub mod webhook;
pub mod webhook_http;

pub use checkout::verify_checkout;

/// Default payment window: how long a hold waits for its payment, ms (15 minutes).
pub const PAYMENT_WINDOW_MS_DEFAULT: u64 = 15 * 60 * 1000;
/// Default interval of the reconciler, ms (1 minute).
pub const RECONCILE_INTERVAL_MS_DEFAULT: u64 = 60 * 1000;
/// Default deadline of one gateway call, ms.
pub const GATEWAY_CALL_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Default attempts of one gateway operation (the first and its retries).
pub const GATEWAY_ATTEMPTS_MAX_DEFAULT: u32 = 3;
/// Default pause between gateway attempts, ms (doubled each time).
pub const GATEWAY_RETRY_BACKOFF_MS_DEFAULT: u64 = 100;
/// Default largest webhook body accepted, bytes.
pub const WEBHOOK_BODY_MAX_BYTES_DEFAULT: usize = 64 * 1024;

/// How a node takes online payments.
#[derive(Debug, Clone)]
pub struct PaymentConfig {
    /// The gateway (Razorpay-compatible client, or the local simulator through the same one).
    pub gateway: Arc<dyn PaymentGateway>,
    /// How long a hold waits for its payment, ms.
    pub payment_window_ms: u64,
    /// How often the leader settles every open order against the gateway, ms.
    pub reconcile_interval_ms: u64,
    /// Deadline of one gateway call, ms; past it the call's outcome is unknown.
    pub gateway_call_timeout_ms: u64,
    /// Attempts of one gateway operation.
    pub gateway_attempts_max: u32,
    /// Pause before the first retry, ms; doubled for each further one.
    pub gateway_retry_backoff_ms: u64,
    /// Largest webhook body read, bytes; a larger one is refused unread.
    pub webhook_body_max_bytes: usize,
    /// Where the gateway's checkout sends the customer back.
    pub checkout_return_url: String,
}

impl PaymentConfig {
    /// The defaults around `gateway`.
    pub fn new(gateway: Arc<dyn PaymentGateway>) -> Self {
        PaymentConfig {
            gateway,
            payment_window_ms: PAYMENT_WINDOW_MS_DEFAULT,
            reconcile_interval_ms: RECONCILE_INTERVAL_MS_DEFAULT,
            gateway_call_timeout_ms: GATEWAY_CALL_TIMEOUT_MS_DEFAULT,
            gateway_attempts_max: GATEWAY_ATTEMPTS_MAX_DEFAULT,
            gateway_retry_backoff_ms: GATEWAY_RETRY_BACKOFF_MS_DEFAULT,
            webhook_body_max_bytes: WEBHOOK_BODY_MAX_BYTES_DEFAULT,
            checkout_return_url: String::new(),
        }
    }
}

/// The node's payment state: the configuration, order ids, and one lock per order being
/// worked on.
#[derive(Debug)]
pub struct Payments {
    /// Configuration.
    pub config: PaymentConfig,
    next_order_id: AtomicU64,
    locks: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<()>>>>,
}

impl Payments {
    /// Payment state for `config`; order ids are seeded from the clock, so a restarted node
    /// does not reuse them.
    pub fn new(config: PaymentConfig) -> Self {
        Payments {
            config,
            next_order_id: AtomicU64::new(now_ms() << 12),
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn new_order_id(&self) -> u64 {
        self.next_order_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The lock of one order: every path that settles it holds it, so one decides at a time.
    async fn lock(&self, order_id: u64) -> OrderGuard<'_> {
        let lock = self.locks.lock().entry(order_id).or_default().clone();
        let guard = lock.clone().lock_owned().await;
        OrderGuard {
            payments: self,
            order_id,
            _guard: guard,
        }
    }
}

/// Holds an order's lock; forgets the lock when nobody else waits for it.
struct OrderGuard<'a> {
    payments: &'a Payments,
    order_id: u64,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for OrderGuard<'_> {
    fn drop(&mut self) {
        let mut locks = self.payments.locks.lock();
        // Two references: the map's and this guard's mutex; no one else is waiting.
        if locks
            .get(&self.order_id)
            .is_some_and(|l| Arc::strong_count(l) <= 2)
        {
            locks.remove(&self.order_id);
        }
    }
}

/// The node's payments, or why it takes none.
pub(crate) fn payments(node: &Node) -> Result<&Payments, ErrorBody> {
    node.payments.as_ref().ok_or_else(|| {
        ErrorBody::new(
            ErrorCode::Unavailable,
            "this node takes no online payments (no --gateway configured)",
        )
    })
}

/// The store's payment tables (checked at start-up when a gateway is configured).
pub(crate) fn store(node: &Node) -> Result<&dyn PaymentStore, ErrorBody> {
    node.store
        .payments()
        .ok_or_else(|| ErrorBody::new(ErrorCode::Internal, "the store keeps no payment orders"))
}

/// An order as its terminal sees it.
pub(crate) fn info(node: &Node, order: &OrderRecord) -> PaymentOrderInfo {
    let checkout_url = match (&order.gateway_order_id, payments(node)) {
        (Some(id), Ok(p)) => Some(p.config.gateway.checkout_url(
            &gateway_order_view(order, id),
            &p.config.checkout_return_url,
        )),
        _ => None,
    };
    PaymentOrderInfo {
        order_id: order.order_id,
        hold_id: order.hold_id,
        show_id: order.show_id,
        gateway_order_id: order.gateway_order_id.clone(),
        amount: Money {
            amount_minor: order.amount_minor,
            currency: order.currency.clone(),
        },
        checkout_url,
        state: order.state,
        window_ends_at_ms: order.window_ends_at_ms,
        booking_code: order.booking_code.clone(),
        payment_id: order.payment_id.clone(),
        reason: order.reason.clone(),
    }
}

/// The gateway's order as we recorded it (for the checkout URL).
fn gateway_order_view(order: &OrderRecord, id: &str) -> cinebook_gateway::GatewayOrder {
    cinebook_gateway::GatewayOrder {
        id: id.to_owned(),
        amount_minor: u64::try_from(order.amount_minor).unwrap_or(0),
        amount_paid_minor: 0,
        currency: order.currency.clone(),
        receipt: Some(crate::store::payments::receipt_for(order.order_id)),
        status: cinebook_gateway::OrderStatus::Created,
        created_at_s: order.created_at_ms / 1000,
    }
}

/// Loads an order the caller may see: its own (admins see every order).
pub(crate) async fn caller_order(
    node: &Node,
    caller: &Caller,
    order_id: u64,
) -> Result<OrderRecord, ErrorBody> {
    let order = node
        .store_call(store(node)?.order(order_id))
        .await?
        .ok_or_else(|| ErrorBody::new(ErrorCode::NotFound, format!("payment order {order_id}")))?;
    if order.terminal_id != caller.terminal_id
        && caller.role != cinebook_protocol::types::Role::Admin
    {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!("payment order {order_id} belongs to another terminal"),
        ));
    }
    Ok(order)
}

/// `PaymentStatus`.
pub async fn status(
    node: &Arc<Node>,
    caller: &Caller,
    order_id: u64,
) -> Result<PaymentOrderInfo, ErrorBody> {
    payments(node)?;
    let order = caller_order(node, caller, order_id).await?;
    Ok(info(node, &order))
}

/// Bytes of an idempotency key: at least one, at most this many.
pub const ORDER_KEY_BYTES_MAX: usize = 128;

/// `CreatePaymentOrder`: the order is durable before the gateway hears of it, the hold is
/// pinned to it, then the gateway's order is created (retried with the same receipt).
pub async fn create_order(
    node: &Arc<Node>,
    caller: &Caller,
    hold_id: HoldId,
    key: String,
    contact: cinebook_protocol::types::Contact,
) -> Result<PaymentOrderInfo, ErrorBody> {
    let payments = payments(node)?;
    if key.is_empty() || key.len() > ORDER_KEY_BYTES_MAX {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!("an idempotency key has 1..={ORDER_KEY_BYTES_MAX} bytes"),
        ));
    }
    let slot = node.show_of_hold(hold_id).ok_or_else(|| {
        ErrorBody::new(
            ErrorCode::HoldExpired,
            format!("hold {hold_id} is gone: expired, released or never existed"),
        )
    })?;
    let (hold, pinned_to) = {
        let state = slot.read();
        let hold = state.hold(hold_id).ok_or_else(|| {
            ErrorBody::new(ErrorCode::HoldExpired, format!("hold {hold_id} is gone"))
        })?;
        if hold.terminal_id != caller.terminal_id {
            return Err(ErrorBody::new(
                ErrorCode::Forbidden,
                format!("hold {hold_id} belongs to another terminal"),
            ));
        }
        (state.hold_info(hold), hold.payment_order)
    };
    let now = now_ms();
    let candidate = OrderRecord {
        order_id: pinned_to.unwrap_or_else(|| payments.new_order_id()),
        terminal_id: caller.terminal_id,
        role: caller.role,
        hold_id,
        show_id: slot.show_id,
        seats: hold.seats.clone(),
        amount_minor: hold.total.amount_minor,
        currency: hold.total.currency.clone(),
        gateway_order_id: None,
        idempotency_key: key.clone(),
        state: PaymentOrderState::Creating,
        payment_id: None,
        booking_code: None,
        reason: None,
        window_ends_at_ms: now.saturating_add(payments.config.payment_window_ms),
        created_at_ms: now,
        updated_at_ms: now,
        contact,
    };
    if candidate.amount_minor <= 0 {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            "nothing to pay: the hold's total is zero",
        ));
    }
    let order = match pinned_to {
        Some(order_id) => node
            .store_call(store(node)?.order(order_id))
            .await?
            .ok_or_else(|| ErrorBody::new(ErrorCode::Internal, "a pinned hold's order is gone"))?,
        None => {
            node.store_call(store(node)?.create_order(&candidate))
                .await?
        }
    };
    if order.idempotency_key != key || order.hold_id != hold_id {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!(
                "hold {hold_id} already waits for payment order {} (another key), or key {key:?} \
                 started an order for another hold",
                order.order_id
            ),
        ));
    }
    let pin = Command::AwaitPayment {
        hold_id,
        terminal_id: caller.terminal_id,
        order_id: order.order_id,
        until_ms: order.window_ends_at_ms,
    };
    match node.submit(slot, ShowInput::Command(pin)).await? {
        Ok(_) => {}
        Err(e) => {
            let change = OrderChange {
                reason: Some(format!("the hold could not wait for the payment: {e}")),
                ..OrderChange::to(PaymentOrderState::Expired, now_ms())
            };
            let _ = node
                .store_call(store(node)?.change_order(
                    order.order_id,
                    &[PaymentOrderState::Creating],
                    &change,
                ))
                .await;
            return Err(e.to_wire());
        }
    }
    let order = ensure_gateway_order(node, order).await?;
    Ok(info(node, &order))
}

/// Creates the gateway's order for a `creating` order (retrying with the same receipt) and
/// records it; an order that has one already is returned as it is.
async fn ensure_gateway_order(
    node: &Arc<Node>,
    order: OrderRecord,
) -> Result<OrderRecord, ErrorBody> {
    if order.state != PaymentOrderState::Creating {
        return Ok(order);
    }
    let payments = payments(node)?;
    let _lock = payments.lock(order.order_id).await;
    let request = cinebook_gateway::OrderRequest {
        amount_minor: u64::try_from(order.amount_minor).unwrap_or(0),
        currency: order.currency.clone(),
        receipt: crate::store::payments::receipt_for(order.order_id),
        notes: vec![
            ("show_id".to_owned(), order.show_id.to_string()),
            ("hold_id".to_owned(), order.hold_id.to_string()),
        ],
    };
    let gateway = payments.config.gateway.clone();
    let created = call::with_retries(&payments.config, "create_order", || {
        let gateway = gateway.clone();
        let request = request.clone();
        async move { gateway.create_order(&request).await }
    })
    .await
    .map_err(|e| call::to_wire(&e, "creating the gateway order"))?;
    if created.amount_minor != request.amount_minor || created.currency != request.currency {
        return Err(ErrorBody::new(
            ErrorCode::Internal,
            format!(
                "the gateway created order {} for {} {}, not {} {}",
                created.id,
                created.amount_minor,
                created.currency,
                request.amount_minor,
                request.currency
            ),
        ));
    }
    let change = OrderChange {
        gateway_order_id: Some(created.id.clone()),
        ..OrderChange::to(PaymentOrderState::AwaitingPayment, now_ms())
    };
    let store = store(node)?;
    node.store_call(store.change_order(order.order_id, &[PaymentOrderState::Creating], &change))
        .await?;
    node.store_call(store.order(order.order_id))
        .await?
        .ok_or_else(|| ErrorBody::new(ErrorCode::Internal, "a payment order vanished"))
}
