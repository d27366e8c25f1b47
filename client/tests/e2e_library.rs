//! The library against a real node over MariaDB: pipelining, reconnecting after a restart,
//! subscriptions that see another terminal's sale, idempotent confirms, and the blocking facade.

mod live;

use std::future::Future;
use std::time::Duration;

use cinebook_client::types::{
    BookingStatus, ChangeCause, PaymentMethod, Role, SeatSelection, SeatState, ShowFilter,
};
use cinebook_client::{new_idempotency_key, Client, Error, SeatUpdate, Subscription};
use futures::StreamExt;
use live::{pay, LiveNode, CURRENCY, SHOW, STANDARD_PRICE, TEST_LIMIT};

/// Runs a test body with the time limit every end-to-end test has.
async fn bounded<F: Future<Output = ()>>(body: F) {
    tokio::time::timeout(TEST_LIMIT, body)
        .await
        .expect("the test did not finish in time");
}

fn labels(list: &[&str]) -> SeatSelection {
    SeatSelection::Labels(list.iter().map(|s| s.to_string()).collect())
}

async fn next_update(sub: &mut Subscription) -> SeatUpdate {
    match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
        Ok(Some(Ok(update))) => update,
        Ok(Some(Err(error))) => panic!("subscription error: {error}"),
        Ok(None) => panic!("the subscription ended"),
        Err(_) => panic!("no seat update within 10 s"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pipelined_requests_on_one_connection_are_all_answered_and_matched() {
    let node = LiveNode::start().await;
    bounded(async {
        let client = Client::connect([node.addr_string()], node.client_config(Role::Kiosk))
            .await
            .expect("connect");
        let welcome = client.welcome().expect("welcome");

        // Four kinds of request interleaved, so that an answer matched to the wrong call shows
        // up as a wrong nonce or an unexpected reply.
        let calls = (0..1_000u64).map(|i| {
            let client = client.clone();
            async move {
                match i % 4 {
                    0 | 2 => {
                        let pong = client.ping_nonce(i).await.expect("ping");
                        assert_eq!(pong.nonce, i);
                    }
                    1 => {
                        let map = client.seat_map(SHOW).await.expect("seat map");
                        assert_eq!(map.summary.show.id, SHOW);
                        assert_eq!(map.seats.len(), 400);
                    }
                    _ => {
                        let free = client.availability(SHOW, None).await.expect("free");
                        let total: u32 = free.iter().map(|(_, n)| n).sum();
                        assert_eq!(total, 400);
                    }
                }
                i
            }
        });
        let done = futures::future::join_all(calls).await;
        assert_eq!(done, (0..1_000).collect::<Vec<_>>());
        // Still the first connection: a reconnect would have brought a new Welcome.
        assert_eq!(client.welcome(), Some(welcome));
    })
    .await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_client_keeps_working_after_the_server_restarts_on_the_same_port() {
    let mut node = LiveNode::start().await;
    bounded(async {
        let client = Client::connect([node.addr_string()], node.client_config(Role::BoxOffice))
            .await
            .expect("connect");
        let first = client.welcome().expect("welcome");
        let hold = client
            .hold(SHOW, labels(&["C1", "C2"]))
            .await
            .expect("hold");
        let key = new_idempotency_key();
        let booking = client
            .confirm(hold.hold_id, pay(PaymentMethod::Cash, &hold.total), &key)
            .await
            .expect("confirm");

        node.stop_server().await;
        // A call made while the node is down waits (with backoff) for it to come back.
        let waiting = tokio::spawn({
            let client = client.clone();
            async move { client.seat_map(SHOW).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        node.start_again().await;

        let map = waiting
            .await
            .expect("join")
            .expect("the call made during the restart");
        let sold: Vec<&str> = map
            .seats
            .iter()
            .zip(&map.states)
            .filter(|(_, state)| **state == SeatState::Sold)
            .map(|(seat, _)| seat.label.as_str())
            .collect();
        assert_eq!(sold, ["C1", "C2"], "the sale survived the restart");
        let second = client.welcome().expect("welcome");
        assert_ne!(
            (first.server_time_ms, first.lamport),
            (second.server_time_ms, second.lamport),
            "a new connection"
        );

        // The same client reads and sells on the new node.
        let again = client.booking(&booking.code).await.expect("booking");
        assert_eq!(again.code, booking.code);
        assert_eq!(again.status, BookingStatus::Confirmed);
        let hold = client.hold(SHOW, labels(&["C3"])).await.expect("hold");
        let sale = client
            .confirm(
                hold.hold_id,
                pay(PaymentMethod::Card, &hold.total),
                &new_idempotency_key(),
            )
            .await
            .expect("confirm after the restart");
        assert_eq!(sale.seats.len(), 1);
        assert_eq!(sale.seats[0].label, "C3");
    })
    .await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_sees_another_terminals_sale() {
    let node = LiveNode::start().await;
    bounded(async {
        let watcher = Client::connect([node.addr_string()], node.client_config(Role::Kiosk))
            .await
            .expect("connect watcher");
        let seller = Client::connect([node.addr_string()], node.client_config(Role::BoxOffice))
            .await
            .expect("connect seller");
        let mut live = watcher.subscribe(SHOW);
        let mut map = None;
        let snapshot = next_update(&mut live).await;
        let SeatUpdate::Snapshot(first) = &snapshot else {
            panic!("expected a snapshot first, got {snapshot:?}");
        };
        assert!(first.states.iter().all(|s| *s == SeatState::Free));
        let seq = first.seq;
        snapshot.apply(&mut map);

        let hold = seller
            .hold(SHOW, labels(&["F7", "F8"]))
            .await
            .expect("hold");
        let booking = seller
            .confirm(
                hold.hold_id,
                pay(PaymentMethod::Cash, &hold.total),
                &new_idempotency_key(),
            )
            .await
            .expect("confirm");

        let mut expected_seq = seq;
        for (cause, state) in [
            (ChangeCause::Held, SeatState::Held),
            (ChangeCause::Sold, SeatState::Sold),
        ] {
            expected_seq += 1;
            let update = next_update(&mut live).await;
            match &update {
                SeatUpdate::Changes {
                    show_id,
                    seq,
                    cause: got_cause,
                    changes,
                } => {
                    assert_eq!(*show_id, SHOW);
                    assert_eq!(*seq, expected_seq);
                    assert_eq!(*got_cause, cause);
                    let mut seats: Vec<(u32, SeatState)> =
                        changes.iter().map(|c| (c.seat_id, c.state)).collect();
                    seats.sort_unstable_by_key(|(id, _)| *id);
                    let mut want: Vec<(u32, SeatState)> =
                        hold.seats.iter().map(|id| (*id, state)).collect();
                    want.sort_unstable_by_key(|(id, _)| *id);
                    assert_eq!(seats, want);
                }
                other => panic!("expected {cause:?} changes, got {other:?}"),
            }
            update.apply(&mut map);
        }
        let map = map.expect("map");
        for seat in &booking.seats {
            assert_eq!(map.states[seat.seat_id as usize], SeatState::Sold);
        }
        assert_eq!(
            map.states.iter().filter(|s| **s == SeatState::Sold).count(),
            2
        );
    })
    .await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_retried_with_the_same_key_returns_the_same_booking() {
    let node = LiveNode::start().await;
    bounded(async {
        let client = Client::connect([node.addr_string()], node.client_config(Role::BoxOffice))
            .await
            .expect("connect");
        let hold = client
            .hold(
                SHOW,
                SeatSelection::Best {
                    count: 3,
                    category: None,
                },
            )
            .await
            .expect("hold");
        let payment = pay(PaymentMethod::Card, &hold.total);
        let key = new_idempotency_key();
        let first = client
            .confirm(hold.hold_id, payment.clone(), &key)
            .await
            .expect("confirm");
        let second = client
            .confirm(hold.hold_id, payment.clone(), &key)
            .await
            .expect("the retry");
        assert_eq!(second, first, "the same booking, not a second sale");

        // From another connection of the same terminal, as after a lost connection.
        let other = Client::connect([node.addr_string()], node.client_config(Role::BoxOffice))
            .await
            .expect("connect");
        let third = other
            .confirm(hold.hold_id, payment.clone(), &key)
            .await
            .expect("the retry on a new connection");
        assert_eq!(third, first);

        let bookings = client.list_bookings(SHOW).await.expect("bookings");
        assert_eq!(bookings.len(), 1, "{bookings:?}");
        assert_eq!(bookings[0].code, first.code);
        let map = client.seat_map(SHOW).await.expect("map");
        let sold = map.states.iter().filter(|s| **s == SeatState::Sold).count();
        assert_eq!(sold, 3);

        // A new key on the spent hold sells nothing.
        let error = client
            .confirm(hold.hold_id, payment, &new_idempotency_key())
            .await
            .expect_err("the hold is spent");
        // Sold, so not open any more: not found (an expired one would be HoldExpired).
        assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
    })
    .await;
    node.stop().await;
}

/// The blocking facade on plain threads, as a kiosk without async code uses it.
#[test]
fn the_blocking_facade_does_a_whole_kiosk_sale() {
    use cinebook_client::blocking::Client;

    let runtime = live::node_runtime();
    let node = runtime.block_on(LiveNode::start());
    let addr = node.addr_string();
    let config = node.client_config(Role::Kiosk);
    let outcome = std::thread::spawn(move || {
        let kiosk = Client::connect([addr.as_str()], config).expect("connect");
        let welcome = kiosk.welcome().expect("welcome");
        assert_eq!(welcome.role, Role::Kiosk);
        assert!(welcome.terminal_id.is_some());

        let shows = kiosk.list_shows(ShowFilter::default()).expect("shows");
        assert_eq!(shows.len(), 1);
        let show = &shows[0];
        assert_eq!(show.show.id, SHOW);
        assert_eq!((show.seats_free, show.seats_total), (400, 400));

        let mut live = kiosk.subscribe(SHOW);
        let mut map = None;
        match live.next_timeout(Duration::from_secs(10)) {
            Some(Ok(update @ SeatUpdate::Snapshot(_))) => update.apply(&mut map),
            other => panic!("expected a snapshot, got {other:?}"),
        }

        let hold = kiosk
            .hold(
                SHOW,
                SeatSelection::Best {
                    count: 2,
                    category: None,
                },
            )
            .expect("hold");
        assert_eq!(hold.seats.len(), 2);
        assert_eq!(
            (hold.total.amount_minor, hold.total.currency.as_str()),
            (2 * STANDARD_PRICE, CURRENCY)
        );
        // Kiosks take cards only.
        let error = kiosk
            .confirm(
                hold.hold_id,
                pay(PaymentMethod::Cash, &hold.total),
                &new_idempotency_key(),
            )
            .expect_err("cash at a kiosk");
        assert!(matches!(error, Error::Forbidden { .. }), "{error:?}");

        let key = new_idempotency_key();
        let booking = kiosk
            .confirm(hold.hold_id, pay(PaymentMethod::Card, &hold.total), &key)
            .expect("confirm");
        assert_eq!(booking.status, BookingStatus::Confirmed);
        assert_eq!(booking.total, hold.total);
        let mut sold: Vec<u32> = booking.seats.iter().map(|s| s.seat_id).collect();
        sold.sort_unstable();
        let mut held = hold.seats.clone();
        held.sort_unstable();
        assert_eq!(sold, held);

        // The kiosk's own sale comes back as pushes: held, then sold.
        let mut causes = Vec::new();
        while causes.last() != Some(&ChangeCause::Sold) {
            match live.next_timeout(Duration::from_secs(10)) {
                Some(Ok(update @ SeatUpdate::Changes { .. })) => {
                    if let SeatUpdate::Changes { cause, .. } = &update {
                        causes.push(*cause);
                    }
                    update.apply(&mut map);
                }
                other => panic!("expected changes, got {other:?}"),
            }
        }
        assert_eq!(causes, [ChangeCause::Held, ChangeCause::Sold]);
        let map = map.expect("map");
        for id in &held {
            assert_eq!(map.states[*id as usize], SeatState::Sold);
        }

        let reprint = kiosk.booking(&booking.code).expect("booking");
        assert_eq!(reprint, booking);
        let free: u32 = kiosk
            .availability(SHOW, None)
            .expect("availability")
            .iter()
            .map(|(_, n)| n)
            .sum();
        assert_eq!(free, 398);
    });
    // The thread is bounded by the client's call timeouts and the waits above; join it, then
    // stop the node whatever happened.
    let result = outcome.join();
    runtime.block_on(node.stop());
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
