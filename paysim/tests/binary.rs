//! The `cinebook-paysim` binary: flags, the printed URL, REST and webhooks end to end.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use cinebook_gateway::razorpay::{RazorpayConfig, RazorpayGateway};
use cinebook_gateway::{PaymentGateway, WebhookKind};
use common::*;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn the_binary_serves_with_its_flags() {
    let receiver = Receiver::start().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cinebook-paysim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--webhook-url",
            &receiver.url,
            "--key-id",
            "rzp_test_bin",
            "--key-secret",
            "bin-secret",
            "--webhook-secret",
            "bin-webhook-secret",
            "--seed",
            "3",
            "--webhook-duplicate",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base_url = line
        .strip_prefix("cinebook-paysim listening on ")
        .unwrap()
        .to_owned();

    let client = RazorpayGateway::new(RazorpayConfig::new(
        &base_url,
        "rzp_test_bin",
        "bin-secret",
        "bin-webhook-secret",
    ))
    .unwrap();
    let order = client
        .create_order(&order_request(2_000, "bin-1"))
        .await
        .unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{base_url}/sim/orders/{}/decline", order.id))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    for _ in 0..200 {
        if receiver.all().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = receiver.all();
    assert_eq!(received.len(), 2, "--webhook-duplicate sends twice");
    let event = client
        .parse_webhook(
            &received[0].body,
            &received[0].signature,
            received[0].event_id.as_deref(),
        )
        .unwrap();
    assert_eq!(event.kind, WebhookKind::PaymentFailed);
    child.kill().await.unwrap();
}
