//! 1,000 calls in flight on one connection, answered out of order, each matched by request id.

mod support;

use cinebook_client::Client;
use cinebook_protocol::{Reply, Request};
use support::{FakeServer, Out};

#[tokio::test]
async fn a_thousand_pipelined_calls_share_one_connection_and_match_their_answers() {
    let server = FakeServer::start(|request| match request {
        // Later nonces wait less, so answers overtake each other.
        Request::Ping { nonce } => vec![
            Out::DelayMs(20 - nonce % 20),
            Out::Reply(Reply::Pong {
                nonce: *nonce,
                server_time_ms: 1,
            }),
        ],
        other => support::standard(other),
    })
    .await;
    let client = Client::connect([server.addr.clone()], support::quick_config())
        .await
        .expect("connect");

    let calls = (0..1_000u64).map(|nonce| {
        let client = client.clone();
        async move {
            client
                .ping_nonce(nonce)
                .await
                .map(|pong| (nonce, pong.nonce))
        }
    });
    let answers = futures::future::join_all(calls).await;
    for answer in &answers {
        let (sent, got) = answer.as_ref().expect("ping");
        assert_eq!(sent, got);
    }

    let seen = server.seen();
    assert_eq!(server.connections(), 1, "clones must share the connection");
    assert_eq!(seen.len(), 1_001, "hello plus 1,000 pings");
    let mut ids: Vec<u64> = seen.iter().map(|s| s.request_id).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1..=1_001).collect::<Vec<_>>(),
        "ids from 1, never reused"
    );
    let answered = server.answered.lock().expect("answered").clone();
    assert_eq!(answered.len(), 1_001);
    assert!(
        answered.windows(2).any(|w| w[0] > w[1]),
        "the script must answer out of order for this test to mean anything"
    );
}

#[tokio::test]
async fn every_frame_carries_a_lamport_time_past_what_the_server_sent() {
    let server = FakeServer::start(support::standard).await;
    let client = Client::connect([server.addr.clone()], support::quick_config())
        .await
        .expect("connect");
    // The server's clock starts at 1,000; after its Welcome, ours must be past it.
    assert!(client.lamport() > 1_000, "observed: {}", client.lamport());
    client.ping().await.expect("ping");
    let seen = server.seen();
    assert!(seen[0].lamport >= 1, "hello carries our time");
    assert!(seen[1].lamport > 1_000, "the ping is after the welcome");
}
