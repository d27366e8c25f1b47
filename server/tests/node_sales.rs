//! Node tests over real TCP (127.0.0.1 port 0) and real MariaDB: selling.

mod support;

use cinebook_protocol::types::{BookingStatus, PaymentMethod, Role, SeatState};
use cinebook_protocol::{ErrorCode, Reply, Request};
use mysql_async::prelude::Queryable;
use support::{booked, held, TestNode, SHOW};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sale() {
    let node = TestNode::start().await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let Ok(Reply::Shows(shows)) = kiosk.call(Request::ListShows(Default::default())).await else {
        panic!("shows")
    };
    assert_eq!(shows.len(), 1);
    assert_eq!(shows[0].seats_free, 400);
    let hold = held(kiosk.hold_seats(SHOW, &["H10", "H11"]).await);
    assert_eq!(hold.labels, vec!["H10", "H11"]);
    let booking = booked(kiosk.confirm(&hold, PaymentMethod::Card, "sale-1").await);
    assert_eq!(booking.status, BookingStatus::Confirmed);
    assert_eq!(booking.seats.len(), 2);
    assert_eq!(booking.total, hold.total);
    // The seat map shows them sold; MySQL has them.
    let Ok(Reply::SeatMap(map)) = kiosk.call(Request::GetSeatMap { show_id: SHOW }).await else {
        panic!("map")
    };
    let sold: Vec<usize> = map
        .states
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == SeatState::Sold)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(sold.len(), 2);
    let mut conn = mysql_async::Conn::from_url(node.db.url.as_str())
        .await
        .expect("mysql");
    let rows: Vec<(u64, String)> = conn
        .query("SELECT seat_id, code FROM booking_seats ORDER BY seat_id")
        .await
        .expect("query");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|(_, code)| *code == booking.code));
    // Reprint by code.
    let again = booked(
        kiosk
            .call(Request::GetBooking {
                code: booking.code.clone(),
            })
            .await,
    );
    assert_eq!(again, booking);
    drop(conn);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_terminals_race_for_the_same_seats_and_exactly_one_wins() {
    let node = TestNode::start().await;
    let mut a = node.client(Role::Kiosk, 0).await;
    let mut b = node.client(Role::BoxOffice, 0).await;
    for round in 0..20u32 {
        let labels = [
            format!("D{}", round % 19 + 1),
            format!("D{}", round % 19 + 2),
        ];
        let seats: Vec<&str> = labels.iter().map(String::as_str).collect();
        let (ra, rb) = tokio::join!(a.hold_seats(SHOW, &seats), b.hold_seats(SHOW, &seats));
        let oks = usize::from(ra.is_ok()) + usize::from(rb.is_ok());
        assert_eq!(oks, 1, "round {round}: {ra:?} / {rb:?}");
        let (winner, loser, result) = if ra.is_ok() {
            (&mut a, rb, ra)
        } else {
            (&mut b, ra, rb)
        };
        let error = loser.expect_err("loser");
        assert!(
            matches!(&error.code, ErrorCode::SeatUnavailable { seats } if !seats.is_empty()),
            "{error:?}"
        );
        let hold = held(result);
        // The winner releases so the next round races again for overlapping seats.
        let released = winner
            .call(Request::Release {
                hold_id: hold.hold_id,
            })
            .await;
        assert!(
            matches!(released, Ok(Reply::Released { .. })),
            "{released:?}"
        );
    }
    node.stop().await;
}
