//! The reconciler: on the leader, at start-up and every `reconcile_interval_ms`, every open
//! order is settled against the gateway. It is what books a payment whose checkout result and
//! webhooks were all lost, and what finishes the work of a node that died part-way.

use std::sync::Arc;
use std::time::Duration;

use cinebook_gateway::PaymentStatus;
use cinebook_protocol::types::PaymentOrderState;
use cinebook_protocol::ErrorBody;
use futures::StreamExt;

use super::{call, payments, settle, store, Node};
use crate::node::now_ms;
use crate::store::payments::{OrderChange, OrderRecord};

/// Orders one pass settles at once.
pub const RECONCILE_CONCURRENCY_MAX: usize = 16;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Open orders looked at.
    pub examined: usize,
    /// Orders that ended booked in this pass.
    pub booked: usize,
    /// Orders that ended refunded in this pass.
    pub refunded: usize,
    /// Orders that expired in this pass.
    pub expired: usize,
    /// Orders left open (nothing paid yet, or a failure to retry next time).
    pub open: usize,
    /// Failures (each logged), retried next pass.
    pub errors: usize,
}

/// Runs passes until the node shuts down; only while this node accepts writes.
pub async fn run(node: Arc<Node>) {
    let Ok(payments) = payments(&node) else {
        return;
    };
    let every = Duration::from_millis(payments.config.reconcile_interval_ms.max(1));
    loop {
        if node.accepts_writes() {
            let report = reconcile_once(&node).await;
            if report.examined > 0 {
                tracing::info!(?report, "payment orders reconciled");
            }
        }
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// One pass over every open order.
pub async fn reconcile_once(node: &Arc<Node>) -> ReconcileReport {
    let mut report = ReconcileReport::default();
    let orders = match store(node) {
        Ok(store) => match node.store_call(store.open_orders()).await {
            Ok(orders) => orders,
            Err(e) => {
                tracing::warn!(error = %e.message, "reconciler: open orders unreadable");
                report.errors += 1;
                return report;
            }
        },
        Err(_) => return report,
    };
    // Orders are independent (each settles under its own lock), so several go at once: the
    // pass is bounded by gateway and commit latency, not by one order after another.
    let mut settled = futures::stream::iter(orders)
        .map(|order| reconcile_order(node, order))
        .buffer_unordered(RECONCILE_CONCURRENCY_MAX);
    while let Some(result) = settled.next().await {
        report.examined += 1;
        match result {
            Ok(state) => match state {
                PaymentOrderState::Booked => report.booked += 1,
                PaymentOrderState::Refunded => report.refunded += 1,
                PaymentOrderState::Expired => report.expired += 1,
                _ => report.open += 1,
            },
            Err(e) => {
                tracing::warn!(error = %e.message, "reconciler: an order stays open");
                report.errors += 1;
            }
        }
    }
    report
}

/// Settles one open order; its state afterwards.
async fn reconcile_order(
    node: &Arc<Node>,
    order: OrderRecord,
) -> Result<PaymentOrderState, ErrorBody> {
    let payments = payments(node)?;
    let window_over = now_ms() >= order.window_ends_at_ms;
    let Some(gateway_order_id) = order.gateway_order_id.clone() else {
        // The gateway's order was never recorded: nobody can have paid it.
        if window_over {
            return expire(node, &order, "the gateway order was never created").await;
        }
        return Ok(order.state);
    };
    let gateway = payments.config.gateway.clone();
    let attempts = call::with_retries(&payments.config, "order_payments", || {
        let gateway = gateway.clone();
        let id = gateway_order_id.clone();
        async move { gateway.order_payments(&id).await }
    })
    .await
    .map_err(|e| call::to_wire(&e, "reading the order's payments"))?;
    let mut state = order.state;
    let mut paid = false;
    for payment in attempts {
        if matches!(
            payment.status,
            PaymentStatus::Captured | PaymentStatus::Authorized
        ) {
            paid = true;
            state = settle::settle_payment(node, order.order_id, payment)
                .await?
                .state;
        }
    }
    if !paid && window_over && state == PaymentOrderState::AwaitingPayment {
        return expire(node, &order, "no payment before the payment window ended").await;
    }
    Ok(state)
}

async fn expire(
    node: &Node,
    order: &OrderRecord,
    reason: &str,
) -> Result<PaymentOrderState, ErrorBody> {
    let change = OrderChange {
        reason: Some(reason.to_owned()),
        ..OrderChange::to(PaymentOrderState::Expired, now_ms())
    };
    let from = [
        PaymentOrderState::Creating,
        PaymentOrderState::AwaitingPayment,
    ];
    let store = store(node)?;
    node.store_call(store.change_order(order.order_id, &from, &change))
        .await?;
    Ok(node
        .store_call(store.order(order.order_id))
        .await?
        .map_or(order.state, |o| o.state))
}
