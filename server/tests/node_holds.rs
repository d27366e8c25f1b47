//! Node tests over real TCP and real MariaDB: holds expire, and the release is pushed.

mod support;

use std::time::Duration;

use cinebook_protocol::types::{ChangeCause, PaymentMethod, Role, SeatSelection, SeatState};
use cinebook_protocol::{ErrorCode, Push, Reply, Request};
use cinebook_server::node::now_ms;
use support::{error_of, held, test_config, TestClient, TestNode, SHOW};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_hold_frees_its_seats_and_the_expiry_is_pushed() {
    let mut config = test_config();
    config.hold.hold_ttl_ms = 300;
    config.sweep_interval_ms = 50;
    let node = TestNode::start_with(config, None).await;
    let mut watcher = TestClient::connect(node.addr(), None).await;
    let Ok(Reply::Subscribed { seq: start, .. }) =
        watcher.call(Request::Subscribe { show_id: SHOW }).await
    else {
        panic!("subscribe")
    };
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["C1", "C2"]).await);
    assert!(hold.expires_at_ms <= now_ms() + 300);
    match watcher.next_push().await {
        Push::SeatsChanged {
            seq,
            cause: ChangeCause::Held,
            ..
        } => assert_eq!(seq, start + 1),
        other => panic!("expected the hold's push, got {other:?}"),
    }
    // Within a second of the deadline the expiry arrives, next in sequence.
    let push = tokio::time::timeout(Duration::from_secs(5), watcher.next_push())
        .await
        .expect("expiry pushed");
    let arrived_ms = now_ms();
    match push {
        Push::SeatsChanged {
            show_id,
            seq,
            cause,
            changes,
        } => {
            assert_eq!(show_id, SHOW);
            assert_eq!(cause, ChangeCause::Expired);
            assert_eq!(seq, start + 2, "seq contiguous");
            let seats: Vec<u32> = changes.iter().map(|c| c.seat_id).collect();
            assert_eq!(seats, hold.seats);
            assert!(changes.iter().all(|c| c.state == SeatState::Free));
        }
        other => panic!("expected the expiry, got {other:?}"),
    }
    assert!(
        arrived_ms + 5 >= hold.expires_at_ms,
        "expired {} ms early",
        hold.expires_at_ms - arrived_ms
    );
    assert!(
        arrived_ms <= hold.expires_at_ms + 1_000,
        "expiry pushed {} ms after the deadline",
        arrived_ms - hold.expires_at_ms
    );
    // The seats are free again and the hold is gone.
    let map = kiosk.seat_map(SHOW).await;
    for seat in &hold.seats {
        assert_eq!(map.states[*seat as usize], SeatState::Free);
    }
    assert_eq!(map.summary.seats_free, 400);
    let error = error_of(kiosk.confirm(&hold, PaymentMethod::Card, "late").await);
    assert_eq!(error.code, ErrorCode::HoldExpired, "{error:?}");
    let error = error_of(
        kiosk
            .call(Request::Renew {
                hold_id: hold.hold_id,
            })
            .await,
    );
    assert_eq!(error.code, ErrorCode::HoldExpired, "{error:?}");
    // Someone else can have them now.
    let mut other = node.client(Role::Kiosk, 1).await;
    let again = held(other.hold_seats(SHOW, &["C1", "C2"]).await);
    assert_eq!(again.seats, hold.seats);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirming_a_hold_past_its_deadline_answers_hold_expired_before_any_sweep() {
    let mut config = test_config();
    config.hold.hold_ttl_ms = 200;
    // The sweeper does not run during the test: the confirm itself meets the expired hold.
    config.sweep_interval_ms = 600_000;
    let node = TestNode::start_with(config, None).await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["E5"]).await);
    while now_ms() <= hold.expires_at_ms + 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let error = error_of(kiosk.confirm(&hold, PaymentMethod::Card, "too-late").await);
    assert_eq!(error.code, ErrorCode::HoldExpired, "{error:?}");
    let map = kiosk.seat_map(SHOW).await;
    assert_eq!(map.states[hold.seats[0] as usize], SeatState::Free);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_hold_outlives_its_first_deadline_and_a_released_one_is_pushed() {
    let mut config = test_config();
    config.hold.hold_ttl_ms = 600;
    let node = TestNode::start_with(config, None).await;
    let mut watcher = TestClient::connect(node.addr(), None).await;
    let Ok(Reply::Subscribed { seq: start, .. }) =
        watcher.call(Request::Subscribe { show_id: SHOW }).await
    else {
        panic!("subscribe")
    };
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let hold = held(
        kiosk
            .call(Request::Hold {
                show_id: SHOW,
                selection: SeatSelection::Labels(vec!["M1".into(), "M2".into()]),
                idempotency_key: Some("cart".into()),
            })
            .await,
    );
    // Renew twice across the first deadline; the hold is still there afterwards.
    let mut deadline = hold.expires_at_ms;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let renewed = held(
            kiosk
                .call(Request::Renew {
                    hold_id: hold.hold_id,
                })
                .await,
        );
        assert!(renewed.expires_at_ms > deadline);
        deadline = renewed.expires_at_ms;
    }
    assert!(now_ms() > hold.expires_at_ms, "past the first deadline");
    let released = kiosk
        .call(Request::Release {
            hold_id: hold.hold_id,
        })
        .await;
    assert!(
        matches!(released, Ok(Reply::Released { .. })),
        "{released:?}"
    );
    // Pushes: held, three renewals (no seats, but a seq each), released; contiguous.
    let mut causes = Vec::new();
    for i in 1..=5u64 {
        match watcher.next_push().await {
            Push::SeatsChanged { seq, cause, .. } => {
                assert_eq!(seq, start + i, "seq contiguous");
                causes.push(cause);
            }
            other => panic!("unexpected push {other:?}"),
        }
    }
    assert_eq!(causes[0], ChangeCause::Held);
    assert_eq!(causes[4], ChangeCause::Released);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_key_reused_for_other_seats_is_a_conflict_and_a_retry_gets_the_hold() {
    let node = TestNode::start().await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let hold_of = |labels: &[&str]| Request::Hold {
        show_id: SHOW,
        selection: SeatSelection::Labels(labels.iter().map(|l| l.to_string()).collect()),
        idempotency_key: Some("cart-k".into()),
    };
    let first = held(kiosk.call(hold_of(&["D1", "D2"])).await);
    let retry = held(kiosk.call(hold_of(&["D1", "D2"])).await);
    assert_eq!(
        retry.hold_id, first.hold_id,
        "a retry gets the original hold"
    );
    let error = error_of(kiosk.call(hold_of(&["D5"])).await);
    assert_eq!(error.code, ErrorCode::Conflict, "{error:?}");
    let map = kiosk.seat_map(SHOW).await;
    let d5 = map.seats.iter().find(|s| s.label == "D5").expect("D5").id;
    assert_eq!(map.states[d5 as usize], SeatState::Free, "nothing was held");
    node.stop().await;
}
