//! Reconnects, `NotLeader` following, retries that must not sell twice, and transport errors.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cinebook_client::types::{BookingStatus, Money, Payment, PaymentMethod, SeatSelection};
use cinebook_client::{new_idempotency_key, Client, ClientConfig, Error};
use cinebook_protocol::types::Booking;
use cinebook_protocol::{ErrorCode, Reply, Request};
use support::{FakeServer, Out};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn booking() -> Booking {
    Booking {
        code: "K7QX-3MPA".into(),
        show_id: 7,
        seats: vec![],
        total: money(),
        payment: payment(),
        status: BookingStatus::Confirmed,
        terminal_id: 3,
        sold_at_ms: 1,
        lamport: 1,
        node_id: 1,
    }
}

fn money() -> Money {
    Money {
        amount_minor: 2_400,
        currency: "EUR".into(),
    }
}

fn payment() -> Payment {
    Payment {
        method: PaymentMethod::Card,
        amount: money(),
        reference: None,
    }
}

fn best_two() -> SeatSelection {
    SeatSelection::Best {
        count: 2,
        category: None,
    }
}

#[tokio::test]
async fn writes_follow_not_leader_to_the_leader_and_stay_there() {
    let leader = FakeServer::start(support::standard).await;
    let leader_addr = leader.addr.clone();
    let follower = FakeServer::start(move |request| match request {
        Request::Hold { .. } | Request::Confirm { .. } => vec![Out::Error(ErrorCode::NotLeader {
            leader: Some(leader_addr.clone()),
        })],
        other => support::standard(other),
    })
    .await;

    let client = Client::connect([follower.addr.clone()], support::quick_config())
        .await
        .expect("connect");
    let hold = client.hold(7, best_two()).await.expect("hold via leader");
    assert_eq!(hold.labels, ["A1", "A2"]);
    assert_eq!(follower.seen_named("hold").len(), 1);
    assert_eq!(leader.seen_named("hold").len(), 1);
    // The retried hold carried the same idempotency key.
    let key = |s: &support::Seen| match &s.request {
        Request::Hold {
            idempotency_key, ..
        } => idempotency_key.clone(),
        _ => None,
    };
    assert!(key(&follower.seen_named("hold")[0]).is_some());
    assert_eq!(
        key(&follower.seen_named("hold")[0]),
        key(&leader.seen_named("hold")[0])
    );
    // Later calls go straight to the leader.
    client.list_cities().await.expect("cities");
    assert_eq!(leader.seen_named("list_cities").len(), 1);
    assert_eq!(client.welcome().map(|w| w.addr), Some(leader.addr.clone()));
}

#[tokio::test]
async fn not_leader_hops_are_bounded() {
    // Two followers that point at each other.
    let a_addr = Arc::new(std::sync::Mutex::new(String::new()));
    let a_for_b = a_addr.clone();
    let b = FakeServer::start(move |request| match request {
        Request::Hold { .. } => vec![Out::Error(ErrorCode::NotLeader {
            leader: Some(a_for_b.lock().expect("addr").clone()),
        })],
        other => support::standard(other),
    })
    .await;
    let b_addr = b.addr.clone();
    let a = FakeServer::start(move |request| match request {
        Request::Hold { .. } => vec![Out::Error(ErrorCode::NotLeader {
            leader: Some(b_addr.clone()),
        })],
        other => support::standard(other),
    })
    .await;
    *a_addr.lock().expect("addr") = a.addr.clone();
    let config = ClientConfig {
        redirects_max: 3,
        attempts_max: 1,
        ..support::quick_config()
    };
    let client = Client::connect([a.addr.clone()], config)
        .await
        .expect("connect");
    let error = client.hold(7, best_two()).await.expect_err("loops forever");
    assert!(matches!(error, Error::NotLeader { .. }), "{error:?}");
    assert_eq!(
        a.seen_named("hold").len() + b.seen_named("hold").len(),
        4,
        "the first try plus three redirects"
    );
}

#[tokio::test]
async fn a_confirm_lost_with_the_connection_is_retried_with_the_same_key() {
    let confirms = Arc::new(AtomicUsize::new(0));
    let counter = confirms.clone();
    let server = FakeServer::start(move |request| match request {
        // The first confirm reaches the server, which dies before answering.
        Request::Confirm { .. } if counter.fetch_add(1, Ordering::SeqCst) == 0 => vec![Out::Close],
        Request::Confirm { .. } => vec![Out::Reply(Reply::Booking(booking()))],
        other => support::standard(other),
    })
    .await;
    let client = Client::connect([server.addr.clone()], support::quick_config())
        .await
        .expect("connect");
    let key = new_idempotency_key();
    let sold = client.confirm(11, payment(), &key).await.expect("confirm");
    assert_eq!(sold.code, "K7QX-3MPA");
    let seen = server.seen_named("confirm");
    assert_eq!(seen.len(), 2);
    assert_eq!(server.connections(), 2, "reconnected once");
    for s in &seen {
        match &s.request {
            Request::Confirm {
                idempotency_key, ..
            } => assert_eq!(idempotency_key, &key),
            other => panic!("{other:?}"),
        }
    }
    assert_ne!(seen[0].connection, seen[1].connection);
}

#[tokio::test]
async fn a_cancel_lost_with_the_connection_is_not_repeated() {
    let server = FakeServer::start(|request| match request {
        Request::Cancel { .. } => vec![Out::Close],
        other => support::standard(other),
    })
    .await;
    let client = Client::connect([server.addr.clone()], support::quick_config())
        .await
        .expect("connect");
    let error = client
        .cancel("K7QX-3MPA", true, "customer left")
        .await
        .expect_err("outcome unknown");
    assert!(
        matches!(
            error,
            Error::Indeterminate {
                request: "cancel",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.seen_named("cancel").len(), 1, "never sent twice");
    // The client is still usable.
    client.list_cities().await.expect("cities after reconnect");
}

#[tokio::test]
async fn unavailable_and_overloaded_are_retried_with_backoff() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = FakeServer::start(move |request| match request {
        // The library asks for lists by pages (PROTOCOL.md §10.2).
        Request::ListPage(_) => match counter.fetch_add(1, Ordering::SeqCst) {
            0 => vec![Out::Error(ErrorCode::Unavailable)],
            1 => vec![Out::Error(ErrorCode::Overloaded)],
            _ => support::standard(request),
        },
        other => support::standard(other),
    })
    .await;
    let client = Client::connect([server.addr.clone()], support::quick_config())
        .await
        .expect("connect");
    let cities = client.list_cities().await.expect("third time lucky");
    assert_eq!(cities.len(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(server.connections(), 1, "no reconnect needed");
}

#[tokio::test]
async fn the_client_reconnects_after_a_server_restart_and_skips_dead_addresses() {
    let server = FakeServer::start(support::standard).await;
    let addr = server.addr.clone();
    // A dead address first in the list: bound then closed, so nothing listens there.
    let dead = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_addr = dead.local_addr().expect("addr").to_string();
    drop(dead);

    let client = Client::connect([dead_addr, addr.clone()], support::quick_config())
        .await
        .expect("connect skips the dead address");
    client.list_cities().await.expect("before restart");
    server.stop();
    drop(server);
    let restarted = FakeServer::start_on(&addr, support::standard).await;
    let cities = client.list_cities().await.expect("after restart");
    assert_eq!(cities[0].name, "Lisbon");
    assert_eq!(restarted.seen_named("hello").len(), 1, "a new hello");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let server = FakeServer::start(|request| match request {
        Request::ListPage(_) => vec![],
        other => support::standard(other),
    })
    .await;
    let config = ClientConfig {
        call_timeout_ms: 200,
        ..support::quick_config()
    };
    let client = Client::connect([server.addr.clone()], config)
        .await
        .expect("connect");
    let started = std::time::Instant::now();
    let error = client.list_cities().await.expect_err("no answer");
    assert_eq!(
        error,
        Error::Timeout {
            call_timeout_ms: 200
        }
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // The abandoned call does not poison the connection.
    client.ping().await.expect("ping after timeout");
}

#[tokio::test]
async fn a_bad_token_is_not_retried() {
    let server = FakeServer::start(|request| match request {
        Request::Hello { .. } => vec![Out::Error(ErrorCode::Unauthenticated)],
        other => support::standard(other),
    })
    .await;
    let error = Client::connect([server.addr.clone()], support::quick_config())
        .await
        .expect_err("refused");
    assert!(matches!(error, Error::Unauthenticated { .. }), "{error:?}");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_peer_that_is_not_cinebook_is_a_typed_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 10];
            let _ = stream.read_exact(&mut buf).await;
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let error = Client::connect([addr], support::quick_config())
        .await
        .expect_err("not cinebook");
    assert!(
        matches!(
            error,
            Error::Preface {
                reason: cinebook_protocol::PrefaceError::BadMagic,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_of_a_future_version_is_a_typed_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 10];
            let _ = stream.read_exact(&mut buf).await;
            let preface =
                cinebook_protocol::preface::encode(cinebook_protocol::PROTOCOL_VERSION + 1);
            let _ = stream.write_all(&preface).await;
        }
    });
    let error = Client::connect([addr], support::quick_config())
        .await
        .expect_err("too new");
    assert!(
        matches!(
            error,
            Error::Preface {
                reason: cinebook_protocol::PrefaceError::UnsupportedVersion { .. },
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn no_address_is_an_error() {
    let error = Client::connect(Vec::<String>::new(), ClientConfig::default())
        .await
        .expect_err("nothing to connect to");
    assert_eq!(error, Error::NoAddress);
}

#[tokio::test]
async fn a_node_shutting_down_is_left_for_another_one() {
    let other = FakeServer::start(support::standard).await;
    let leaving = FakeServer::start(|request| match request {
        Request::Ping { nonce } => vec![
            Out::Reply(Reply::Pong {
                nonce: *nonce,
                server_time_ms: 1,
            }),
            Out::Push(cinebook_protocol::Push::ShuttingDown {
                reason: "maintenance".into(),
                reconnect_after_ms: 0,
            }),
        ],
        other => support::standard(other),
    })
    .await;
    let client = Client::connect(
        [leaving.addr.clone(), other.addr.clone()],
        support::quick_config(),
    )
    .await
    .expect("connect");
    assert_eq!(client.welcome().map(|w| w.addr), Some(leaving.addr.clone()));
    client.ping().await.expect("ping");
    // Let the push arrive before the next call.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    client.list_cities().await.expect("cities elsewhere");
    assert_eq!(other.seen_named("list_cities").len(), 1);
    assert!(leaving.seen_named("list_cities").is_empty());
}
