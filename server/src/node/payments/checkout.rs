//! `VerifyCheckout`: the customer's checkout result, checked by signature and against the
//! gateway's own record of the payment, then settled like any other capture.

use std::sync::Arc;

use cinebook_gateway::{CheckoutResult, GatewayPayment, PaymentStatus};
use cinebook_protocol::types::PaymentOrderInfo;
use cinebook_protocol::{ErrorBody, ErrorCode};

use super::{call, caller_order, info, payments, settle, Caller, Node};
use crate::store::payments::OrderRecord;

/// Checks the checkout result for one of the caller's orders and settles its payment.
pub async fn verify_checkout(
    node: &Arc<Node>,
    caller: &Caller,
    order_id: u64,
    payment_id: String,
    signature: String,
) -> Result<PaymentOrderInfo, ErrorBody> {
    let payments = payments(node)?;
    let order = caller_order(node, caller, order_id).await?;
    let Some(gateway_order_id) = order.gateway_order_id.clone() else {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("payment order {order_id} has no gateway order yet"),
        ));
    };
    let result = CheckoutResult {
        order_id: gateway_order_id,
        payment_id: payment_id.clone(),
        signature,
    };
    payments
        .config
        .gateway
        .verify_checkout(&result)
        .map_err(|e| {
            ErrorBody::new(
                ErrorCode::InvalidArgument,
                format!("the checkout result for order {order_id} is not genuine: {e}"),
            )
        })?;
    let gateway = payments.config.gateway.clone();
    let payment = call::with_retries(&payments.config, "fetch_payment", || {
        let gateway = gateway.clone();
        let payment_id = payment_id.clone();
        async move { gateway.fetch_payment(&payment_id).await }
    })
    .await
    .map_err(|e| call::to_wire(&e, "reading the payment at the gateway"))?;
    let settled = match payment.status {
        // Checked there: a captured payment that does not match the order is refunded.
        PaymentStatus::Captured | PaymentStatus::Authorized | PaymentStatus::Refunded => {
            settle::settle_payment(node, order.order_id, payment).await?
        }
        PaymentStatus::Created | PaymentStatus::Failed => {
            check_payment_matches(&order, &payment)?;
            settle::record_failed(node, &order, &payment).await?;
            order
        }
    };
    Ok(info(node, &settled))
}

/// A payment must be for this order, of its amount and currency.
pub(crate) fn check_payment_matches(
    order: &OrderRecord,
    payment: &GatewayPayment,
) -> Result<(), ErrorBody> {
    if payment.order_id.as_deref() != order.gateway_order_id.as_deref() {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!(
                "payment {} is for gateway order {:?}, not order {}'s",
                payment.id, payment.order_id, order.order_id
            ),
        ));
    }
    let amount_ok = i64::try_from(payment.amount_minor).is_ok_and(|a| a == order.amount_minor);
    if !amount_ok || payment.currency != order.currency {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!(
                "payment {} is {} {}; order {} is {} {}",
                payment.id,
                payment.amount_minor,
                payment.currency,
                order.order_id,
                order.amount_minor,
                order.currency
            ),
        ));
    }
    Ok(())
}
