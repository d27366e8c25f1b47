//! Idle subscribed guests over real TCP (issue 13 item 4): a guest that sent nothing for
//! `idle_timeout_ms` is sent `Push::Ping` and closed if it sends nothing within
//! `guest_ping_timeout_ms`; a guest that answers stays, and terminals are never pinged.

mod support;

use std::time::{Duration, Instant};

use cinebook_protocol::types::Role;
use cinebook_protocol::{Body, Push, Reply, Request};
use cinebook_server::config::ConnectionLimits;
use cinebook_server::Config;
use support::*;

const IDLE_MS: u64 = 300;
const PING_TIMEOUT_MS: u64 = 400;

fn config() -> Config {
    Config {
        idle_timeout_ms: IDLE_MS,
        limits: ConnectionLimits {
            guest_ping_timeout_ms: PING_TIMEOUT_MS,
            ..ConnectionLimits::default()
        },
        ..test_config()
    }
}

/// A guest (no token) subscribed to the sample show.
async fn subscribed(node: &TestNode, token: Option<String>) -> TestClient {
    let mut client = TestClient::connect(node.addr(), token).await;
    let subscribed = client.call(Request::Subscribe { show_id: SHOW }).await;
    assert!(
        matches!(subscribed, Ok(Reply::Subscribed { .. })),
        "{subscribed:?}"
    );
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_guest_that_never_answers_is_pinged_then_closed() {
    let node = TestNode::start_with(config(), None).await;
    let mut guest = subscribed(&node, None).await;
    let start = Instant::now();
    let mut pinged_at = None;
    let closed_at = loop {
        match guest.next_within(Duration::from_secs(5)).await {
            Err(()) => panic!(
                "a silent subscribed guest was still open 5 s after its last frame (ping: {pinged_at:?})"
            ),
            Ok(None) => break start.elapsed(),
            Ok(Some(envelope)) => match envelope.body {
                Body::Push(Push::Ping { .. }) => {
                    assert!(pinged_at.is_none(), "pinged twice before being closed");
                    pinged_at = Some(start.elapsed());
                }
                Body::Push(_) => {}
                other => panic!("unexpected frame: {other:?}"),
            },
        }
    };
    let pinged_at = pinged_at.expect("closed without a Ping first");
    assert!(
        pinged_at >= Duration::from_millis(IDLE_MS - 50),
        "pinged after {pinged_at:?}, before idle_timeout_ms ({IDLE_MS})"
    );
    let expected = Duration::from_millis(IDLE_MS + PING_TIMEOUT_MS);
    assert!(
        closed_at >= expected - Duration::from_millis(100),
        "closed after {closed_at:?}, before idle + ping timeout ({expected:?})"
    );
    assert!(
        closed_at <= expected + Duration::from_millis(1_000),
        "closed after {closed_at:?}, long after idle + ping timeout ({expected:?})"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_guest_that_answers_every_ping_stays_open() {
    let node = TestNode::start_with(config(), None).await;
    let mut guest = subscribed(&node, None).await;
    let start = Instant::now();
    let mut pings = 0;
    // Several idle periods, each answered only when pinged.
    while start.elapsed() < Duration::from_millis(5 * (IDLE_MS + PING_TIMEOUT_MS)) {
        match guest.next_within(Duration::from_secs(5)).await {
            Err(()) => panic!("no Ping within 5 s of an answered one"),
            Ok(None) => panic!("a guest that answered {pings} pings was closed"),
            Ok(Some(envelope)) => match envelope.body {
                Body::Push(Push::Ping { nonce }) => {
                    pings += 1;
                    let pong = guest.call(Request::Ping { nonce }).await;
                    assert!(
                        matches!(pong, Ok(Reply::Pong { nonce: n, .. }) if n == nonce),
                        "{pong:?}"
                    );
                }
                Body::Push(_) => {}
                other => panic!("unexpected frame: {other:?}"),
            },
        }
    }
    assert!(pings >= 3, "only {pings} pings in five idle periods");
    let after = guest.call(Request::Ping { nonce: 7 }).await;
    assert!(
        matches!(after, Ok(Reply::Pong { nonce: 7, .. })),
        "{after:?}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_terminal_is_never_pinged_nor_closed_for_idling() {
    let node = TestNode::start_with(config(), None).await;
    let token = node.token(Role::Kiosk, 0);
    let mut kiosk = subscribed(&node, Some(token)).await;
    let silence = Duration::from_millis(3 * (IDLE_MS + PING_TIMEOUT_MS));
    match kiosk.next_within(silence).await {
        Err(()) => {}
        Ok(None) => panic!("a subscribed kiosk was closed for idling"),
        Ok(Some(envelope)) => panic!("a silent kiosk was sent {:?}", envelope.body),
    }
    let after = kiosk.call(Request::Ping { nonce: 9 }).await;
    assert!(
        matches!(after, Ok(Reply::Pong { nonce: 9, .. })),
        "{after:?}"
    );
    node.stop().await;
}
