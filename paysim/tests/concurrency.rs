//! Many callers at once: an order is charged once, refunds never exceed the capture.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use cinebook_gateway::{GatewayError, PaymentGateway, RefundRequest};
use common::*;

#[tokio::test]
async fn concurrent_pays_charge_an_order_once() {
    let sim = sim().await;
    let client = client(&sim);
    let order = new_order(&client, 9_900).await;
    let http = reqwest::Client::new();
    let url = format!("{}/sim/orders/{}/pay", sim.base_url(), order.id);
    let answers = futures::future::join_all((0..32).map(|_| http.post(&url).send())).await;
    let statuses: Vec<u16> = answers
        .into_iter()
        .map(|a| a.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == 400).count(), 31);
    let ledger = sim.ledger();
    assert_eq!(ledger.captured_minor(&order.id), 9_900);
    assert!(ledger.orders_charged_twice().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_the_capture() {
    let sim = sim().await;
    let client = Arc::new(client(&sim));
    let order = new_order(&client, 10_000).await;
    let payment_id = sim.pay(&order.id).unwrap().razorpay_payment_id;
    let refunds = (0..25).map(|n| {
        let client = Arc::clone(&client);
        let payment_id = payment_id.clone();
        async move {
            let request = RefundRequest {
                amount_minor: 700,
                receipt: format!("rf-{n}"),
                notes: Vec::new(),
            };
            client.refund(&payment_id, &request).await
        }
    });
    let outcomes = futures::future::join_all(refunds).await;
    let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(accepted, 14, "14 × 700 ≤ 10,000 < 15 × 700");
    assert!(outcomes
        .iter()
        .filter_map(|o| o.as_ref().err())
        .all(|e| matches!(e, GatewayError::Rejected { .. })));
    assert_eq!(sim.ledger().refunded_minor(&order.id), 9_800);
    assert_eq!(client.payment_refunds(&payment_id).await.unwrap().len(), 14);
    sim.shutdown().await;
}
