//! The Razorpay client against the simulator over real HTTP: every call of the trait.
#![allow(clippy::unwrap_used)]

mod common;

use cinebook_gateway::{
    CheckoutResult, GatewayError, OrderStatus, PaymentGateway, PaymentStatus, RefundRequest,
    RefundStatus,
};
use cinebook_paysim::CheckoutPaid;
use common::*;

fn refund_request(amount_minor: u64, receipt: &str) -> RefundRequest {
    RefundRequest {
        amount_minor,
        receipt: receipt.to_owned(),
        notes: vec![("booking".to_owned(), "B-1".to_owned())],
    }
}

#[tokio::test]
async fn an_order_is_created_fetched_paid_and_verified() {
    let sim = sim().await;
    let client = client(&sim);
    let order = client
        .create_order(&order_request(45_000, "hold-17"))
        .await
        .unwrap();
    assert!(order.id.starts_with("order_"));
    assert_eq!(order.amount_minor, 45_000);
    assert_eq!(order.receipt.as_deref(), Some("hold-17"));
    assert_eq!(order.status, OrderStatus::Created);
    assert_eq!(client.fetch_order(&order.id).await.unwrap(), order);
    assert!(client.order_payments(&order.id).await.unwrap().is_empty());

    // Pay as a script would: POST /sim/orders/{id}/pay, JSON answer.
    let answer = reqwest::Client::new()
        .post(format!("{}/sim/orders/{}/pay", sim.base_url(), order.id))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let paid: CheckoutPaid = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    let result = CheckoutResult {
        order_id: paid.razorpay_order_id.clone(),
        payment_id: paid.razorpay_payment_id.clone(),
        signature: paid.razorpay_signature.clone(),
    };
    client.verify_checkout(&result).unwrap();
    let forged = CheckoutResult {
        payment_id: "pay_SomeoneElse123".to_owned(),
        ..result.clone()
    };
    assert_eq!(
        client.verify_checkout(&forged),
        Err(GatewayError::BadSignature)
    );

    let order_now = client.fetch_order(&order.id).await.unwrap();
    assert_eq!(order_now.status, OrderStatus::Paid);
    assert_eq!(order_now.amount_paid_minor, 45_000);
    let payments = client.order_payments(&order.id).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].id, paid.razorpay_payment_id);
    assert_eq!(payments[0].status, PaymentStatus::Captured);
    assert_eq!(payments[0].method.as_deref(), Some("card"));
    let payment = client
        .fetch_payment(&paid.razorpay_payment_id)
        .await
        .unwrap();
    assert_eq!(payment, payments[0]);
    assert_eq!(payment.order_id.as_deref(), Some(order.id.as_str()));
    sim.shutdown().await;
}

#[tokio::test]
async fn manual_capture_captures_once() {
    let sim = sim().await;
    let mut config = config_for(&sim);
    config.auto_capture = false;
    let client = cinebook_gateway::razorpay::RazorpayGateway::new(config).unwrap();
    let order = new_order(&client, 30_000).await;
    let paid = sim.pay(&order.id).unwrap();
    assert_eq!(paid.status, PaymentStatus::Authorized);
    let payment_id = paid.razorpay_payment_id;
    let payment = client.fetch_payment(&payment_id).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Authorized);

    let refused = client.capture(&payment_id, 29_999, "INR").await;
    assert!(
        matches!(refused, Err(GatewayError::Rejected { ref code, .. }) if code == "BAD_REQUEST_ERROR"),
        "{refused:?}"
    );
    let captured = client.capture(&payment_id, 30_000, "INR").await.unwrap();
    assert_eq!(captured.status, PaymentStatus::Captured);
    // Capturing again answers the payment as it is, and charges nothing more.
    let again = client.capture(&payment_id, 30_000, "INR").await.unwrap();
    assert_eq!(again.status, PaymentStatus::Captured);
    let ledger = sim.ledger();
    assert_eq!(ledger.captured_minor(&order.id), 30_000);
    assert!(ledger.orders_charged_twice().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn partial_refunds_add_up_and_no_further() {
    let sim = sim().await;
    let client = client(&sim);
    let order = new_order(&client, 10_000).await;
    let payment_id = sim.pay(&order.id).unwrap().razorpay_payment_id;

    let first = client
        .refund(&payment_id, &refund_request(3_000, "rf-1"))
        .await
        .unwrap();
    assert!(first.id.starts_with("rfnd_"));
    assert_eq!(first.amount_minor, 3_000);
    assert_eq!(first.receipt.as_deref(), Some("rf-1"));
    assert_eq!(first.status, RefundStatus::Processed);
    let second = client
        .refund(&payment_id, &refund_request(7_000, "rf-2"))
        .await
        .unwrap();
    let beyond = client.refund(&payment_id, &refund_request(1, "rf-3")).await;
    assert!(
        matches!(beyond, Err(GatewayError::Rejected { ref code, .. }) if code == "BAD_REQUEST_ERROR"),
        "{beyond:?}"
    );

    let refunds = client.payment_refunds(&payment_id).await.unwrap();
    assert_eq!(refunds, vec![first, second]);
    let payment = client.fetch_payment(&payment_id).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    assert_eq!(payment.amount_refunded_minor, 10_000);
    assert_eq!(sim.ledger().refunded_minor(&order.id), 10_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refund_beyond_the_capture_is_refused_and_changes_nothing() {
    let sim = sim().await;
    let client = client(&sim);
    let order = new_order(&client, 10_000).await;
    let payment_id = sim.pay(&order.id).unwrap().razorpay_payment_id;
    let refused = client
        .refund(&payment_id, &refund_request(10_001, "too-much"))
        .await;
    assert!(
        matches!(refused, Err(GatewayError::Rejected { .. })),
        "{refused:?}"
    );
    assert!(client
        .payment_refunds(&payment_id)
        .await
        .unwrap()
        .is_empty());
    let payment = client.fetch_payment(&payment_id).await.unwrap();
    assert_eq!(payment.amount_refunded_minor, 0);
    assert_eq!(payment.status, PaymentStatus::Captured);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_declined_payment_fails_and_the_order_stays_payable() {
    let sim = sim().await;
    let client = client(&sim);
    let order = new_order(&client, 5_000).await;
    let declined = sim.decline(&order.id).unwrap();
    let failed = client
        .fetch_payment(&declined.error.metadata.payment_id)
        .await
        .unwrap();
    assert_eq!(failed.status, PaymentStatus::Failed);
    assert!(failed.error_description.is_some());
    assert_eq!(
        client.fetch_order(&order.id).await.unwrap().status,
        OrderStatus::Attempted
    );
    // Refunding a failed payment is refused.
    let refused = client
        .refund(&failed.id, &refund_request(5_000, "rf"))
        .await;
    assert!(
        matches!(refused, Err(GatewayError::Rejected { .. })),
        "{refused:?}"
    );
    sim.pay(&order.id).unwrap();
    assert_eq!(client.order_payments(&order.id).await.unwrap().len(), 2);
    assert_eq!(sim.ledger().captured_minor(&order.id), 5_000);
    sim.shutdown().await;
}
