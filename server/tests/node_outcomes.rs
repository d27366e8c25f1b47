//! Every sale has exactly one outcome, in memory and in the database (issue 12), over real TCP
//! and real MariaDB: recovery whatever the Lamport times, idempotency keys across a restart,
//! blocked seats across a restart.

mod support;

use cinebook_protocol::types::{PaymentMethod, Role, SeatState};
use cinebook_protocol::{ErrorCode, Reply, Request};
use mysql_async::prelude::Queryable;
use support::{booked, error_of, held, test_config, TestNode, SHOW};

/// The seat id of `label` on the test show.
async fn seat_id(client: &mut support::TestClient, label: &str) -> u32 {
    let map = client.seat_map(SHOW).await;
    let index = map
        .seats
        .iter()
        .position(|s| s.label == label)
        .expect("label on the map");
    index as u32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_sold_refunded_and_sold_again_recovers_whatever_the_lamport_times() {
    let node = TestNode::start().await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let first = held(office.hold_seats(SHOW, &["H1", "H2"]).await);
    let first = booked(office.confirm(&first, PaymentMethod::Cash, "first").await);
    let refunded = office
        .call(Request::Cancel {
            code: first.code.clone(),
            refund: true,
            reason: "changed plans".into(),
        })
        .await;
    assert!(matches!(refunded, Ok(Reply::Booking(_))), "{refunded:?}");
    let second = held(office.hold_seats(SHOW, &["H1"]).await);
    let second = booked(office.confirm(&second, PaymentMethod::Cash, "second").await);
    drop(office);

    // Equal Lamport times: recovery must not depend on them (a client can push a node's clock
    // around); the next test inverts them.
    let mut conn = node.mysql().await;
    conn.exec_drop("UPDATE bookings SET lamport = 7", ())
        .await
        .expect("update");
    drop(conn);
    let node = node.restart(test_config()).await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let h1 = seat_id(&mut office, "H1").await as usize;
    let h2 = seat_id(&mut office, "H2").await as usize;
    let map = office.seat_map(SHOW).await;
    assert_eq!(
        map.states[h1],
        SeatState::Sold,
        "H1 belongs to the second sale"
    );
    assert_eq!(map.states[h2], SeatState::Free, "H2 was refunded");
    for code in [&first.code, &second.code] {
        let stored = office
            .call(Request::GetBooking { code: code.clone() })
            .await;
        assert!(matches!(stored, Ok(Reply::Booking(_))), "{stored:?}");
    }
    drop(office);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_works_with_inverted_lamport_times() {
    let node = TestNode::start().await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let first = held(office.hold_seats(SHOW, &["J5"]).await);
    let first = booked(
        office
            .confirm(&first, PaymentMethod::Cash, "inv-first")
            .await,
    );
    let cancelled = office
        .call(Request::Cancel {
            code: first.code.clone(),
            refund: false,
            reason: "void".into(),
        })
        .await;
    assert!(matches!(cancelled, Ok(Reply::Booking(_))), "{cancelled:?}");
    let second = held(office.hold_seats(SHOW, &["J5"]).await);
    let second = booked(
        office
            .confirm(&second, PaymentMethod::Cash, "inv-second")
            .await,
    );
    drop(office);
    let mut conn = node.mysql().await;
    conn.exec_drop(
        "UPDATE bookings SET lamport = ? WHERE code = ?",
        (1_000_000u64, first.code.as_str()),
    )
    .await
    .expect("update");
    conn.exec_drop(
        "UPDATE bookings SET lamport = ? WHERE code = ?",
        (2u64, second.code.as_str()),
    )
    .await
    .expect("update");
    drop(conn);
    let node = node.restart(test_config()).await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let j5 = seat_id(&mut office, "J5").await as usize;
    assert_eq!(office.seat_map(SHOW).await.states[j5], SeatState::Sold);
    drop(office);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_key_reused_for_another_hold_is_a_conflict_before_and_after_a_restart() {
    let node = TestNode::start().await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["K1"]).await);
    let sold = booked(kiosk.confirm(&hold, PaymentMethod::Card, "kiosk-key").await);
    // The same key again for the same hold: the same booking (a retry).
    let again = booked(kiosk.confirm(&hold, PaymentMethod::Card, "kiosk-key").await);
    assert_eq!(again.code, sold.code);
    let other = held(kiosk.hold_seats(SHOW, &["K2"]).await);
    let before = error_of(
        kiosk
            .confirm(&other, PaymentMethod::Card, "kiosk-key")
            .await,
    );
    assert_eq!(before.code, ErrorCode::Conflict, "{before:?}");
    drop(kiosk);

    let node = node.restart(test_config()).await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let third = held(kiosk.hold_seats(SHOW, &["K3"]).await);
    let after = kiosk
        .confirm(&third, PaymentMethod::Card, "kiosk-key")
        .await;
    assert!(
        matches!(&after, Err(e) if e.code == ErrorCode::Conflict),
        "another customer's ticket must not be printed: {after:?}"
    );
    drop(kiosk);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_seats_stay_blocked_across_a_restart() {
    let node = TestNode::start().await;
    let mut admin = node.client(Role::Admin, 0).await;
    let a1 = seat_id(&mut admin, "H9").await;
    let a2 = seat_id(&mut admin, "H10").await;
    let blocked = admin
        .call(Request::BlockSeats {
            show_id: SHOW,
            seats: vec![a1, a2],
            blocked: true,
        })
        .await;
    assert!(matches!(blocked, Ok(Reply::Done)), "{blocked:?}");
    let unblocked = admin
        .call(Request::BlockSeats {
            show_id: SHOW,
            seats: vec![a2],
            blocked: false,
        })
        .await;
    assert!(matches!(unblocked, Ok(Reply::Done)), "{unblocked:?}");
    drop(admin);

    let node = node.restart(test_config()).await;
    let mut admin = node.client(Role::Admin, 0).await;
    let map = admin.seat_map(SHOW).await;
    assert_eq!(
        map.states[a1 as usize],
        SeatState::Blocked,
        "house seat lost"
    );
    assert_eq!(
        map.states[a2 as usize],
        SeatState::Free,
        "unblocked seat came back"
    );
    let mut office = node.client(Role::BoxOffice, 0).await;
    let refused = office.hold_seats(SHOW, &["H9"]).await;
    assert!(
        matches!(&refused, Err(e) if matches!(e.code, ErrorCode::SeatUnavailable { .. })),
        "{refused:?}"
    );
    drop((admin, office));
    node.stop().await;
}
