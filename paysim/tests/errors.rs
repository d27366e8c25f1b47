//! Every failure the client can meet, produced by the simulator (or a dead port) over real
//! HTTP, and the typed error it becomes.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use cinebook_gateway::razorpay::RazorpayGateway;
use cinebook_gateway::{GatewayError, PaymentGateway, RefundRequest};
use cinebook_paysim::{Endpoint, SwitchesPatch};
use common::*;

#[tokio::test]
async fn a_wrong_secret_is_unauthorized() {
    let sim = sim().await;
    let mut config = config_for(&sim);
    config.key_secret = "not-the-secret".to_owned();
    let client = RazorpayGateway::new(config).unwrap();
    let refused = client.create_order(&order_request(500, "r")).await;
    assert_eq!(refused, Err(GatewayError::Unauthorized));
    assert!(sim.ledger().orders.is_empty());

    // Razorpay's error shape on the wire.
    let answer = reqwest::Client::new()
        .get(format!("{}/v1/orders/order_X", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let body: serde_json::Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "BAD_REQUEST_ERROR");
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_ids_and_paths_are_not_found() {
    let sim = sim().await;
    let client = client(&sim);
    let missing = client.fetch_order("order_DoesNotExist01").await;
    assert!(
        matches!(missing, Err(GatewayError::NotFound(_))),
        "{missing:?}"
    );
    let missing = client.fetch_payment("pay_DoesNotExist001").await;
    assert!(
        matches!(missing, Err(GatewayError::NotFound(_))),
        "{missing:?}"
    );
    let missing = client.payment_refunds("pay_DoesNotExist001").await;
    assert!(
        matches!(missing, Err(GatewayError::NotFound(_))),
        "{missing:?}"
    );
    // Ids that could leave the path are refused before anything is sent.
    let odd = client.fetch_order("../payments/x").await;
    assert!(matches!(odd, Err(GatewayError::NotFound(_))), "{odd:?}");

    // A base URL with a wrong prefix meets the simulator's 404.
    let mut config = config_for(&sim);
    config.base_url = format!("{}/wrong", sim.base_url());
    let lost = RazorpayGateway::new(config).unwrap();
    let answer = lost.fetch_order("order_Whatever000001").await;
    assert!(
        matches!(answer, Err(GatewayError::NotFound(_))),
        "{answer:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_bad_request_is_rejected_with_razorpays_code() {
    let sim = sim().await;
    let client = client(&sim);
    let too_small = client.create_order(&order_request(99, "r")).await;
    assert!(
        matches!(too_small, Err(GatewayError::Rejected { ref code, .. }) if code == "BAD_REQUEST_ERROR"),
        "{too_small:?}"
    );
    let long_receipt = client
        .create_order(&order_request(500, &"x".repeat(41)))
        .await;
    assert!(matches!(long_receipt, Err(GatewayError::Rejected { .. })));
    assert!(sim.ledger().orders.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_5xx_switch_answers_unavailable_and_does_nothing() {
    let sim = sim().await;
    let client = client(&sim);
    sim.control()
        .apply(SwitchesPatch {
            fail_next: Some(2),
            fail_status: Some(500),
            fail_endpoint: Some(Some(Endpoint::CreateOrder)),
            ..SwitchesPatch::default()
        })
        .unwrap();
    for _ in 0..2 {
        let failed = client.create_order(&order_request(500, "r")).await;
        assert!(
            matches!(failed, Err(GatewayError::Unavailable { status: 500, .. })),
            "{failed:?}"
        );
        assert!(failed.unwrap_err().is_retryable());
    }
    assert!(sim.ledger().orders.is_empty(), "a 5xx changed nothing");
    let order = client.create_order(&order_request(500, "r")).await.unwrap();
    assert_eq!(sim.control().switches().fail_next, 0);

    // Per endpoint: a refund fails, fetching does not.
    let payment_id = sim.pay(&order.id).unwrap().razorpay_payment_id;
    sim.control()
        .apply(SwitchesPatch {
            fail_next: Some(1),
            fail_endpoint: Some(Some(Endpoint::Refund)),
            ..SwitchesPatch::default()
        })
        .unwrap();
    client.fetch_payment(&payment_id).await.unwrap();
    let request = RefundRequest {
        amount_minor: 100,
        receipt: "rf".to_owned(),
        notes: Vec::new(),
    };
    let failed = client.refund(&payment_id, &request).await;
    assert!(
        matches!(failed, Err(GatewayError::Unavailable { status: 500, .. })),
        "{failed:?}"
    );
    assert!(sim.ledger().refunds.is_empty());
    client.refund(&payment_id, &request).await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn the_hang_switch_times_out_and_the_effect_is_found_after() {
    let sim = sim().await;
    let mut config = config_for(&sim);
    config.request_timeout_ms = 300;
    let client = RazorpayGateway::new(config).unwrap();
    sim.control()
        .apply(SwitchesPatch {
            hang_next: Some(1),
            hang_ms: Some(5_000),
            hang_endpoint: Some(Some(Endpoint::CreateOrder)),
            ..SwitchesPatch::default()
        })
        .unwrap();
    let started = Instant::now();
    let outcome = client.create_order(&order_request(700, "hung-1")).await;
    assert_eq!(outcome, Err(GatewayError::Timeout));
    assert!(!GatewayError::Timeout.is_definite());
    assert!(started.elapsed() < Duration::from_secs(3));
    // hang_after_effect (the default): the order exists although the client saw a timeout.
    let ledger = sim.ledger();
    assert_eq!(ledger.orders.len(), 1);
    assert_eq!(ledger.orders[0].receipt.as_deref(), Some("hung-1"));

    // Hanging before the effect: nothing happens.
    sim.control()
        .apply(SwitchesPatch {
            hang_next: Some(1),
            hang_after_effect: Some(false),
            ..SwitchesPatch::default()
        })
        .unwrap();
    let outcome = client.create_order(&order_request(700, "hung-2")).await;
    assert_eq!(outcome, Err(GatewayError::Timeout));
    assert_eq!(sim.ledger().orders.len(), 1);
    // Shutdown does not wait for the hung calls.
    let started = Instant::now();
    sim.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config =
        cinebook_gateway::razorpay::RazorpayConfig::new(&format!("http://{addr}"), "k", "s", "w");
    let client = RazorpayGateway::new(config).unwrap();
    let outcome = client.fetch_order("order_Anything00001").await;
    assert!(
        matches!(outcome, Err(GatewayError::Unreachable(_))),
        "{outcome:?}"
    );
    assert!(outcome.unwrap_err().is_definite());
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_malformed() {
    let sim = sim().await;
    let mut config = config_for(&sim);
    config.response_max_bytes = 64;
    let client = RazorpayGateway::new(config).unwrap();
    let outcome = client.create_order(&order_request(500, "r")).await;
    assert!(
        matches!(outcome, Err(GatewayError::Malformed(_))),
        "{outcome:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_answer_that_is_not_razorpay_json_is_malformed() {
    // A server that answers 200 with something else entirely.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "<html>not json</html>" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config =
        cinebook_gateway::razorpay::RazorpayConfig::new(&format!("http://{addr}"), "k", "s", "w");
    let client = RazorpayGateway::new(config).unwrap();
    let outcome = client.fetch_order("order_Anything00001").await;
    assert!(
        matches!(outcome, Err(GatewayError::Malformed(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_refund_hidden_by_a_timeout_is_found_by_its_receipt() {
    let sim = sim().await;
    let mut config = config_for(&sim);
    config.request_timeout_ms = 300;
    let client = RazorpayGateway::new(config).unwrap();
    let order = new_order(&client, 8_000).await;
    let payment_id = sim.pay(&order.id).unwrap().razorpay_payment_id;
    sim.control()
        .apply(SwitchesPatch {
            hang_next: Some(1),
            hang_ms: Some(5_000),
            hang_endpoint: Some(Some(Endpoint::Refund)),
            ..SwitchesPatch::default()
        })
        .unwrap();
    let request = RefundRequest {
        amount_minor: 3_000,
        receipt: "seat-refund-9".to_owned(),
        notes: Vec::new(),
    };
    assert_eq!(
        client.refund(&payment_id, &request).await,
        Err(GatewayError::Timeout)
    );
    // The node's way out: list the refunds and look for its receipt before refunding again.
    let refunds = client.payment_refunds(&payment_id).await.unwrap();
    let found: Vec<_> = refunds
        .iter()
        .filter(|r| r.receipt.as_deref() == Some("seat-refund-9"))
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].amount_minor, 3_000);
    assert_eq!(sim.ledger().refunded_minor(&order.id), 3_000);
    sim.shutdown().await;
}
