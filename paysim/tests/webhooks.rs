//! Webhooks from the simulator to a real HTTP receiver: signed so the client's parse_webhook
//! accepts them, and the delay, duplicate, drop, reorder switches and retries observable.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use cinebook_gateway::razorpay::RazorpayGateway;
use cinebook_gateway::{GatewayError, PaymentGateway, PaymentStatus, RefundRequest, WebhookKind};
use cinebook_paysim::{SimConfig, SimHandle, SwitchesPatch, WebhookOutcome};
use common::*;

const IDLE: Duration = Duration::from_secs(10);

async fn sim_and_receiver() -> (SimHandle, RazorpayGateway, Receiver) {
    let receiver = Receiver::start().await;
    let sim = sim_with(SimConfig {
        webhook_url: Some(receiver.url.clone()),
        ..SimConfig::default()
    })
    .await;
    let client = client(&sim);
    (sim, client, receiver)
}

fn kinds(client: &RazorpayGateway, received: &[Received]) -> Vec<WebhookKind> {
    received
        .iter()
        .map(|r| {
            client
                .parse_webhook(&r.body, &r.signature, r.event_id.as_deref())
                .unwrap()
                .kind
        })
        .collect()
}

fn patch(apply: impl FnOnce(&mut SwitchesPatch)) -> SwitchesPatch {
    let mut patch = SwitchesPatch::default();
    apply(&mut patch);
    patch
}

#[tokio::test]
async fn webhooks_are_signed_and_parse_and_a_tampered_body_is_refused() {
    let (sim, client, receiver) = sim_and_receiver().await;
    let order = new_order(&client, 25_000).await;
    let paid = sim.pay(&order.id).unwrap();
    let refund = RefundRequest {
        amount_minor: 5_000,
        receipt: "rf-1".to_owned(),
        notes: Vec::new(),
    };
    client
        .refund(&paid.razorpay_payment_id, &refund)
        .await
        .unwrap();
    assert!(sim.wait_webhooks_idle(IDLE).await);

    let received = receiver.all();
    assert_eq!(
        kinds(&client, &received),
        [
            WebhookKind::PaymentAuthorized,
            WebhookKind::PaymentCaptured,
            WebhookKind::OrderPaid,
            WebhookKind::RefundProcessed
        ]
    );
    let first = &received[1];
    let event = client
        .parse_webhook(&first.body, &first.signature, first.event_id.as_deref())
        .unwrap();
    assert!(event.event_id.as_deref().unwrap().starts_with("evt_"));
    let payment = event.payment.unwrap();
    assert_eq!(payment.id, paid.razorpay_payment_id);
    assert_eq!(payment.status, PaymentStatus::Captured);
    assert_eq!(payment.order_id.as_deref(), Some(order.id.as_str()));
    let paid_event = client
        .parse_webhook(&received[2].body, &received[2].signature, None)
        .unwrap();
    assert_eq!(paid_event.order.unwrap().amount_paid_minor, 25_000);
    let refunded = client
        .parse_webhook(&received[3].body, &received[3].signature, None)
        .unwrap();
    assert_eq!(refunded.refund.unwrap().amount_minor, 5_000);

    // The body on the wire is Razorpay's shape.
    let raw: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(raw["entity"], "event");
    assert_eq!(raw["event"], "payment.captured");
    assert_eq!(raw["payload"]["payment"]["entity"]["entity"], "payment");

    // One byte changed: refused. Another secret: refused.
    let mut tampered = first.body.clone();
    let at = tampered.iter().position(|&b| b == b'5').unwrap();
    tampered[at] = b'9';
    assert_eq!(
        client.parse_webhook(&tampered, &first.signature, None),
        Err(GatewayError::BadSignature)
    );
    let mut config = config_for(&sim);
    config.webhook_secret = "other".to_owned();
    let other = RazorpayGateway::new(config).unwrap();
    assert_eq!(
        other.parse_webhook(&first.body, &first.signature, None),
        Err(GatewayError::BadSignature)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_duplicate_switch_sends_each_event_twice_with_one_id() {
    let (sim, client, receiver) = sim_and_receiver().await;
    sim.control()
        .apply(patch(|p| p.webhook_duplicate = Some(true)))
        .unwrap();
    let order = new_order(&client, 1_000).await;
    sim.decline(&order.id).unwrap();
    assert!(sim.wait_webhooks_idle(IDLE).await);
    let received = receiver.all();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].event_id, received[1].event_id);
    assert_eq!(received[0].body, received[1].body);
    assert_eq!(
        kinds(&client, &received),
        [WebhookKind::PaymentFailed, WebhookKind::PaymentFailed]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_drop_switch_loses_events_and_logs_them() {
    let (sim, client, receiver) = sim_and_receiver().await;
    sim.control()
        .apply(patch(|p| p.webhook_drop_next = Some(2)))
        .unwrap();
    let order = new_order(&client, 1_000).await;
    sim.pay(&order.id).unwrap();
    assert!(sim.wait_webhooks_idle(IDLE).await);
    assert_eq!(kinds(&client, &receiver.all()), [WebhookKind::OrderPaid]);
    let dropped: Vec<_> = sim
        .webhook_log()
        .into_iter()
        .filter(|r| r.outcome == WebhookOutcome::Dropped)
        .map(|r| r.event)
        .collect();
    assert_eq!(dropped, ["payment.authorized", "payment.captured"]);

    // Probability 1.0 drops everything.
    sim.control()
        .apply(patch(|p| p.webhook_drop_probability = Some(1.0)))
        .unwrap();
    let order = new_order(&client, 1_000).await;
    sim.pay(&order.id).unwrap();
    assert!(sim.wait_webhooks_idle(IDLE).await);
    assert_eq!(receiver.all().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn seeded_drops_repeat() {
    async fn dropped_events(seed: u64) -> Vec<String> {
        let config = SimConfig {
            seed,
            switches: cinebook_paysim::Switches {
                webhook_drop_probability: 0.5,
                ..Default::default()
            },
            ..SimConfig::default()
        };
        let sim = sim_with(config).await;
        let client = client(&sim);
        for _ in 0..10 {
            let order = new_order(&client, 1_000).await;
            sim.pay(&order.id).unwrap();
        }
        assert!(sim.wait_webhooks_idle(IDLE).await);
        let log = sim.webhook_log();
        sim.shutdown().await;
        log.into_iter()
            .map(|r| format!("{} {:?}", r.event_id, r.outcome))
            .collect()
    }
    let one = dropped_events(11).await;
    assert_eq!(one, dropped_events(11).await);
    assert_ne!(one, dropped_events(12).await);
    let drops = one.iter().filter(|r| r.ends_with("Dropped")).count();
    assert!(drops > 0 && drops < 30, "{drops} of 30");
}

#[tokio::test]
async fn the_reorder_switch_sends_newest_first() {
    let (sim, client, receiver) = sim_and_receiver().await;
    sim.control()
        .apply(patch(|p| {
            p.webhook_reorder = Some(true);
            p.webhook_reorder_window = Some(3);
        }))
        .unwrap();
    let order = new_order(&client, 1_000).await;
    sim.pay(&order.id).unwrap();
    assert!(sim.wait_webhooks_idle(IDLE).await);
    assert_eq!(
        kinds(&client, &receiver.all()),
        [
            WebhookKind::OrderPaid,
            WebhookKind::PaymentCaptured,
            WebhookKind::PaymentAuthorized
        ]
    );
    // Fewer than the window: sent (reversed) when the hold time runs out.
    let order = new_order(&client, 1_000).await;
    sim.decline(&order.id).unwrap();
    assert!(sim.wait_webhooks_idle(IDLE).await);
    assert_eq!(receiver.all().len(), 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_up_to_the_limit() {
    let (sim, client, receiver) = sim_and_receiver().await;
    receiver.answer(&[500, 503]);
    let order = new_order(&client, 1_000).await;
    sim.decline(&order.id).unwrap();
    assert!(sim.wait_webhooks_idle(IDLE).await);
    let received = receiver.all();
    assert_eq!(received.len(), 3, "two refusals, then accepted");
    assert!(received.iter().all(|r| r.event_id == received[0].event_id));
    let statuses: Vec<_> = sim.webhook_log().into_iter().map(|r| r.outcome).collect();
    assert_eq!(
        statuses,
        [
            WebhookOutcome::Answered {
                attempt: 1,
                status: 500
            },
            WebhookOutcome::Answered {
                attempt: 2,
                status: 503
            },
            WebhookOutcome::Answered {
                attempt: 3,
                status: 200
            },
        ]
    );

    // A receiver that never accepts gets webhook_attempts_max tries.
    receiver.answer(&[500; 20]);
    let order = new_order(&client, 1_000).await;
    sim.decline(&order.id).unwrap();
    assert!(sim.wait_webhooks_idle(IDLE).await);
    let max = SimConfig::default().webhook_attempts_max as usize;
    assert_eq!(receiver.all().len(), 3 + max);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_delay_switch_holds_webhooks_back() {
    let (sim, client, receiver) = sim_and_receiver().await;
    sim.control()
        .apply(patch(|p| p.webhook_delay_ms = Some(300)))
        .unwrap();
    let order = new_order(&client, 1_000).await;
    let started = Instant::now();
    sim.decline(&order.id).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(receiver.all().is_empty(), "not before the delay");
    assert!(sim.wait_webhooks_idle(IDLE).await);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(receiver.all().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_url_webhooks_are_logged_unsent_and_the_url_can_be_set_later() {
    let sim = sim().await;
    let client = client(&sim);
    let order = new_order(&client, 1_000).await;
    sim.decline(&order.id).unwrap();
    assert!(sim.wait_webhooks_idle(IDLE).await);
    assert_eq!(sim.webhook_log()[0].outcome, WebhookOutcome::NoUrl);
    let receiver = Receiver::start().await;
    sim.set_webhook_url(Some(&receiver.url)).unwrap();
    assert!(sim.set_webhook_url(Some("file:///etc/passwd")).is_err());
    sim.pay(&order.id).unwrap();
    assert!(sim.wait_webhooks_idle(IDLE).await);
    assert_eq!(receiver.all().len(), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refused_event_does_not_hold_up_the_next() {
    let receiver = Receiver::start().await;
    let sim = sim_with(SimConfig {
        webhook_url: Some(receiver.url.clone()),
        webhook_retry_backoff_ms: 500,
        ..SimConfig::default()
    })
    .await;
    let client = client(&sim);
    receiver.answer(&[500]);
    let first = new_order(&client, 1_000).await;
    let second = new_order(&client, 1_000).await;
    sim.decline(&first.id).unwrap();
    sim.decline(&second.id).unwrap();
    assert!(sim.wait_webhooks_idle(IDLE).await);
    let orders: Vec<_> = sim
        .webhook_log()
        .into_iter()
        .map(|r| (r.order_id.unwrap(), r.outcome))
        .collect();
    assert_eq!(
        orders,
        [
            (
                first.id.clone(),
                WebhookOutcome::Answered {
                    attempt: 1,
                    status: 500
                }
            ),
            (
                second.id,
                WebhookOutcome::Answered {
                    attempt: 1,
                    status: 200
                }
            ),
            (
                first.id,
                WebhookOutcome::Answered {
                    attempt: 2,
                    status: 200
                }
            ),
        ]
    );
    sim.shutdown().await;
}
