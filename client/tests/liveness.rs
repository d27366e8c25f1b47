//! `liveness_timeout_ms`: a node that stops answering (paused, cut off) is left for another one
//! well before `call_timeout_ms`; a node that is only slow is not.

mod support;

use std::time::{Duration, Instant};

use cinebook_client::types::{BookingStatus, Money, Payment, PaymentMethod};
use cinebook_client::{new_idempotency_key, Client, ClientConfig, Error};
use cinebook_protocol::types::Booking;
use cinebook_protocol::{Reply, Request};
use support::{FakeServer, Out};

fn payment() -> Payment {
    Payment {
        method: PaymentMethod::Card,
        amount: Money {
            amount_minor: 2_400,
            currency: "EUR".into(),
        },
        reference: None,
    }
}

fn booking() -> Booking {
    Booking {
        code: "K7QX-3MPA".into(),
        show_id: 7,
        seats: vec![],
        total: payment().amount,
        payment: payment(),
        status: BookingStatus::Confirmed,
        terminal_id: 3,
        sold_at_ms: 1,
        lamport: 1,
        node_id: 2,
    }
}

/// A node that greets, then never answers anything again (not even a ping): a paused process.
async fn frozen() -> FakeServer {
    FakeServer::start(|request| match request {
        Request::Hello { .. } => support::standard(request),
        _ => vec![],
    })
    .await
}

fn config(liveness_timeout_ms: u64) -> ClientConfig {
    ClientConfig {
        call_timeout_ms: 5_000,
        liveness_timeout_ms,
        ..support::quick_config()
    }
}

#[tokio::test]
async fn a_confirm_on_an_unresponsive_node_is_retried_elsewhere_with_the_same_key() {
    let stuck = frozen().await;
    let good = FakeServer::start(|request| match request {
        Request::Confirm { .. } => vec![Out::Reply(Reply::Booking(booking()))],
        other => support::standard(other),
    })
    .await;
    let client = Client::connect([stuck.addr.clone(), good.addr.clone()], config(100))
        .await
        .expect("connect");
    assert_eq!(stuck.connections(), 1, "the first address is tried first");
    let key = new_idempotency_key();
    let started = Instant::now();
    let sold = client.confirm(11, payment(), &key).await.expect("confirm");
    let took = started.elapsed();
    assert_eq!(sold.code, "K7QX-3MPA");
    assert!(
        took < Duration::from_millis(1_500),
        "left the frozen node after {took:?}, not at the 5 s call timeout"
    );
    let keys = |server: &FakeServer| -> Vec<String> {
        server
            .seen_named("confirm")
            .into_iter()
            .filter_map(|s| match s.request {
                Request::Confirm {
                    idempotency_key, ..
                } => Some(idempotency_key),
                _ => None,
            })
            .collect()
    };
    assert_eq!(keys(&stuck), vec![key.clone()]);
    assert_eq!(keys(&good), vec![key], "retried with the same key");
    assert!(
        !stuck.seen_named("ping").is_empty(),
        "the silent node was pinged before it was given up"
    );
}

#[tokio::test]
async fn a_cancel_on_an_unresponsive_node_is_indeterminate_not_repeated() {
    let stuck = frozen().await;
    let client = Client::connect([stuck.addr.clone()], config(100))
        .await
        .expect("connect");
    let started = Instant::now();
    let error = client
        .cancel("K7QX-3MPA", true, "test")
        .await
        .expect_err("no answer");
    assert!(
        matches!(error, Error::Indeterminate { .. }),
        "a cancel that may have happened is not repeated: {error:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1_500));
    assert_eq!(stuck.seen_named("cancel").len(), 1);
}

#[tokio::test]
async fn a_slow_node_that_answers_pings_keeps_its_connection() {
    let slow = FakeServer::start(|request| match request {
        Request::Confirm { .. } => vec![Out::DelayMs(700), Out::Reply(Reply::Booking(booking()))],
        other => support::standard(other),
    })
    .await;
    let client = Client::connect([slow.addr.clone()], config(100))
        .await
        .expect("connect");
    let sold = client
        .confirm(11, payment(), &new_idempotency_key())
        .await
        .expect("a slow confirm is waited for");
    assert_eq!(sold.code, "K7QX-3MPA");
    assert_eq!(slow.connections(), 1, "never reconnected");
    assert_eq!(slow.seen_named("confirm").len(), 1, "never repeated");
    assert!(
        !slow.seen_named("ping").is_empty(),
        "it was pinged meanwhile"
    );
}

#[tokio::test]
async fn without_a_liveness_timeout_a_silent_node_is_waited_for() {
    let stuck = frozen().await;
    let config = ClientConfig {
        call_timeout_ms: 400,
        ..config(0)
    };
    let client = Client::connect([stuck.addr.clone()], config)
        .await
        .expect("connect");
    let error = client
        .confirm(11, payment(), &new_idempotency_key())
        .await
        .expect_err("no answer");
    assert_eq!(
        error,
        Error::Timeout {
            call_timeout_ms: 400
        }
    );
    assert!(stuck.seen_named("ping").is_empty());
}

#[tokio::test]
async fn a_guest_never_pings() {
    let stuck = frozen().await;
    let config = ClientConfig {
        token: None,
        call_timeout_ms: 400,
        ..config(100)
    };
    let client = Client::connect([stuck.addr.clone()], config)
        .await
        .expect("connect");
    let error = client.list_cities().await.expect_err("no answer");
    assert_eq!(
        error,
        Error::Timeout {
            call_timeout_ms: 400
        }
    );
    assert!(
        stuck.seen_named("ping").is_empty(),
        "a guest's ping would queue behind the node's guest reads"
    );
}
