//! Partial refunds (`RefundSeats`, issue 14) end to end: a node over real MariaDB, the gateway
//! simulator over real HTTP on 127.0.0.1, clients over the binary protocol.

mod payments_support;
mod support;

use std::time::Duration;

use cinebook_paysim::{Endpoint, SwitchesPatch};
use cinebook_protocol::types::{
    Booking, BookingStatus, MethodTotals, PaymentMethod, Role, SeatState, SeatsRefund,
};
use cinebook_protocol::{ErrorBody, ErrorCode, Reply, Request};
use payments_support::{create, order_of, verify, PayNode};
use support::{booked, error_of, held, TestClient, SHOW};

const WINDOW_MS: u64 = 60_000;

async fn refund_seats(
    client: &mut TestClient,
    code: &str,
    seats: Vec<u32>,
) -> Result<Reply, ErrorBody> {
    client
        .call(Request::RefundSeats {
            code: code.to_owned(),
            seats,
            reason: "partial".into(),
        })
        .await
}

fn refunded(reply: Result<Reply, ErrorBody>) -> SeatsRefund {
    match reply {
        Ok(Reply::SeatsRefunded(r)) => r,
        other => panic!("expected SeatsRefunded, got {other:?}"),
    }
}

async fn get(client: &mut TestClient, code: &str) -> Booking {
    booked(
        client
            .call(Request::GetBooking {
                code: code.to_owned(),
            })
            .await,
    )
}

async fn line(admin: &mut TestClient, terminal_id: u64, method: PaymentMethod) -> MethodTotals {
    let Ok(Reply::ShiftReport(report)) = admin
        .call(Request::ShiftReport {
            terminal_id: Some(terminal_id),
            from_ms: 0,
            to_ms: u64::MAX / 2,
        })
        .await
    else {
        panic!("shift report")
    };
    report
        .lines
        .into_iter()
        .find(|l| l.method == method)
        .unwrap_or_else(|| panic!("no {method:?} line"))
}

fn seat_ids(booking: &Booking) -> Vec<u32> {
    booking.seats.iter().map(|s| s.seat_id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_refund_of_a_cash_booking_frees_its_seats_and_is_counted_once() {
    let pay = PayNode::start(WINDOW_MS, 21).await;
    let mut office = pay.client(Role::BoxOffice, 0).await;
    let hold = held(office.hold_seats(SHOW, &["D1", "D2", "D3"]).await);
    let sold = booked(office.confirm(&hold, PaymentMethod::Cash, "cash-p").await);
    let seats = seat_ids(&sold);
    let price = sold.seats[0].price_minor;
    // A kiosk (or a guest) may not refund.
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let refused = refund_seats(&mut kiosk, &sold.code, vec![seats[0]]).await;
    assert_eq!(error_of(refused).code, ErrorCode::Forbidden);
    let done = refunded(refund_seats(&mut office, &sold.code, vec![seats[0]]).await);
    assert_eq!(done.seats, vec![seats[0]]);
    assert_eq!(done.amount.amount_minor, price);
    assert_eq!(done.method, PaymentMethod::Cash);
    assert_eq!(done.gateway_refund_id, None);
    assert_eq!(done.booking.status, BookingStatus::Confirmed);
    assert_eq!(seat_ids(&done.booking), seats[1..].to_vec());
    assert_eq!(
        done.booking.total.amount_minor,
        sold.total.amount_minor - price
    );
    let map = office.seat_map(SHOW).await;
    assert_eq!(map.states[seats[0] as usize], SeatState::Free);
    assert_eq!(map.states[seats[1] as usize], SeatState::Sold);
    // The same seat again, an unknown seat, every remaining seat, a repeated seat: typed
    // errors, nothing changed.
    let again = refund_seats(&mut office, &sold.code, vec![seats[0]]).await;
    assert_eq!(error_of(again).code, ErrorCode::Conflict);
    let all = refund_seats(&mut office, &sold.code, seats[1..].to_vec()).await;
    assert_eq!(error_of(all).code, ErrorCode::InvalidArgument);
    let twice = refund_seats(&mut office, &sold.code, vec![seats[1], seats[1]]).await;
    assert_eq!(error_of(twice).code, ErrorCode::InvalidArgument);
    let none = refund_seats(&mut office, &sold.code, vec![]).await;
    assert_eq!(error_of(none).code, ErrorCode::InvalidArgument);
    assert_eq!(get(&mut office, &sold.code).await, done.booking);
    let mut admin = pay.client(Role::Admin, 0).await;
    let cash = line(&mut admin, office.terminal_id(), PaymentMethod::Cash).await;
    assert_eq!((cash.sales, cash.seats), (1, 3), "{cash:?}");
    assert_eq!((cash.refunds, cash.refunds_minor), (1, price), "{cash:?}");
    // Durable: a restarted node knows the booking with its two seats, and the freed seat
    // sells again.
    drop((office, kiosk, admin));
    let pay = pay.restart().await;
    let mut office = pay.client(Role::BoxOffice, 0).await;
    let after = get(&mut office, &sold.code).await;
    assert_eq!(after, done.booking);
    let resold = held(office.hold_seats(SHOW, &["D1"]).await);
    booked(office.confirm(&resold, PaymentMethod::Cash, "cash-q").await);
    // A full refund afterwards returns what is left, so the day's refunds add up to the sale.
    let cancelled = booked(
        office
            .call(Request::Cancel {
                code: sold.code.clone(),
                refund: true,
                reason: "all of it".into(),
            })
            .await,
    );
    assert_eq!(cancelled.status, BookingStatus::Refunded);
    let mut admin = pay.client(Role::Admin, 0).await;
    let cash = line(&mut admin, office.terminal_id(), PaymentMethod::Cash).await;
    assert_eq!(
        (cash.refunds, cash.refunds_minor),
        (2, sold.total.amount_minor),
        "{cash:?}"
    );
    pay.stop().await;
}

/// Buys `labels` through the gateway; returns the booking and the gateway's order id.
async fn gateway_booking(pay: &PayNode, labels: &[&str], key: &str) -> (Booking, String) {
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, labels).await);
    let order = order_of(create(&mut kiosk, hold.hold_id, key).await);
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
    let code = done.booking_code.expect("booked");
    (get(&mut kiosk, &code).await, gateway_order)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_refunds_of_a_gateway_booking_go_through_the_gateway_once_each() {
    let pay = PayNode::start(WINDOW_MS, 22).await;
    let (sold, gateway_order) = gateway_booking(&pay, &["E1", "E2", "E3"], "gw-p").await;
    let seats = seat_ids(&sold);
    let mut office = pay.client(Role::BoxOffice, 0).await;
    // The first partial refund's answer is lost once: the node looks it up, does not repeat.
    pay.switch(SwitchesPatch {
        hang_next: Some(1),
        hang_ms: Some(3_000),
        hang_endpoint: Some(Some(Endpoint::Refund)),
        hang_after_effect: Some(true),
        ..Default::default()
    });
    let first = refunded(refund_seats(&mut office, &sold.code, vec![seats[0]]).await);
    let price0 = sold.seats[0].price_minor;
    assert_eq!(first.method, PaymentMethod::Gateway);
    assert_eq!(first.amount.amount_minor, price0);
    let ledger = pay.sim.ledger();
    assert_eq!(ledger.refunds.len(), 1, "{:?}", ledger.refunds);
    assert_eq!(ledger.refunds[0].amount_minor, price0 as u64);
    assert_eq!(
        first.gateway_refund_id.as_deref(),
        Some(ledger.refunds[0].id.as_str())
    );
    // A second partial refund of another seat.
    let second = refunded(refund_seats(&mut office, &sold.code, vec![seats[1]]).await);
    assert_eq!(seat_ids(&second.booking), vec![seats[2]]);
    // The seat refunded before: Conflict, and nothing at the gateway.
    let again = refund_seats(&mut office, &sold.code, vec![seats[0]]).await;
    assert_eq!(error_of(again).code, ErrorCode::Conflict);
    let ledger = pay.sim.ledger();
    assert_eq!(ledger.refunds.len(), 2, "{:?}", ledger.refunds);
    let partials = (sold.seats[0].price_minor + sold.seats[1].price_minor) as u64;
    assert_eq!(ledger.refunded_minor(&gateway_order), partials);
    // The rest through Cancel: the gateway then holds exactly the capture in refunds.
    let cancelled = booked(
        office
            .call(Request::Cancel {
                code: sold.code.clone(),
                refund: true,
                reason: "the rest".into(),
            })
            .await,
    );
    assert_eq!(cancelled.status, BookingStatus::Refunded);
    let ledger = pay.sim.ledger();
    assert_eq!(ledger.refunds.len(), 3, "{:?}", ledger.refunds);
    assert_eq!(
        ledger.refunded_minor(&gateway_order),
        ledger.captured_minor(&gateway_order)
    );
    assert!(ledger.orders_charged_twice().is_empty());
    // Our records: one per gateway refund, each with the gateway's id.
    let ours = pay.store().all_refunds().await.expect("refunds");
    assert_eq!(ours.len(), 3, "{ours:?}");
    assert!(ours.iter().all(|r| r.gateway_refund_id.is_some()));
    let mut admin = pay.client(Role::Admin, 0).await;
    let gateway = line(&mut admin, office.terminal_id(), PaymentMethod::Gateway).await;
    assert_eq!(
        (gateway.refunds, gateway.refunds_minor),
        (3, sold.total.amount_minor),
        "{gateway:?}"
    );
    assert!(pay.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    pay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_refund_that_timed_out_is_retried_without_refunding_twice() {
    let pay = PayNode::start(WINDOW_MS, 23).await;
    let (sold, gateway_order) = gateway_booking(&pay, &["F1", "F2"], "gw-t").await;
    let seats = seat_ids(&sold);
    let mut office = pay.client(Role::BoxOffice, 0).await;
    // The refund happens, its answer is lost, and so is every lookup the node makes.
    pay.switch(SwitchesPatch {
        hang_next: Some(1),
        hang_ms: Some(3_000),
        hang_endpoint: Some(Some(Endpoint::Refund)),
        hang_after_effect: Some(true),
        fail_next: Some(10),
        fail_endpoint: Some(Some(Endpoint::PaymentRefunds)),
        ..Default::default()
    });
    let lost = refund_seats(&mut office, &sold.code, vec![seats[1]]).await;
    let code = error_of(lost).code;
    assert!(
        matches!(code, ErrorCode::Unavailable | ErrorCode::OutcomeUnknown),
        "{code:?}"
    );
    // Nothing changed here; the gateway made the refund once.
    assert_eq!(get(&mut office, &sold.code).await, sold);
    assert_eq!(pay.sim.ledger().refunds.len(), 1);
    // The gateway is back; the retry finds the refund by its receipt.
    pay.switch(SwitchesPatch {
        fail_next: Some(0),
        ..Default::default()
    });
    let done = refunded(refund_seats(&mut office, &sold.code, vec![seats[1]]).await);
    let ledger = pay.sim.ledger();
    assert_eq!(ledger.refunds.len(), 1, "{:?}", ledger.refunds);
    assert_eq!(
        done.gateway_refund_id.as_deref(),
        Some(ledger.refunds[0].id.as_str())
    );
    assert_eq!(
        ledger.refunded_minor(&gateway_order),
        sold.seats[1].price_minor as u64
    );
    assert_eq!(seat_ids(&done.booking), vec![seats[0]]);
    pay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_not_yet_recorded_blocks_another_set_of_seats_until_it_is_repeated() {
    let pay = PayNode::start(WINDOW_MS, 24).await;
    let (sold, gateway_order) = gateway_booking(&pay, &["G1", "G2", "G3"], "gw-o").await;
    let seats = seat_ids(&sold);
    let mut office = pay.client(Role::BoxOffice, 0).await;
    // The refund of G2 happens at the gateway, and every answer about it is lost.
    pay.switch(SwitchesPatch {
        hang_next: Some(1),
        hang_ms: Some(3_000),
        hang_endpoint: Some(Some(Endpoint::Refund)),
        hang_after_effect: Some(true),
        fail_next: Some(10),
        fail_endpoint: Some(Some(Endpoint::PaymentRefunds)),
        ..Default::default()
    });
    let lost = refund_seats(&mut office, &sold.code, vec![seats[1]]).await;
    assert!(lost.is_err(), "{lost:?}");
    pay.switch(SwitchesPatch {
        fail_next: Some(0),
        ..Default::default()
    });
    // The cashier now asks for G1 and G2: G2 would be refunded a second time.
    let overlapping = refund_seats(&mut office, &sold.code, vec![seats[0], seats[1]]).await;
    assert_eq!(error_of(overlapping).code, ErrorCode::Conflict);
    assert_eq!(pay.sim.ledger().refunds.len(), 1);
    assert_eq!(get(&mut office, &sold.code).await, sold);
    // Repeating the unfinished refund finishes it; then another seat may go.
    let done = refunded(refund_seats(&mut office, &sold.code, vec![seats[1]]).await);
    assert_eq!(seat_ids(&done.booking), vec![seats[0], seats[2]]);
    let next = refunded(refund_seats(&mut office, &sold.code, vec![seats[0]]).await);
    assert_eq!(seat_ids(&next.booking), vec![seats[2]]);
    let ledger = pay.sim.ledger();
    assert_eq!(ledger.refunds.len(), 2, "{:?}", ledger.refunds);
    assert_eq!(
        ledger.refunded_minor(&gateway_order),
        (sold.seats[0].price_minor + sold.seats[1].price_minor) as u64
    );
    pay.stop().await;
}
