//! A captured payment whose amount does not match its order (issue 14): refunded in full, once,
//! and never sold. Real MariaDB, the simulator over real HTTP.

mod payments_support;
mod support;

use std::time::Duration;

use cinebook_protocol::types::Role;
use cinebook_protocol::ErrorCode;
use cinebook_server::node::payments::reconciler::reconcile_once;
use mysql_async::prelude::Queryable;
use payments_support::{create, order_of, verify, PayNode};
use support::{error_of, held, SHOW};

const WINDOW_MS: u64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_payment_that_does_not_match_its_order_is_refunded_once() {
    let pay = PayNode::start(WINDOW_MS, 41).await;
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["J1"]).await);
    let order = order_of(create(&mut kiosk, hold.hold_id, "mismatch").await);
    // Our record of the order now says more than the gateway's order charges.
    let mut conn = pay.node.mysql().await;
    conn.exec_drop(
        "UPDATE payment_orders SET amount_minor = amount_minor + 100 WHERE order_id = ?",
        (order.order_id,),
    )
    .await
    .expect("update");
    drop(conn);
    let gateway_order = order.gateway_order_id.clone().expect("gateway order");
    let paid = pay.sim.pay(&gateway_order).expect("pay");
    let answer = verify(
        &mut kiosk,
        order.order_id,
        &paid.razorpay_payment_id,
        &paid.razorpay_signature,
    )
    .await;
    assert_eq!(error_of(answer).code, ErrorCode::InvalidArgument);
    let ledger = pay.sim.ledger();
    assert_eq!(ledger.refunds.len(), 1, "{:?}", ledger.refunds);
    assert_eq!(
        ledger.refunded_minor(&gateway_order),
        ledger.captured_minor(&gateway_order)
    );
    // Every later path finds the refund: the checkout result again, the webhooks, the
    // reconciler.
    let again = verify(
        &mut kiosk,
        order.order_id,
        &paid.razorpay_payment_id,
        &paid.razorpay_signature,
    )
    .await;
    assert_eq!(error_of(again).code, ErrorCode::InvalidArgument);
    reconcile_once(&pay.node.server.node).await;
    assert!(pay.sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    let ledger = pay.sim.ledger();
    assert_eq!(ledger.refunds.len(), 1, "{:?}", ledger.refunds);
    let ours = pay.store().all_refunds().await.expect("refunds");
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(
        ours[0].receipt,
        format!("cb-extra-{}", paid.razorpay_payment_id)
    );
    assert_eq!(
        ours[0].gateway_refund_id.as_deref(),
        Some(ledger.refunds[0].id.as_str())
    );
    assert!(pay.gateway_bookings().await.is_empty(), "sold anyway");
    pay.stop().await;
}
