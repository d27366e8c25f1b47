//! Node tests over real TCP (127.0.0.1 port 0) and real MariaDB: selling.

mod support;

use std::collections::HashMap;

use cinebook_protocol::types::{
    BookingStatus, Category, ChangeCause, PaymentMethod, Role, SeatSelection, SeatState,
};
use cinebook_protocol::{ErrorCode, Push, Reply, Request};
use mysql_async::prelude::Queryable;
use support::{booked, held, TestClient, TestNode, SHOW};

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

/// Picks a payment a terminal of `role` may take, varying with `n`.
fn method_for(role: Role, n: usize) -> PaymentMethod {
    match role {
        Role::Kiosk => PaymentMethod::Card,
        _ => [
            PaymentMethod::Cash,
            PaymentMethod::Card,
            PaymentMethod::Comp,
        ][n % 3],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_sellers_sell_every_seat_exactly_once() {
    const SELLERS: usize = 64;
    let node = TestNode::start().await;
    let mut sellers = Vec::with_capacity(SELLERS);
    for i in 0..SELLERS {
        let role = if i % 2 == 0 {
            Role::Kiosk
        } else {
            Role::BoxOffice
        };
        let token = node.add_terminal(&format!("seller-{i}"), role).await;
        let addr = node.addr();
        sellers.push(tokio::spawn(async move {
            let mut client = TestClient::connect(addr, Some(token)).await;
            let mut categories = [
                Category::Standard,
                Category::Premium,
                Category::Wheelchair,
                Category::Companion,
            ];
            categories.rotate_left(i % 4);
            let mut bookings = Vec::new();
            let mut n = 0usize;
            for category in categories {
                'category: loop {
                    n += 1;
                    // 1 to 4 seats; fewer when no block of that size is left.
                    let mut count = ((i * 7 + n * 3) % 4 + 1) as u16;
                    let hold = loop {
                        match client.hold_best(SHOW, count, Some(category)).await {
                            Ok(Reply::Held(hold)) => break hold,
                            // Too few free, or enough free but not adjacent (PROTOCOL.md 8).
                            Err(e)
                                if count > 1
                                    && matches!(
                                        e.code,
                                        ErrorCode::SoldOut | ErrorCode::NoAdjacentSeats { .. }
                                    ) =>
                            {
                                count -= 1
                            }
                            Err(e) if e.code == ErrorCode::SoldOut => break 'category,
                            other => panic!("seller {i}: hold {count} {category:?}: {other:?}"),
                        }
                    };
                    assert_eq!(hold.seats.len(), usize::from(count));
                    let key = format!("seller-{i}-{n}");
                    let booking = booked(client.confirm(&hold, method_for(role, n), &key).await);
                    let seats: Vec<u32> = booking.seats.iter().map(|s| s.seat_id).collect();
                    assert_eq!(
                        seats, hold.seats,
                        "seller {i}: the booking has the hold's seats"
                    );
                    bookings.push(booking);
                }
            }
            // Sold out for this seller: every category answers SoldOut.
            for category in categories {
                let answer = client.hold_best(SHOW, 1, Some(category)).await;
                assert!(
                    matches!(&answer, Err(e) if e.code == ErrorCode::SoldOut),
                    "seller {i}: {category:?} after the sell-out: {answer:?}"
                );
            }
            bookings
        }));
    }
    let mut bookings = Vec::new();
    for seller in sellers {
        let done = tokio::time::timeout(std::time::Duration::from_secs(120), seller)
            .await
            .expect("sellers finish within two minutes")
            .expect("seller panicked");
        bookings.extend(done);
    }
    // Every seat sold exactly once among the acknowledged bookings.
    let mut owner: HashMap<u32, String> = HashMap::new();
    for booking in &bookings {
        for seat in &booking.seats {
            if let Some(other) = owner.insert(seat.seat_id, booking.code.clone()) {
                panic!(
                    "seat {} sold twice: {other} and {}",
                    seat.seat_id, booking.code
                );
            }
        }
    }
    assert_eq!(owner.len(), 400, "every seat sold");
    // The node agrees.
    let mut guest = TestClient::connect(node.addr(), None).await;
    let map = guest.seat_map(SHOW).await;
    assert!(map.states.iter().all(|s| *s == SeatState::Sold));
    assert_eq!(map.summary.seats_free, 0);
    let answer = guest
        .call(Request::Availability {
            show_id: SHOW,
            category: None,
        })
        .await;
    let Ok(Reply::Availability { free, .. }) = answer else {
        panic!("availability: {answer:?}")
    };
    assert!(free.iter().all(|(_, n)| *n == 0), "{free:?}");
    let mut seller = node.client(Role::BoxOffice, 0).await;
    // Named seats of a sold-out show fail fast as sold out (the free-seat counter says so
    // without the show's lock).
    let answer = seller.hold_seats(SHOW, &["J5"]).await;
    assert!(
        matches!(&answer, Err(e) if e.code == ErrorCode::SoldOut),
        "{answer:?}"
    );
    // MySQL agrees with every acknowledgement, and has nothing more.
    let mut conn = node.mysql().await;
    let rows: Vec<(u32, String)> = conn
        .query("SELECT seat_id, code FROM booking_seats")
        .await
        .expect("query");
    assert_eq!(rows.len(), 400, "booking_seats rows");
    let stored: HashMap<u32, String> = rows.into_iter().collect();
    assert_eq!(
        stored, owner,
        "MySQL has every acknowledged seat with its booking"
    );
    let count: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM bookings WHERE status = 'confirmed'")
        .await
        .expect("count");
    assert_eq!(count, Some(bookings.len() as u64));
    drop(conn);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_confirm_returns_the_same_booking_and_never_a_second_one() {
    let node = TestNode::start().await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    // A retried hold with the same key is the same hold.
    let hold_request = Request::Hold {
        show_id: SHOW,
        selection: SeatSelection::Labels(vec!["F7".into(), "F8".into()]),
        idempotency_key: Some("cart-1".into()),
    };
    let hold = held(kiosk.call(hold_request.clone()).await);
    let again = held(kiosk.call(hold_request.clone()).await);
    assert_eq!(again.hold_id, hold.hold_id);
    assert_eq!(again.seats, hold.seats);
    // Confirm, then the same confirm again: the same booking, also now that the hold is gone.
    let booking = booked(kiosk.confirm(&hold, PaymentMethod::Card, "pay-1").await);
    let retried = booked(kiosk.confirm(&hold, PaymentMethod::Card, "pay-1").await);
    assert_eq!(retried, booking);
    // Pipelined retries: every answer is that booking.
    let payment = booking.payment.clone();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            kiosk
                .send(Request::Confirm {
                    hold_id: hold.hold_id,
                    payment: payment.clone(),
                    idempotency_key: "pay-1".into(),
                })
                .await,
        );
    }
    for id in ids {
        assert_eq!(booked(kiosk.wait(id).await), booking);
    }
    // The key reused on a new hold is a Conflict (PROTOCOL.md 11.5); the new hold stays held.
    let second = held(kiosk.hold_seats(SHOW, &["G1"]).await);
    let answer = kiosk.confirm(&second, PaymentMethod::Card, "pay-1").await;
    assert!(
        matches!(&answer, Err(e) if e.code == ErrorCode::Conflict),
        "{answer:?}"
    );
    let map = kiosk.seat_map(SHOW).await;
    assert_eq!(map.states[second.seats[0] as usize], SeatState::Held);
    // Keys are per terminal: another kiosk's "pay-1" is its own sale.
    let mut other = node.client(Role::Kiosk, 1).await;
    let theirs = held(other.hold_seats(SHOW, &["G5"]).await);
    let their_booking = booked(other.confirm(&theirs, PaymentMethod::Card, "pay-1").await);
    assert_ne!(their_booking.code, booking.code);
    // MySQL has exactly the two bookings.
    let mut conn = node.mysql().await;
    let rows: Vec<(String, u32)> = conn
        .query("SELECT code, seat_id FROM booking_seats ORDER BY seat_id")
        .await
        .expect("query");
    let mut expected: Vec<(String, u32)> = booking
        .seats
        .iter()
        .map(|s| (booking.code.clone(), s.seat_id))
        .chain(std::iter::once((
            their_booking.code.clone(),
            their_booking.seats[0].seat_id,
        )))
        .collect();
    expected.sort_by_key(|(_, seat)| *seat);
    assert_eq!(rows, expected);
    drop(conn);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_terminals_sale_is_pushed_to_a_subscriber_in_sequence() {
    let node = TestNode::start().await;
    let mut watcher = TestClient::connect(node.addr(), None).await;
    let Ok(Reply::Subscribed { seq: start, .. }) =
        watcher.call(Request::Subscribe { show_id: SHOW }).await
    else {
        panic!("subscribe")
    };
    let mut seller = node.client(Role::BoxOffice, 0).await;
    let hold = held(seller.hold_seats(SHOW, &["K3", "K4", "K5"]).await);
    let booking = booked(seller.confirm(&hold, PaymentMethod::Cash, "sub-1").await);
    let expect = |push: Push, seq: u64, cause: ChangeCause, state: SeatState| match push {
        Push::SeatsChanged {
            show_id,
            seq: got,
            cause: why,
            changes,
        } => {
            assert_eq!(show_id, SHOW);
            assert_eq!(got, seq, "seq one above the previous");
            assert_eq!(why, cause);
            let seats: Vec<u32> = changes.iter().map(|c| c.seat_id).collect();
            assert_eq!(seats, hold.seats);
            assert!(changes.iter().all(|c| c.state == state), "{changes:?}");
        }
        other => panic!("expected SeatsChanged, got {other:?}"),
    };
    expect(
        watcher.next_push().await,
        start + 1,
        ChangeCause::Held,
        SeatState::Held,
    );
    expect(
        watcher.next_push().await,
        start + 2,
        ChangeCause::Sold,
        SeatState::Sold,
    );
    let sold: Vec<u32> = booking.seats.iter().map(|s| s.seat_id).collect();
    assert_eq!(sold, hold.seats);
    // A refund is pushed next, with the next seq.
    seller
        .call(Request::Cancel {
            code: booking.code.clone(),
            refund: true,
            reason: "test".into(),
        })
        .await
        .expect("cancel");
    expect(
        watcher.next_push().await,
        start + 3,
        ChangeCause::Cancelled,
        SeatState::Free,
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_on_one_show_are_answered_in_order() {
    // PROTOCOL.md 11.3: a confirm (which waits for MySQL) and a seat map of the same show, sent
    // without waiting, run in the order sent: the seat map sees the seats sold.
    let node = TestNode::start().await;
    let mut client = node.client(Role::BoxOffice, 0).await;
    for round in 0..10u32 {
        let label = |n: u32| {
            format!(
                "{}{}",
                char::from(b'E' + (round / 9) as u8),
                (round % 9) * 2 + n
            )
        };
        let (a, b) = (label(1), label(2));
        let hold = held(client.hold_seats(SHOW, &[a.as_str(), b.as_str()]).await);
        let payment = cinebook_protocol::types::Payment {
            method: PaymentMethod::Cash,
            amount: hold.total.clone(),
            reference: None,
        };
        let confirm = Request::Confirm {
            hold_id: hold.hold_id,
            payment,
            idempotency_key: format!("order-{round}"),
        };
        // One write: the node reads both frames at once, so only the lane orders them.
        let ids = client
            .send_batch(vec![confirm, Request::GetSeatMap { show_id: SHOW }])
            .await;
        let (confirm, map) = (ids[0], ids[1]);
        let Ok(Reply::SeatMap(map)) = client.wait(map).await else {
            panic!("map")
        };
        booked(client.wait(confirm).await);
        assert!(
            hold.seats
                .iter()
                .all(|s| map.states[*s as usize] == SeatState::Sold),
            "round {round}: the seat map was answered before the confirm it was sent after"
        );
    }
    node.stop().await;
}

/// The sample show again under another id, starting at `starts_at_ms`.
fn show_at(id: u64, starts_at_ms: u64) -> cinebook_protocol::types::Show {
    let mut show = cinebook_server::testing::sample_catalog().shows[0].clone();
    show.id = id;
    show.starts_at_ms = starts_at_ms;
    show
}

fn assert_sales_closed(answer: Result<Reply, cinebook_protocol::ErrorBody>, what: &str) {
    match answer {
        Err(error) => assert_eq!(error.code, ErrorCode::SalesClosed, "{what}: {error:?}"),
        Ok(reply) => panic!("{what}: expected SalesClosed, got {reply:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_show_sells_until_its_window_closes_per_role() {
    let node = TestNode::start().await;
    let now = cinebook_server::node::now_ms();
    let minute = 60_000;
    let mut admin = node.client(Role::Admin, 0).await;
    for show in [
        show_at(5101, now - 10 * minute),
        show_at(5102, now - 20 * minute),
        show_at(5103, now + 1_500),
    ] {
        assert!(matches!(
            admin.call(Request::UpsertShow(show)).await,
            Ok(Reply::Done)
        ));
    }
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let mut cashier = node.client(Role::BoxOffice, 0).await;
    // Started ten minutes ago: kiosks stopped at the start, the box office sells for 15 minutes.
    assert_sales_closed(
        kiosk.hold_seats(5101, &["A1"]).await,
        "kiosk after the start",
    );
    let hold = held(cashier.hold_seats(5101, &["A1"]).await);
    booked(cashier.confirm(&hold, PaymentMethod::Cash, "late-1").await);
    // Started twenty minutes ago: closed for everyone.
    assert_sales_closed(
        cashier.hold_seats(5102, &["A1"]).await,
        "box office after 15 min",
    );
    assert_sales_closed(admin.hold_seats(5102, &["A1"]).await, "admin after 15 min");
    // A kiosk's hold made before the start cannot be confirmed after it.
    let hold = held(kiosk.hold_seats(5103, &["A2"]).await);
    tokio::time::sleep(std::time::Duration::from_millis(2_000)).await;
    assert_sales_closed(
        kiosk
            .confirm(&hold, PaymentMethod::Card, "late-kiosk")
            .await,
        "kiosk confirm after the start",
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_change_applies_to_an_untouched_show_and_is_refused_under_sales() {
    let node = TestNode::start().await;
    let mut admin = node.client(Role::Admin, 0).await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let screen = cinebook_server::testing::sample_catalog().screens[0].clone();
    let mut smaller = screen.clone();
    smaller.seats.pop();
    // Nobody touched the show: the new layout is served at once.
    assert!(matches!(
        admin.call(Request::UpsertScreen(smaller.clone())).await,
        Ok(Reply::Done)
    ));
    let map = kiosk.seat_map(SHOW).await;
    assert_eq!(
        map.seats.len(),
        screen.seats.len() - 1,
        "the new layout is in memory"
    );
    assert_eq!(map.states.len(), screen.seats.len() - 1);
    // A sold seat fixes the layout; a rename that keeps the seats is still fine.
    let hold = held(kiosk.hold_seats(SHOW, &["A1"]).await);
    booked(kiosk.confirm(&hold, PaymentMethod::Card, "layout-1").await);
    let answer = admin.call(Request::UpsertScreen(screen.clone())).await;
    assert!(
        matches!(&answer, Err(e) if e.code == ErrorCode::Conflict),
        "{answer:?}"
    );
    let mut renamed = smaller.clone();
    renamed.name = "Saal Neu".into();
    assert!(matches!(
        admin.call(Request::UpsertScreen(renamed)).await,
        Ok(Reply::Done)
    ));
    assert_eq!(
        kiosk.seat_map(SHOW).await.seats.len(),
        screen.seats.len() - 1
    );
    node.stop().await;
}
