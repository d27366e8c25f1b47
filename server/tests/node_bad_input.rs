//! Node tests over real TCP and real MariaDB: bad input gets a typed error, and another
//! connection keeps selling all the while (a [`Seller`] runs through every test and must make
//! progress after the bad input).

mod support;

use std::time::{Duration, Instant};

use cinebook_protocol::types::{Money, Payment, PaymentMethod, Role, SeatSelection};
use cinebook_protocol::{
    preface, Body, Envelope, ErrorCode, Reply, Request, PROTOCOL_VERSION, PUSH_REQUEST_ID,
};
use cinebook_server::node::now_ms;
use support::{
    error_of, expect_raw_eof, held, raw_connection, raw_hello, read_raw_frame, test_config, Seller,
    TestClient, TestNode, SHOW,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

/// Asserts `envelope` is an error with `code` for `request_id`.
fn assert_error(envelope: Option<Envelope>, request_id: u64, code: ErrorCode) {
    match envelope {
        Some(Envelope {
            request_id: id,
            body: Body::Error(error),
            ..
        }) => {
            assert_eq!(id, request_id, "{error:?}");
            assert_eq!(error.code, code, "{error:?}");
        }
        other => panic!("expected a {} error, got {other:?}", code.name()),
    }
}

async fn start() -> (TestNode, Seller) {
    let node = TestNode::start().await;
    let seller = Seller::start(&node).await;
    seller.expect_progress(1).await;
    (node, seller)
}

async fn finish(node: TestNode, seller: Seller) {
    seller.expect_progress(3).await;
    seller.finish().await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_is_answered_bad_frame_then_closed() {
    let (node, seller) = start().await;
    let mut stream = raw_connection(node.addr()).await;
    raw_hello(&mut stream, Some(node.token(Role::Kiosk, 0))).await;
    let too_long = u32::try_from(test_config().frame_max_bytes + 1).expect("fits");
    stream
        .write_all(&too_long.to_be_bytes())
        .await
        .expect("header");
    stream.write_all(&[0u8; 64]).await.expect("some payload");
    assert_error(
        read_raw_frame(&mut stream, WAIT).await,
        PUSH_REQUEST_ID,
        ErrorCode::BadFrame,
    );
    expect_raw_eof(&mut stream, WAIT).await;
    finish(node, seller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_the_preface_is_answered_bad_frame_then_closed() {
    let (node, seller) = start().await;
    // Text where a length header belongs ("GARB" is a 1.2 GB frame).
    let mut stream = raw_connection(node.addr()).await;
    stream
        .write_all(b"GARBAGE \x01\x02\x03 not a frame at all \xff\xfe")
        .await
        .expect("garbage");
    assert_error(
        read_raw_frame(&mut stream, WAIT).await,
        PUSH_REQUEST_ID,
        ErrorCode::BadFrame,
    );
    expect_raw_eof(&mut stream, WAIT).await;
    // A zero-length frame is never valid either.
    let mut stream = raw_connection(node.addr()).await;
    stream.write_all(&[0, 0, 0, 0]).await.expect("empty frame");
    assert_error(
        read_raw_frame(&mut stream, WAIT).await,
        PUSH_REQUEST_ID,
        ErrorCode::BadFrame,
    );
    expect_raw_eof(&mut stream, WAIT).await;
    finish(node, seller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_on_the_port_gets_the_readable_line_then_close() {
    let (node, seller) = start().await;
    let mut stream = TcpStream::connect(node.addr()).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n")
        .await
        .expect("request");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("closed in time");
    assert!(read.is_ok(), "read failed after {answer:?}: {read:?}");
    assert_eq!(
        String::from_utf8_lossy(&answer),
        preface::WRONG_MAGIC_LINE,
        "the readable line, then close"
    );
    finish(node, seller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_protocol_version_gets_the_server_preface_and_unsupported_version() {
    let (node, seller) = start().await;
    let mut stream = TcpStream::connect(node.addr()).await.expect("connect");
    stream
        .write_all(&preface::encode(PROTOCOL_VERSION + 98))
        .await
        .expect("preface");
    let mut answer = [0u8; preface::PREFACE_LEN];
    tokio::time::timeout(WAIT, stream.read_exact(&mut answer))
        .await
        .expect("in time")
        .expect("server preface");
    assert_eq!(
        preface::check(&answer),
        preface::PrefaceCheck::Accepted(PROTOCOL_VERSION)
    );
    assert_error(
        read_raw_frame(&mut stream, WAIT).await,
        PUSH_REQUEST_ID,
        ErrorCode::UnsupportedVersion {
            min: cinebook_protocol::PROTOCOL_VERSION_MIN,
            max: PROTOCOL_VERSION,
        },
    );
    expect_raw_eof(&mut stream, WAIT).await;
    finish(node, seller).await;
}

/// Sends `bytes` (the start of a frame) and expects BadFrame then close, not before
/// `frame_timeout_ms` and well within twice it.
async fn half_frame_is_closed(node: &TestNode, bytes: &[u8]) {
    let timeout = Duration::from_millis(test_config().frame_timeout_ms);
    let mut stream = raw_connection(node.addr()).await;
    raw_hello(&mut stream, Some(node.token(Role::Kiosk, 0))).await;
    let sent = Instant::now();
    stream.write_all(bytes).await.expect("half a frame");
    assert_error(
        read_raw_frame(&mut stream, timeout * 2 + Duration::from_millis(500)).await,
        PUSH_REQUEST_ID,
        ErrorCode::BadFrame,
    );
    assert!(
        sent.elapsed() >= timeout - Duration::from_millis(100),
        "closed after {:?}, before frame_timeout_ms",
        sent.elapsed()
    );
    expect_raw_eof(&mut stream, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_frame_then_silence_is_closed_after_the_frame_timeout() {
    let (node, seller) = start().await;
    // A header and part of the payload.
    let mut partial = 100u32.to_be_bytes().to_vec();
    partial.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    half_frame_is_closed(&node, &partial).await;
    // A whole header and nothing more.
    half_frame_is_closed(&node, &100u32.to_be_bytes()).await;
    // Half a header.
    half_frame_is_closed(&node, &[0, 0]).await;
    finish(node, seller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowly_dribbled_frame_is_closed_after_the_frame_timeout() {
    let (node, seller) = start().await;
    let timeout = Duration::from_millis(test_config().frame_timeout_ms);
    let mut stream = raw_connection(node.addr()).await;
    raw_hello(&mut stream, Some(node.token(Role::Kiosk, 0))).await;
    let sent = Instant::now();
    stream
        .write_all(&100u32.to_be_bytes())
        .await
        .expect("header");
    // One byte every 200 ms: the frame is never finished, though bytes keep coming.
    let mut frame = None;
    for _ in 0..40 {
        if stream.write_all(&[7]).await.is_err() {
            break;
        }
        let mut header = [0u8; 4];
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(200), stream.peek(&mut header)).await
        {
            frame = read_raw_frame(&mut stream, WAIT).await;
            break;
        }
    }
    assert_error(frame, PUSH_REQUEST_ID, ErrorCode::BadFrame);
    assert!(
        sent.elapsed() < timeout * 3,
        "a dribbled frame got {:?}",
        sent.elapsed()
    );
    finish(node, seller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_payload_gets_bad_frame_with_its_request_id_and_the_connection_lives() {
    let (node, seller) = start().await;
    let mut stream = raw_connection(node.addr()).await;
    raw_hello(&mut stream, Some(node.token(Role::Kiosk, 0))).await;
    // Request id 7 (a postcard varint), then bytes that are no envelope.
    let payload = [7u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&payload);
    stream.write_all(&frame).await.expect("frame");
    assert_error(
        read_raw_frame(&mut stream, WAIT).await,
        7,
        ErrorCode::BadFrame,
    );
    // Still usable.
    let ping = Envelope::request(8, 3, Request::Ping { nonce: 42 });
    stream
        .write_all(&cinebook_protocol::codec::encode_frame(&ping).expect("encode"))
        .await
        .expect("ping");
    match read_raw_frame(&mut stream, WAIT).await {
        Some(Envelope {
            request_id: 8,
            body: Body::Reply(Reply::Pong { nonce: 42, .. }),
            ..
        }) => {}
        other => panic!("expected Pong, got {other:?}"),
    }
    finish(node, seller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_before_hello_is_unauthenticated() {
    let (node, seller) = start().await;
    let mut client = TestClient::connect_raw(node.addr()).await;
    let error = error_of(client.call(Request::Ping { nonce: 1 }).await);
    assert_eq!(error.code, ErrorCode::Unauthenticated);
    let error = error_of(
        client
            .call(Request::Hold {
                show_id: SHOW,
                selection: SeatSelection::Best {
                    count: 2,
                    category: None,
                },
                idempotency_key: None,
            })
            .await,
    );
    assert_eq!(error.code, ErrorCode::Unauthenticated);
    // An unknown token is refused too; a good hello afterwards works.
    let error = error_of(
        client
            .call(Request::Hello {
                version: PROTOCOL_VERSION,
                client_name: "test".into(),
                token: Some("cb_not_a_token".into()),
            })
            .await,
    );
    assert_eq!(error.code, ErrorCode::Unauthenticated);
    let welcome = client
        .call(Request::Hello {
            version: PROTOCOL_VERSION,
            client_name: "test".into(),
            token: Some(node.token(Role::Kiosk, 0)),
        })
        .await;
    assert!(matches!(welcome, Ok(Reply::Welcome { .. })), "{welcome:?}");
    assert!(client.call(Request::Ping { nonce: 2 }).await.is_ok());
    finish(node, seller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_answered_with_typed_errors() {
    let (node, seller) = start().await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let payment = Payment {
        method: PaymentMethod::Card,
        amount: Money {
            amount_minor: 1200,
            currency: "CHF".into(),
        },
        reference: None,
    };
    let cases: Vec<(Request, ErrorCode)> = vec![
        (Request::GetSeatMap { show_id: 999 }, ErrorCode::NotFound),
        (
            Request::Availability {
                show_id: 999,
                category: None,
            },
            ErrorCode::NotFound,
        ),
        (
            Request::Hold {
                show_id: 999,
                selection: SeatSelection::Best {
                    count: 1,
                    category: None,
                },
                idempotency_key: None,
            },
            ErrorCode::NotFound,
        ),
        (Request::Subscribe { show_id: 999 }, ErrorCode::NotFound),
        (Request::Unsubscribe { show_id: SHOW }, ErrorCode::NotFound),
        (Request::GetScreen { screen_id: 999 }, ErrorCode::NotFound),
        (Request::Renew { hold_id: 123_456 }, ErrorCode::NotFound),
        (Request::Release { hold_id: 123_456 }, ErrorCode::NotFound),
        // Like renew and release: a hold that never existed is not found (PROTOCOL.md §8).
        (
            Request::Confirm {
                hold_id: 123_456,
                payment,
                idempotency_key: "unknown-hold".into(),
            },
            ErrorCode::NotFound,
        ),
        (
            Request::GetBooking {
                code: "NOPE99".into(),
            },
            ErrorCode::NotFound,
        ),
        // Unknown seats are not "not found": the show exists, the argument is wrong.
        (
            Request::Hold {
                show_id: SHOW,
                selection: SeatSelection::Labels(vec!["Z99".into()]),
                idempotency_key: None,
            },
            ErrorCode::InvalidArgument,
        ),
        (
            Request::Hold {
                show_id: SHOW,
                selection: SeatSelection::Ids(vec![4_000]),
                idempotency_key: None,
            },
            ErrorCode::InvalidArgument,
        ),
    ];
    for (request, code) in cases {
        let name = request.name();
        let error = error_of(kiosk.call(request).await);
        assert_eq!(error.code, code, "{name}: {error:?}");
    }
    let error = error_of(
        office
            .call(Request::Cancel {
                code: "NOPE99".into(),
                refund: true,
                reason: "test".into(),
            })
            .await,
    );
    assert_eq!(error.code, ErrorCode::NotFound, "{error:?}");
    let error = error_of(office.call(Request::ListBookings { show_id: 999 }).await);
    assert_eq!(error.code, ErrorCode::NotFound, "{error:?}");
    finish(node, seller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirming_an_expired_hold_answers_hold_expired() {
    let mut config = test_config();
    // Long enough for the seller's own hold-confirm round trips; no sweeper during the test.
    config.hold.hold_ttl_ms = 1_500;
    config.sweep_interval_ms = 600_000;
    let node = TestNode::start_with(config, None).await;
    let seller = Seller::start(&node).await;
    seller.expect_progress(1).await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["P1", "P2"]).await);
    while now_ms() <= hold.expires_at_ms + 20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = error_of(kiosk.confirm(&hold, PaymentMethod::Card, "expired").await);
    assert_eq!(error.code, ErrorCode::HoldExpired, "{error:?}");
    // And again, now that the hold is gone for good.
    let error = error_of(kiosk.confirm(&hold, PaymentMethod::Card, "expired").await);
    assert_eq!(error.code, ErrorCode::HoldExpired, "{error:?}");
    finish(node, seller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_terminals_hold_is_forbidden() {
    let (node, seller) = start().await;
    let mut owner = node.client(Role::Kiosk, 0).await;
    let mut thief = node.client(Role::Kiosk, 1).await;
    let hold = held(owner.hold_seats(SHOW, &["Q1", "Q2"]).await);
    let error = error_of(thief.confirm(&hold, PaymentMethod::Card, "steal").await);
    assert_eq!(error.code, ErrorCode::Forbidden, "{error:?}");
    for request in [
        Request::Renew {
            hold_id: hold.hold_id,
        },
        Request::Release {
            hold_id: hold.hold_id,
        },
    ] {
        let error = error_of(thief.call(request).await);
        assert_eq!(error.code, ErrorCode::Forbidden, "{error:?}");
    }
    // The owner's hold is untouched and sells.
    let booking = support::booked(owner.confirm(&hold, PaymentMethod::Card, "mine").await);
    assert_eq!(booking.seats.len(), 2);
    finish(node, seller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_payment_amount_is_invalid_and_the_hold_stays_usable() {
    let (node, seller) = start().await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["R5", "R6"]).await);
    let wrong = [
        Money {
            amount_minor: hold.total.amount_minor - 1,
            currency: hold.total.currency.clone(),
        },
        Money {
            amount_minor: hold.total.amount_minor,
            currency: "EUR".into(),
        },
        Money {
            amount_minor: -hold.total.amount_minor,
            currency: hold.total.currency.clone(),
        },
    ];
    for (i, amount) in wrong.into_iter().enumerate() {
        let error = error_of(
            kiosk
                .call(Request::Confirm {
                    hold_id: hold.hold_id,
                    payment: Payment {
                        method: PaymentMethod::Card,
                        amount,
                        reference: None,
                    },
                    idempotency_key: format!("wrong-{i}"),
                })
                .await,
        );
        assert_eq!(error.code, ErrorCode::InvalidArgument, "{error:?}");
    }
    let booking = support::booked(kiosk.confirm(&hold, PaymentMethod::Card, "right").await);
    assert_eq!(booking.total, hold.total);
    finish(node, seller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_max_connections_gets_overloaded_then_close() {
    let mut config = test_config();
    config.max_connections = 3;
    let node = TestNode::start_with(config, None).await;
    let seller = Seller::start(&node).await;
    seller.expect_progress(1).await;
    let first = node.client(Role::Kiosk, 0).await;
    let mut second = node.client(Role::Kiosk, 1).await;
    let mut stream = TcpStream::connect(node.addr()).await.expect("connect");
    let mut answer = [0u8; preface::PREFACE_LEN];
    tokio::time::timeout(WAIT, stream.read_exact(&mut answer))
        .await
        .expect("in time")
        .expect("server preface");
    assert_eq!(
        preface::check(&answer),
        preface::PrefaceCheck::Accepted(PROTOCOL_VERSION)
    );
    assert_error(
        read_raw_frame(&mut stream, WAIT).await,
        PUSH_REQUEST_ID,
        ErrorCode::Overloaded,
    );
    expect_raw_eof(&mut stream, WAIT).await;
    // The admitted connections are unaffected; when one leaves, a newcomer is admitted.
    assert!(second.call(Request::Ping { nonce: 1 }).await.is_ok());
    drop(first);
    let deadline = Instant::now() + WAIT;
    loop {
        let mut stream = TcpStream::connect(node.addr()).await.expect("connect");
        stream
            .write_all(&preface::encode(PROTOCOL_VERSION))
            .await
            .expect("preface");
        let mut answer = [0u8; preface::PREFACE_LEN];
        stream.read_exact(&mut answer).await.expect("preface");
        let hello = Envelope::request(
            1,
            1,
            Request::Hello {
                version: PROTOCOL_VERSION,
                client_name: "late".into(),
                token: None,
            },
        );
        let sent = stream
            .write_all(&cinebook_protocol::codec::encode_frame(&hello).expect("encode"))
            .await;
        let reply = match sent {
            Ok(()) => read_raw_frame(&mut stream, WAIT).await,
            Err(_) => None,
        };
        match reply.map(|e| e.body) {
            Some(Body::Reply(Reply::Welcome { .. })) => break,
            Some(Body::Error(e)) if e.code == ErrorCode::Overloaded => {}
            None => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(Instant::now() < deadline, "no connection admitted again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seller.expect_progress(3).await;
    seller.finish().await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dribbled_preface_is_closed_after_the_frame_timeout() {
    let (node, seller) = start().await;
    let timeout = Duration::from_millis(test_config().frame_timeout_ms);
    let mut stream = TcpStream::connect(node.addr()).await.expect("connect");
    let started = Instant::now();
    // One byte every 300 ms: a whole preface would take three seconds.
    let mut closed = false;
    for byte in preface::encode(PROTOCOL_VERSION) {
        if stream.write_all(&[byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut answer = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut answer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => panic!("the server answered a preface that took too long"),
            Err(_) => {}
        }
    }
    assert!(closed, "the dribbled preface was accepted");
    assert!(
        started.elapsed() < timeout * 2,
        "closed after {:?}",
        started.elapsed()
    );
    finish(node, seller).await;
}

/// Asserts `answer` is an `InvalidArgument` naming `field` and its limit.
fn assert_too_long(answer: Result<Reply, cinebook_protocol::ErrorBody>, field: &str, limit: usize) {
    let error = error_of(answer);
    assert_eq!(error.code, ErrorCode::InvalidArgument, "{field}: {error:?}");
    assert!(
        error.message.contains(field) && error.message.contains(&limit.to_string()),
        "the error names {field} and {limit}: {error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_long_strings_are_refused_before_they_reach_the_database() {
    use cinebook_server::store::mysql::widths;
    let (node, seller) = start().await;
    let mut cashier = node.client(Role::BoxOffice, 0).await;
    let hold = held(cashier.hold_seats(SHOW, &["P5", "P6"]).await);
    let long_reference = Payment {
        method: PaymentMethod::Card,
        amount: hold.total.clone(),
        reference: Some("r".repeat(widths::PAYMENT_REFERENCE + 1)),
    };
    assert_too_long(
        cashier
            .call(Request::Confirm {
                hold_id: hold.hold_id,
                payment: long_reference,
                idempotency_key: "long-ref".into(),
            })
            .await,
        "payment.reference",
        widths::PAYMENT_REFERENCE,
    );
    assert_too_long(
        cashier
            .call(Request::Confirm {
                hold_id: hold.hold_id,
                payment: Payment {
                    method: PaymentMethod::Card,
                    amount: hold.total.clone(),
                    reference: None,
                },
                idempotency_key: "k".repeat(widths::IDEMPOTENCY_KEY + 1),
            })
            .await,
        "idempotency_key",
        widths::IDEMPOTENCY_KEY,
    );
    // Nothing was queued: the hold is still there and sells.
    let booking = support::booked(cashier.confirm(&hold, PaymentMethod::Card, "fine").await);
    assert_too_long(
        cashier
            .call(Request::Cancel {
                code: booking.code.clone(),
                refund: true,
                reason: "x".repeat(widths::REASON + 1),
            })
            .await,
        "reason",
        widths::REASON,
    );
    assert_too_long(
        cashier
            .call(Request::Hold {
                show_id: SHOW,
                selection: SeatSelection::Labels(vec!["P7".into()]),
                idempotency_key: Some("h".repeat(widths::IDEMPOTENCY_KEY + 1)),
            })
            .await,
        "idempotency_key",
        widths::IDEMPOTENCY_KEY,
    );
    let mut admin = node.client(Role::Admin, 0).await;
    assert_too_long(
        admin
            .call(Request::UpsertCity(cinebook_protocol::types::City {
                id: 77,
                name: "n".repeat(widths::NAME + 1),
            }))
            .await,
        "city.name",
        widths::NAME,
    );
    let still = support::booked(
        cashier
            .call(Request::GetBooking {
                code: booking.code.clone(),
            })
            .await,
    );
    assert_eq!(
        still.status,
        cinebook_protocol::types::BookingStatus::Confirmed
    );
    finish(node, seller).await;
}
