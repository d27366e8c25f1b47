//! Figures for docs/BENCHMARKS.md (issue 14), not a test of speed: it prints what it measured
//! and asserts only that every order ended as it should. Run with
//! `cargo test -p cinebook-server --test payments_figures -- --ignored --nocapture`.
//!
//! 1. Orders per second end to end through the simulator: hold → CreatePaymentOrder → pay on
//!    the checkout → VerifyCheckout → booked (webhooks arrive too and are no-ops), from
//!    `CLIENTS` concurrent kiosks.
//! 2. The reconciler's time to settle 1,000 pending orders after a restart: 400 paid at the
//!    gateway whose checkout results and webhooks were all lost (→ booked), 600 unpaid whose
//!    window is over (→ expired).

mod payments_support;
mod support;

use std::time::{Duration, Instant};

use cinebook_gateway::{OrderRequest, PaymentGateway};
use cinebook_paysim::SwitchesPatch;
use cinebook_protocol::types::{PaymentOrderState, Role, SeatSelection};
use cinebook_protocol::{Reply, Request};
use cinebook_server::store::payments::{receipt_for, OrderRecord};
use payments_support::{create, gateway_for, order_of, verify, PayNode};
use support::{held, SHOW};

const CLIENTS: usize = 8;
const ORDERS_PER_CLIENT: usize = 40;
const PENDING: usize = 1_000;
const PAID: usize = 400;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "measurement: run with --ignored --nocapture"]
async fn payment_figures() {
    orders_per_second().await;
    reconciler_settles_1000().await;
}

async fn orders_per_second() {
    let pay = PayNode::start(600_000, 21).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mut kiosk =
            support::TestClient::connect(pay.node.addr(), Some(pay.node.token(Role::Kiosk, c % 2)))
                .await;
        let base = (c * ORDERS_PER_CLIENT) as u32;
        let seats: Vec<u32> = (base..base + ORDERS_PER_CLIENT as u32).collect();
        let sim_url = pay.sim.base_url();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for seat in seats {
                let hold = held(
                    kiosk
                        .call(Request::Hold {
                            show_id: SHOW,
                            selection: SeatSelection::Ids(vec![seat]),
                            idempotency_key: None,
                        })
                        .await,
                );
                let order = order_of(create(&mut kiosk, hold.hold_id, &format!("o{seat}")).await);
                let gateway_order = order.gateway_order_id.expect("gw");
                // The checkout's Pay button, over HTTP.
                let body = http
                    .post(format!("{sim_url}/sim/orders/{gateway_order}/pay"))
                    .send()
                    .await
                    .expect("pay")
                    .bytes()
                    .await
                    .expect("body");
                let paid: serde_json::Value = serde_json::from_slice(&body).expect("json");
                let payment_id = paid["razorpay_payment_id"].as_str().expect("id").to_owned();
                let signature = paid["razorpay_signature"].as_str().expect("sig").to_owned();
                let done =
                    order_of(verify(&mut kiosk, order.order_id, &payment_id, &signature).await);
                assert_eq!(done.state, PaymentOrderState::Booked);
            }
        }));
    }
    for task in tasks {
        task.await.expect("client");
    }
    let elapsed = started.elapsed();
    let orders = CLIENTS * ORDERS_PER_CLIENT;
    println!(
        "end to end: {orders} orders from {CLIENTS} kiosks in {:.2} s = {:.0} orders/s",
        elapsed.as_secs_f64(),
        orders as f64 / elapsed.as_secs_f64()
    );
    assert!(pay.sim.wait_webhooks_idle(Duration::from_secs(20)).await);
    assert_eq!(pay.gateway_bookings().await.len(), orders);
    pay.stop().await;
}

async fn reconciler_settles_1000() {
    let pay = PayNode::start(600_000, 22).await;
    pay.switch(SwitchesPatch {
        webhook_drop_probability: Some(1.0),
        ..Default::default()
    });
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let terminal_id = kiosk.terminal_id();
    let Ok(Reply::SeatMap(map)) = kiosk.call(Request::GetSeatMap { show_id: SHOW }).await else {
        panic!("seat map")
    };
    let price = |seat: usize| {
        let category = map.seats[seat].category;
        map.summary
            .show
            .prices
            .iter()
            .find(|p| p.category == category)
            .expect("price")
            .amount_minor
    };
    let currency = map.summary.show.currency.clone();
    let gateway = gateway_for(&pay.sim);
    let now = cinebook_server::node::now_ms();
    let base_id = now << 12;
    for i in 0..PENDING {
        let seat = i % map.seats.len();
        let amount_minor = price(seat);
        let order_id = base_id + i as u64;
        let created = gateway
            .create_order(&OrderRequest {
                amount_minor: amount_minor as u64,
                currency: currency.clone(),
                receipt: receipt_for(order_id),
                notes: vec![],
            })
            .await
            .expect("gateway order");
        let paid = i < PAID;
        let record = OrderRecord {
            order_id,
            terminal_id,
            role: Role::Kiosk,
            hold_id: order_id,
            show_id: SHOW,
            seats: vec![seat as u32],
            amount_minor,
            currency: currency.clone(),
            gateway_order_id: Some(created.id.clone()),
            idempotency_key: format!("bulk-{i}"),
            state: PaymentOrderState::AwaitingPayment,
            payment_id: None,
            booking_code: None,
            reason: None,
            window_ends_at_ms: if paid { now + 600_000 } else { now - 1 },
            created_at_ms: now,
            updated_at_ms: now,
            contact: Default::default(),
        };
        pay.store().create_order(&record).await.expect("order row");
        if paid {
            pay.sim.pay(&created.id).expect("pay");
        }
    }
    drop(kiosk);
    // A restart: the holds are rebuilt from the order rows, and the start-up pass settles all.
    let mut config_note = String::new();
    let restart = Instant::now();
    let pay = pay
        .restart_with(|config| {
            config.hold.holds_per_terminal_max = 10_000;
            config_note.push_str("holds_per_terminal_max = 10000");
        })
        .await;
    let started = restart.elapsed();
    let t0 = Instant::now();
    loop {
        let open = pay.store().open_orders().await.expect("open");
        if open.is_empty() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "{} still open",
            open.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let settled = t0.elapsed();
    let orders = pay.store().all_orders().await.expect("orders");
    let booked = orders
        .iter()
        .filter(|o| o.state == PaymentOrderState::Booked)
        .count();
    let expired = orders
        .iter()
        .filter(|o| o.state == PaymentOrderState::Expired)
        .count();
    println!(
        "reconciler: {PENDING} pending orders ({PAID} paid, {} unpaid past their window) settled \
         in {:.2} s after a restart that took {:.2} s ({config_note}): {booked} booked, \
         {expired} expired",
        PENDING - PAID,
        settled.as_secs_f64(),
        started.as_secs_f64()
    );
    assert_eq!((booked, expired), (PAID, PENDING - PAID));
    pay.stop().await;
}
