//! Online payments end to end (issue 14): a node over real MariaDB, the gateway simulator over
//! real HTTP on 127.0.0.1 (REST calls and webhooks), clients over the binary protocol.

mod payments_support;
mod support;

use std::time::Duration;

use cinebook_paysim::{Endpoint, SwitchesPatch};
use cinebook_protocol::types::{PaymentMethod, PaymentOrderState, Role};
use cinebook_protocol::{ErrorCode, Request};
use cinebook_server::node::payments::reconciler::reconcile_once;
use payments_support::{booked_state, create, order_of, settled, verify, PayNode};
use support::{booked, error_of, held, SHOW};

const WINDOW_MS: u64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_books_once_whether_the_checkout_result_or_the_webhook_comes_first() {
    let pay = PayNode::start(WINDOW_MS, 1).await;
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    // 1. The checkout result first; the webhook after it is a no-op.
    pay.switch(SwitchesPatch {
        webhook_delay_ms: Some(300),
        ..Default::default()
    });
    let hold = held(kiosk.hold_seats(SHOW, &["C1", "C2"]).await);
    let order = order_of(create(&mut kiosk, hold.hold_id, "pay-a").await);
    assert_eq!(order.state, PaymentOrderState::AwaitingPayment);
    assert_eq!(order.amount, hold.total);
    assert!(order.checkout_url.is_some());
    // A retried create answers the same order.
    let again = order_of(create(&mut kiosk, hold.hold_id, "pay-a").await);
    assert_eq!(again.order_id, order.order_id);
    assert_eq!(again.gateway_order_id, order.gateway_order_id);
    // The hold waits for the payment: no ordinary confirm (a release would end the order
    // unpaid: cinebook-web's tests, `a_checkout_left_is_released_but_a_paid_one_is_not`).
    assert_eq!(
        error_of(kiosk.confirm(&hold, PaymentMethod::Card, "card-a").await).code,
        ErrorCode::Conflict
    );
    let gateway_order = order.gateway_order_id.clone().expect("gateway order");
    let paid = pay.sim.pay(&gateway_order).expect("pay");
    let done = order_of(
        verify(
            &mut kiosk,
            order.order_id,
            &paid.razorpay_payment_id,
            &paid.razorpay_signature,
        )
        .await,
    );
    assert_eq!(done.state, PaymentOrderState::Booked);
    let code = done.booking_code.clone().expect("booking");
    let booking = booked(kiosk.call(Request::GetBooking { code: code.clone() }).await);
    assert_eq!(booking.payment.method, PaymentMethod::Gateway);
    assert_eq!(
        booking.payment.reference.as_deref(),
        Some(paid.razorpay_payment_id.as_str())
    );
    assert!(pay.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    // 2. The webhook first; the checkout result after it answers the same booking.
    pay.switch(SwitchesPatch {
        webhook_delay_ms: Some(0),
        ..Default::default()
    });
    let hold2 = held(kiosk.hold_seats(SHOW, &["C3"]).await);
    let order2 = order_of(create(&mut kiosk, hold2.hold_id, "pay-b").await);
    let paid2 = pay
        .sim
        .pay(order2.gateway_order_id.as_deref().expect("gw"))
        .expect("pay");
    let by_webhook = pay.wait_order(order2.order_id, settled).await;
    assert_eq!(by_webhook.state, PaymentOrderState::Booked);
    let late = order_of(
        verify(
            &mut kiosk,
            order2.order_id,
            &paid2.razorpay_payment_id,
            &paid2.razorpay_signature,
        )
        .await,
    );
    assert_eq!(late.booking_code, by_webhook.booking_code);
    assert!(pay.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    // Exactly two gateway bookings, each with its payment; nothing refunded or charged twice.
    let bookings = pay.gateway_bookings().await;
    assert_eq!(bookings.len(), 2, "{bookings:?}");
    let ledger = pay.sim.ledger();
    assert!(ledger.refunds.is_empty(), "{:?}", ledger.refunds);
    assert!(ledger.orders_charged_twice().is_empty());
    pay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_keeps_the_hold_until_the_window_ends_then_releases_it() {
    let pay = PayNode::start(1_500, 2).await;
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["D1", "D2"]).await);
    let order = order_of(create(&mut kiosk, hold.hold_id, "pay-d").await);
    pay.sim
        .decline(order.gateway_order_id.as_deref().expect("gw"))
        .expect("decline");
    assert!(pay.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let status = order_of(
        kiosk
            .call(Request::PaymentStatus {
                order_id: order.order_id,
            })
            .await,
    );
    assert_eq!(status.state, PaymentOrderState::AwaitingPayment);
    // Still pinned: another terminal cannot take the seats.
    let mut other = pay.client(Role::Kiosk, 1).await;
    assert!(other.hold_seats(SHOW, &["D1"]).await.is_err());
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    let report = reconcile_once(&pay.node.server.node).await;
    assert_eq!(report.expired, 1, "{report:?}");
    let order = pay.wait_order(order.order_id, settled).await;
    assert_eq!(order.state, PaymentOrderState::Expired);
    // The window is over: the seats are free again.
    assert!(other.hold_seats(SHOW, &["D1", "D2"]).await.is_ok());
    assert!(pay.gateway_bookings().await.is_empty());
    pay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_webhooks_book_each_order_once() {
    let pay = PayNode::start(WINDOW_MS, 3).await;
    pay.switch(SwitchesPatch {
        webhook_duplicate: Some(true),
        webhook_reorder: Some(true),
        webhook_reorder_window: Some(4),
        ..Default::default()
    });
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let mut orders = Vec::new();
    for (i, seat) in ["E1", "E2", "E3"].iter().enumerate() {
        let hold = held(kiosk.hold_seats(SHOW, &[seat]).await);
        let order = order_of(create(&mut kiosk, hold.hold_id, &format!("dup-{i}")).await);
        pay.sim
            .pay(order.gateway_order_id.as_deref().expect("gw"))
            .expect("pay");
        orders.push(order.order_id);
    }
    assert!(pay.sim.wait_webhooks_idle(Duration::from_secs(8)).await);
    for order_id in orders {
        let order = pay.wait_order(order_id, settled).await;
        assert_eq!(order.state, PaymentOrderState::Booked);
    }
    assert_eq!(pay.gateway_bookings().await.len(), 3);
    assert!(pay.sim.ledger().refunds.is_empty());
    pay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_capture_after_the_seats_were_resold_is_refunded_exactly_once() {
    let pay = PayNode::start(1_000, 4).await;
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["F1", "F2"]).await);
    let order = order_of(create(&mut kiosk, hold.hold_id, "late").await);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    // Window over: the seats go to someone else.
    let mut other = pay.client(Role::BoxOffice, 0).await;
    let resold = held(other.hold_seats(SHOW, &["F1", "F2"]).await);
    booked(other.confirm(&resold, PaymentMethod::Cash, "resold").await);
    // A refund timing out once (after it took effect) and a 5xx must not refund twice.
    pay.switch(SwitchesPatch {
        hang_next: Some(1),
        hang_ms: Some(3_000),
        hang_endpoint: Some(Some(Endpoint::Refund)),
        hang_after_effect: Some(true),
        ..Default::default()
    });
    let gateway_order = order.gateway_order_id.clone().expect("gw");
    let paid = pay.sim.pay(&gateway_order).expect("pay");
    let answer = order_of(
        verify(
            &mut kiosk,
            order.order_id,
            &paid.razorpay_payment_id,
            &paid.razorpay_signature,
        )
        .await,
    );
    assert_eq!(answer.state, PaymentOrderState::Refunded, "{answer:?}");
    assert!(answer.reason.is_some(), "the customer is told why");
    assert!(pay.sim.wait_webhooks_idle(Duration::from_secs(8)).await);
    // Again through the reconciler and a second checkout result: still one refund.
    reconcile_once(&pay.node.server.node).await;
    let again = order_of(
        verify(
            &mut kiosk,
            order.order_id,
            &paid.razorpay_payment_id,
            &paid.razorpay_signature,
        )
        .await,
    );
    assert_eq!(again.state, PaymentOrderState::Refunded);
    let ledger = pay.sim.ledger();
    let refunds: Vec<_> = ledger
        .refunds
        .iter()
        .filter(|r| r.payment_id == paid.razorpay_payment_id)
        .collect();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0].amount_minor, hold.total.amount_minor as u64);
    let ours = pay.store().all_refunds().await.expect("refunds");
    assert_eq!(ours.len(), 1);
    assert_eq!(
        ours[0].gateway_refund_id.as_deref(),
        Some(refunds[0].id.as_str())
    );
    assert!(pay.gateway_bookings().await.is_empty());
    pay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_creation_survives_5xx_and_timeouts_without_charging_twice() {
    let pay = PayNode::start(WINDOW_MS, 5).await;
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    // Two 5xx, then it works: the retries are inside one request.
    pay.switch(SwitchesPatch {
        fail_next: Some(2),
        fail_status: Some(503),
        fail_endpoint: Some(Some(Endpoint::CreateOrder)),
        ..Default::default()
    });
    let hold = held(kiosk.hold_seats(SHOW, &["G1"]).await);
    let order = order_of(create(&mut kiosk, hold.hold_id, "c-5xx").await);
    assert_eq!(order.state, PaymentOrderState::AwaitingPayment);
    // More 5xx than attempts: a typed error, the order kept; a retry with the key goes on.
    pay.switch(SwitchesPatch {
        fail_next: Some(10),
        ..Default::default()
    });
    let hold2 = held(kiosk.hold_seats(SHOW, &["G2"]).await);
    let refused = error_of(create(&mut kiosk, hold2.hold_id, "c-down").await);
    assert_eq!(refused.code, ErrorCode::Unavailable, "{refused:?}");
    pay.switch(SwitchesPatch {
        fail_next: Some(0),
        hang_next: Some(1),
        hang_ms: Some(3_000),
        hang_endpoint: Some(Some(Endpoint::CreateOrder)),
        hang_after_effect: Some(true),
        ..Default::default()
    });
    // A timeout that created an order at the gateway: retried under the same receipt.
    let order2 = order_of(create(&mut kiosk, hold2.hold_id, "c-down").await);
    assert_eq!(order2.state, PaymentOrderState::AwaitingPayment);
    let paid = pay
        .sim
        .pay(order2.gateway_order_id.as_deref().expect("gw"))
        .expect("pay");
    let done = order_of(
        verify(
            &mut kiosk,
            order2.order_id,
            &paid.razorpay_payment_id,
            &paid.razorpay_signature,
        )
        .await,
    );
    assert_eq!(done.state, PaymentOrderState::Booked);
    let ledger = pay.sim.ledger();
    let receipt = format!("cb-order-{}", order2.order_id);
    let same_receipt: Vec<_> = ledger
        .orders
        .iter()
        .filter(|o| o.receipt.as_deref() == Some(receipt.as_str()))
        .collect();
    assert!(!same_receipt.is_empty() && same_receipt.len() <= 2);
    let captured: u64 = same_receipt
        .iter()
        .map(|o| ledger.captured_minor(&o.id))
        .sum();
    assert_eq!(captured, hold2.total.amount_minor as u64, "charged once");
    assert!(ledger.orders_charged_twice().is_empty());
    pay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_box_office_refund_of_a_gateway_booking_refunds_through_the_gateway_once() {
    let pay = PayNode::start(WINDOW_MS, 6).await;
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["H1", "H2"]).await);
    let order = order_of(create(&mut kiosk, hold.hold_id, "bo").await);
    let paid = pay
        .sim
        .pay(order.gateway_order_id.as_deref().expect("gw"))
        .expect("pay");
    let done = order_of(
        verify(
            &mut kiosk,
            order.order_id,
            &paid.razorpay_payment_id,
            &paid.razorpay_signature,
        )
        .await,
    );
    let code = done.booking_code.expect("booked");
    // The refund's first answer is lost: the retry finds it by its receipt.
    pay.switch(SwitchesPatch {
        hang_next: Some(1),
        hang_ms: Some(3_000),
        hang_endpoint: Some(Some(Endpoint::Refund)),
        hang_after_effect: Some(true),
        ..Default::default()
    });
    let mut office = pay.client(Role::BoxOffice, 0).await;
    let cancelled = booked(
        office
            .call(Request::Cancel {
                code: code.clone(),
                refund: true,
                reason: "customer asked".into(),
            })
            .await,
    );
    assert_eq!(
        cancelled.status,
        cinebook_protocol::types::BookingStatus::Refunded
    );
    let ledger = pay.sim.ledger();
    assert_eq!(ledger.refunds.len(), 1, "{:?}", ledger.refunds);
    let ours = pay.store().all_refunds().await.expect("refunds");
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].booking_code.as_deref(), Some(code.as_str()));
    // refund.processed (a webhook) updates our record.
    assert!(pay.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let ours = pay.store().all_refunds().await.expect("refunds");
    assert_eq!(ours[0].state, "processed", "{ours:?}");
    // The shift reports show the gateway as its own method: the kiosk's sale, the box
    // office's refund.
    let mut admin = pay.client(Role::Admin, 0).await;
    let gateway_line = |report: cinebook_protocol::types::ShiftReport| {
        report
            .lines
            .into_iter()
            .find(|l| l.method == PaymentMethod::Gateway)
            .expect("a gateway line")
    };
    for (terminal, sales, refunds) in [(kiosk.terminal_id(), 1, 0), (office.terminal_id(), 0, 1)] {
        let Ok(cinebook_protocol::Reply::ShiftReport(report)) = admin
            .call(Request::ShiftReport {
                terminal_id: Some(terminal),
                from_ms: 0,
                to_ms: u64::MAX / 2,
            })
            .await
        else {
            panic!("shift report")
        };
        let line = gateway_line(report);
        assert_eq!((line.sales, line.refunds), (sales, refunds), "{line:?}");
    }
    pay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_dies_between_capture_and_commit_is_booked_by_the_reconciler() {
    let pay = PayNode::start(WINDOW_MS, 7).await;
    // No webhooks: only the checkout result (which dies) and then the reconciler know.
    pay.switch(SwitchesPatch {
        webhook_drop_probability: Some(1.0),
        ..Default::default()
    });
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["J1", "J2"]).await);
    let order = order_of(create(&mut kiosk, hold.hold_id, "crash").await);
    let paid = pay
        .sim
        .pay(order.gateway_order_id.as_deref().expect("gw"))
        .expect("pay");
    let node = pay.node.server.node.clone();
    node.faults.arm(
        cinebook_server::node::faults::FaultPoint::PaymentCaptured,
        1,
    );
    let caller = cinebook_server::node::handlers::Caller {
        role: Role::Kiosk,
        terminal_id: kiosk.terminal_id(),
        peer_node_id: None,
    };
    let died = tokio::spawn(async move {
        cinebook_server::node::payments::verify_checkout(
            &node,
            &caller,
            order.order_id,
            paid.razorpay_payment_id.clone(),
            paid.razorpay_signature.clone(),
        )
        .await
    })
    .await;
    assert!(died.is_err(), "the injected crash did not happen");
    let captured = pay
        .store()
        .order(order.order_id)
        .await
        .expect("store")
        .expect("order");
    assert_eq!(captured.state, PaymentOrderState::Captured);
    drop(kiosk);
    // The node goes away with the money taken and no booking; the next one books it.
    let pay = pay.restart().await;
    let booked_order = pay.wait_order(order.order_id, booked_state).await;
    let bookings = pay.gateway_bookings().await;
    assert_eq!(bookings.len(), 1);
    assert_eq!(Some(bookings[0].0.clone()), booked_order.booking_code);
    assert!(pay.sim.ledger().refunds.is_empty());
    pay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_replayed_webhooks_are_refused_and_change_nothing() {
    let pay = PayNode::start(WINDOW_MS, 8).await;
    pay.switch(SwitchesPatch {
        webhook_drop_probability: Some(1.0),
        ..Default::default()
    });
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["K1"]).await);
    let order = order_of(create(&mut kiosk, hold.hold_id, "forge").await);
    let gateway_order = order.gateway_order_id.clone().expect("gw");
    let amount = hold.total.amount_minor as u64;
    let secret = cinebook_paysim::WEBHOOK_SECRET_DEFAULT.as_bytes();
    let http = reqwest::Client::new();
    let post = |body: String, signature: String| {
        let request = http
            .post(&pay.webhook_url)
            .header("X-Razorpay-Signature", signature)
            .body(body);
        async move { request.send().await.expect("post").status().as_u16() }
    };
    let captured = |order_id: &str, amount: u64, currency: &str| {
        format!(
            r#"{{"entity":"event","event":"payment.captured","contains":["payment"],"payload":{{"payment":{{"entity":{{"id":"pay_forged1","entity":"payment","amount":{amount},"currency":"{currency}","status":"captured","order_id":"{order_id}","captured":true,"created_at":1}}}}}},"created_at":1}}"#
        )
    };
    let sign = |body: &str| cinebook_gateway::signature::webhook(secret, body.as_bytes());
    // Bad signature.
    let currency = hold.total.currency.clone();
    let body = captured(&gateway_order, amount, &currency);
    assert_eq!(post(body.clone(), "00".repeat(32)).await, 401);
    // An order we never created.
    let unknown = captured("order_never", amount, &currency);
    assert_eq!(post(unknown.clone(), sign(&unknown)).await, 404);
    // Amount or currency not the order's.
    let cheap = captured(&gateway_order, amount - 1, &currency);
    assert_eq!(post(cheap.clone(), sign(&cheap)).await, 422);
    let other_currency = captured(&gateway_order, amount, "USD");
    assert_eq!(
        post(other_currency.clone(), sign(&other_currency)).await,
        422
    );
    // Too large a body.
    assert_eq!(post("x".repeat(70 * 1024), "00".into()).await, 413);
    let order_now = pay
        .store()
        .order(order.order_id)
        .await
        .expect("store")
        .expect("order");
    assert_eq!(order_now.state, PaymentOrderState::AwaitingPayment);
    // A correctly signed capture the gateway never made: the node reads the payment from the
    // gateway before selling, and the gateway knows no such payment.
    assert_eq!(post(body.clone(), sign(&body)).await, 404);
    let order_now = pay
        .store()
        .order(order.order_id)
        .await
        .expect("store")
        .expect("order");
    assert_eq!(order_now.state, PaymentOrderState::AwaitingPayment);
    // Now a real payment; then replays of its failure for the settled order are refused.
    let paid = pay.sim.pay(&gateway_order).expect("pay");
    let done = order_of(
        verify(
            &mut kiosk,
            order.order_id,
            &paid.razorpay_payment_id,
            &paid.razorpay_signature,
        )
        .await,
    );
    assert_eq!(done.state, PaymentOrderState::Booked);
    let failed = format!(
        r#"{{"entity":"event","event":"payment.failed","contains":["payment"],"payload":{{"payment":{{"entity":{{"id":"{}","entity":"payment","amount":{amount},"currency":"{currency}","status":"failed","order_id":"{gateway_order}","captured":false,"created_at":1}}}}}},"created_at":1}}"#,
        paid.razorpay_payment_id
    );
    assert_eq!(post(failed.clone(), sign(&failed)).await, 409);
    // A checkout result with a forged signature, or for someone else's order.
    let forged =
        error_of(verify(&mut kiosk, order.order_id, &paid.razorpay_payment_id, "ab").await);
    assert_eq!(forged.code, ErrorCode::InvalidArgument);
    let mut stranger = pay.client(Role::Kiosk, 1).await;
    let theirs = error_of(
        verify(
            &mut stranger,
            order.order_id,
            &paid.razorpay_payment_id,
            &paid.razorpay_signature,
        )
        .await,
    );
    assert_eq!(theirs.code, ErrorCode::Forbidden);
    // A guest can do none of it.
    let mut guest = support::TestClient::connect(pay.node.addr(), None).await;
    let guest_try = error_of(create(&mut guest, hold.hold_id, "g").await);
    assert_eq!(guest_try.code, ErrorCode::Unauthenticated);
    assert_eq!(pay.gateway_bookings().await.len(), 1);
    assert!(pay.sim.ledger().refunds.is_empty());
    pay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_whose_answer_and_lookups_were_lost_is_found_by_the_reconciler_not_repeated() {
    let pay = PayNode::start(1_000, 9).await;
    pay.switch(SwitchesPatch {
        webhook_drop_probability: Some(1.0),
        ..Default::default()
    });
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["L1"]).await);
    let order = order_of(create(&mut kiosk, hold.hold_id, "lost-refund").await);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    // The refund happens at the gateway but its answer is lost, and so is every lookup.
    pay.switch(SwitchesPatch {
        hang_next: Some(1),
        hang_ms: Some(3_000),
        hang_endpoint: Some(Some(Endpoint::Refund)),
        hang_after_effect: Some(true),
        fail_next: Some(100),
        fail_status: Some(503),
        fail_endpoint: Some(Some(Endpoint::PaymentRefunds)),
        ..Default::default()
    });
    let paid = pay
        .sim
        .pay(order.gateway_order_id.as_deref().expect("gw"))
        .expect("pay");
    let answer = verify(
        &mut kiosk,
        order.order_id,
        &paid.razorpay_payment_id,
        &paid.razorpay_signature,
    )
    .await;
    assert_eq!(error_of(answer).code, ErrorCode::Unavailable);
    let pending = pay
        .store()
        .order(order.order_id)
        .await
        .expect("store")
        .expect("order");
    assert_eq!(pending.state, PaymentOrderState::RefundPending);
    // The gateway is back; the reconciler finds the refund by its receipt.
    pay.switch(SwitchesPatch {
        fail_next: Some(0),
        ..Default::default()
    });
    reconcile_once(&pay.node.server.node).await;
    let done = pay
        .store()
        .order(order.order_id)
        .await
        .expect("store")
        .expect("order");
    assert_eq!(done.state, PaymentOrderState::Refunded, "{done:?}");
    let ledger = pay.sim.ledger();
    assert_eq!(ledger.refunds.len(), 1, "{:?}", ledger.refunds);
    let ours = pay.store().all_refunds().await.expect("refunds");
    assert_eq!(
        ours[0].gateway_refund_id.as_deref(),
        Some(ledger.refunds[0].id.as_str())
    );
    pay.stop().await;
}
