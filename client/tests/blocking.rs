//! The blocking facade, used from plain threads.

mod support;

use std::time::Duration;

use cinebook_client::blocking::Client;
use cinebook_client::types::{Money, Payment, PaymentMethod, SeatSelection};
use cinebook_client::{Error, SeatUpdate};
use support::FakeServer;

fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn the_blocking_client_sells_and_follows_a_seat_map() {
    let runtime = server_runtime();
    let server = runtime.block_on(FakeServer::start(support::standard));

    let client = Client::connect([server.addr.as_str()], support::quick_config()).expect("connect");
    assert_eq!(client.welcome().map(|w| w.terminal_id), Some(Some(3)));
    assert_eq!(client.list_cities().expect("cities")[0].name, "Lisbon");
    let hold = client
        .hold(7, SeatSelection::Labels(vec!["A1".into(), "A2".into()]))
        .expect("hold");
    assert_eq!(hold.hold_id, 11);
    let payment = Payment {
        method: PaymentMethod::Cash,
        amount: Money {
            amount_minor: 2_400,
            currency: "EUR".into(),
        },
        reference: None,
    };
    // The script has no bookings: the typed error comes through the facade.
    let error = client.confirm(11, payment, "key-1").expect_err("scripted");
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");

    let mut sub = client.subscribe(7);
    match sub.next_timeout(Duration::from_secs(5)) {
        Some(Ok(SeatUpdate::Snapshot(map))) => assert_eq!(map.seq, 4),
        other => panic!("expected a snapshot, got {other:?}"),
    }
    assert!(
        sub.next_timeout(Duration::from_millis(50)).is_none(),
        "nothing more was pushed"
    );
    drop(sub);
    drop(client);
    drop(server);
}

#[test]
fn the_blocking_client_reports_an_unreachable_server() {
    let runtime = server_runtime();
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        listener.local_addr().expect("addr").to_string()
    });
    let config = cinebook_client::ClientConfig {
        call_timeout_ms: 300,
        ..support::quick_config()
    };
    let error = Client::connect([addr], config).expect_err("nothing listens");
    assert!(error.is_retryable(), "{error:?}");
}
