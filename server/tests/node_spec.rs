//! Node tests over real TCP and real MariaDB for points where an independent client written
//! from docs/PROTOCOL.md alone found the server and the document disagreeing.

mod support;

use std::time::Duration;

use cinebook_protocol::types::{Money, Payment, PaymentMethod, Role};
use cinebook_protocol::{Body, Envelope, ErrorCode, Reply, Request, PROTOCOL_VERSION};
use cinebook_server::node::now_ms;
use support::{error_of, held, raw_connection, read_raw_frame, test_config, TestNode, SHOW};
use tokio::io::AsyncWriteExt;

/// §7, §15.2: `Welcome.lamport` is the Lamport time of the envelope that carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_lamport_equals_the_envelope_lamport() {
    let node = TestNode::start().await;
    for token in [None, Some(node.token(Role::Kiosk, 0))] {
        let mut stream = raw_connection(node.addr()).await;
        let hello = Envelope::request(
            1,
            1,
            Request::Hello {
                version: PROTOCOL_VERSION,
                client_name: "spec".into(),
                token,
            },
        );
        let frame = cinebook_protocol::codec::encode_frame(&hello).expect("encode");
        stream.write_all(&frame).await.expect("hello");
        match read_raw_frame(&mut stream, Duration::from_secs(10)).await {
            Some(Envelope {
                lamport: envelope,
                body: Body::Reply(Reply::Welcome { lamport, .. }),
                ..
            }) => assert_eq!(lamport, envelope, "Welcome.lamport vs Envelope.lamport"),
            other => panic!("expected Welcome, got {other:?}"),
        }
    }
    node.stop().await;
}

fn card(amount: Money) -> Payment {
    Payment {
        method: PaymentMethod::Card,
        amount,
        reference: None,
    }
}

/// §8: a hold id that never existed is `NotFound` for `Renew`, `Release` and `Confirm` alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_that_never_existed_is_not_found_for_renew_release_and_confirm() {
    let node = TestNode::start().await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let hold_id = 1;
    let answers = [
        kiosk.call(Request::Renew { hold_id }).await,
        kiosk.call(Request::Release { hold_id }).await,
        kiosk
            .call(Request::Confirm {
                hold_id,
                payment: card(Money {
                    amount_minor: 1_000,
                    currency: "CHF".into(),
                }),
                idempotency_key: "never-existed".into(),
            })
            .await,
    ];
    for answer in answers {
        let error = error_of(answer);
        assert_eq!(error.code, ErrorCode::NotFound, "{error:?}");
    }
    node.stop().await;
}

/// §8: a hold that expired is `HoldExpired` for `Renew`, `Release` and `Confirm` alike, before
/// and after the sweeper removed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_hold_is_hold_expired_for_renew_release_and_confirm_after_the_sweep() {
    let mut config = test_config();
    config.hold.hold_ttl_ms = 200;
    config.sweep_interval_ms = 50;
    let node = TestNode::start_with(config, None).await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["F7"]).await);
    // Well past the deadline and several sweeps.
    while now_ms() <= hold.expires_at_ms + 500 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hold_id = hold.hold_id;
    let answers = [
        kiosk.call(Request::Renew { hold_id }).await,
        kiosk.call(Request::Release { hold_id }).await,
        kiosk
            .call(Request::Confirm {
                hold_id,
                payment: card(hold.total.clone()),
                idempotency_key: "swept".into(),
            })
            .await,
    ];
    for answer in answers {
        let error = error_of(answer);
        assert_eq!(error.code, ErrorCode::HoldExpired, "{error:?}");
    }
    node.stop().await;
}
