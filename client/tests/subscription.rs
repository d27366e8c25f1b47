//! Live seat maps: changes in sequence, and a fresh snapshot after any gap, resync or reconnect.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cinebook_client::types::{ChangeCause, SeatChange, SeatState};
use cinebook_client::{Client, SeatUpdate};
use cinebook_protocol::{Push, Reply, Request};
use futures::StreamExt;
use support::{FakeServer, Out};

fn changed(seq: u64, seat_id: u32, state: SeatState) -> Push {
    Push::SeatsChanged {
        show_id: 7,
        seq,
        cause: ChangeCause::Held,
        changes: vec![SeatChange { seat_id, state }],
    }
}

async fn next(sub: &mut cinebook_client::Subscription) -> SeatUpdate {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("an update in time")
        .expect("stream open")
        .expect("no error")
}

fn seq_of(update: &SeatUpdate) -> (bool, u64) {
    match update {
        SeatUpdate::Snapshot(map) => (true, map.seq),
        SeatUpdate::Changes { seq, .. } => (false, *seq),
    }
}

#[tokio::test]
async fn a_gap_or_a_resync_refetches_the_seat_map() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let server = FakeServer::start(move |request| match request {
        Request::GetSeatMap { .. } => match counter.fetch_add(1, Ordering::SeqCst) {
            // Map at 4; then 4 again (already in the map), 5 in order, then 7: a gap.
            0 => vec![
                Out::Reply(Reply::SeatMap(support::seat_map(4))),
                Out::Push(changed(4, 0, SeatState::Held)),
                Out::Push(changed(5, 1, SeatState::Held)),
                Out::Push(changed(7, 3, SeatState::Sold)),
            ],
            // Fetched again at 7, then the server says this connection fell behind.
            1 => vec![
                Out::Reply(Reply::SeatMap(support::seat_map(7))),
                Out::Push(Push::Resync { show_id: 7 }),
            ],
            _ => vec![
                Out::Reply(Reply::SeatMap(support::seat_map(9))),
                Out::Push(changed(10, 2, SeatState::Sold)),
            ],
        },
        other => support::standard(other),
    })
    .await;
    let client = Client::connect([server.addr.clone()], support::quick_config())
        .await
        .expect("connect");
    let mut sub = client.subscribe(7);
    let mut map = None;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let update = next(&mut sub).await;
        seen.push(seq_of(&update));
        update.apply(&mut map);
    }
    assert_eq!(
        seen,
        [(true, 4), (false, 5), (true, 7), (true, 9), (false, 10)],
        "snapshot, change, snapshot after the gap, snapshot after resync, change"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
    let map = map.expect("a map");
    assert_eq!(map.seq, 10);
    assert_eq!(map.states[2], SeatState::Sold);
    assert_eq!(server.seen_named("subscribe").len(), 1);

    drop(sub);
    // Dropping the stream unsubscribes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.seen_named("unsubscribe").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no unsubscribe");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_lost_connection_resubscribes_and_starts_with_a_snapshot() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let server = FakeServer::start(move |request| match request {
        Request::GetSeatMap { .. } => match counter.fetch_add(1, Ordering::SeqCst) {
            0 => vec![
                Out::Reply(Reply::SeatMap(support::seat_map(4))),
                Out::Push(changed(5, 1, SeatState::Held)),
                Out::DelayMs(20),
                Out::Close,
            ],
            _ => vec![Out::Reply(Reply::SeatMap(support::seat_map(12)))],
        },
        other => support::standard(other),
    })
    .await;
    let client = Client::connect([server.addr.clone()], support::quick_config())
        .await
        .expect("connect");
    let mut sub = client.subscribe(7);
    let seen = [seq_of(&next(&mut sub).await), seq_of(&next(&mut sub).await)];
    assert_eq!(seen, [(true, 4), (false, 5)]);
    // The connection closes; the stream may report it, then comes back with a snapshot.
    let update = loop {
        let item = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("in time")
            .expect("open");
        if let Ok(update) = item {
            break update;
        }
    };
    assert_eq!(seq_of(&update), (true, 12));
    assert_eq!(server.seen_named("subscribe").len(), 2);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn an_unknown_show_ends_the_stream_with_not_found() {
    let server = FakeServer::start(|request| match request {
        Request::Subscribe { .. } => vec![Out::Error(cinebook_protocol::ErrorCode::NotFound)],
        other => support::standard(other),
    })
    .await;
    let client = Client::connect([server.addr.clone()], support::quick_config())
        .await
        .expect("connect");
    let mut sub = client.subscribe(99);
    let first = sub.next().await.expect("an item");
    assert!(matches!(
        first,
        Err(cinebook_client::Error::NotFound { .. })
    ));
    let end = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("ends in time");
    assert!(end.is_none(), "the stream ends");
}

#[tokio::test]
async fn a_server_ping_is_answered_with_a_ping_of_the_same_nonce() {
    let server = FakeServer::start(move |request| match request {
        Request::GetSeatMap { .. } => vec![
            Out::Reply(Reply::SeatMap(support::seat_map(4))),
            Out::Push(Push::Ping { nonce: 4242 }),
            Out::Push(changed(5, 1, SeatState::Held)),
        ],
        other => support::standard(other),
    })
    .await;
    let client = Client::connect([server.addr.clone()], support::quick_config())
        .await
        .expect("connect");
    let mut sub = client.subscribe(7);
    assert_eq!(seq_of(&next(&mut sub).await), (true, 4));
    // The Ping is not an update: the change after it is the next one.
    assert_eq!(seq_of(&next(&mut sub).await), (false, 5));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let answered = loop {
        let pings: Vec<_> = server
            .seen_named("ping")
            .into_iter()
            .filter(|s| matches!(s.request, Request::Ping { nonce: 4242 }))
            .collect();
        if !pings.is_empty() || tokio::time::Instant::now() > deadline {
            break pings;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(answered.len(), 1, "the Ping push was not answered once");
    // Its request id is the connection's own: a later call still gets its own answer.
    let ids: Vec<u64> = server.seen().iter().map(|s| s.request_id).collect();
    let unique: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "request ids reused: {ids:?}");
    let pong = client.ping_nonce(9).await.expect("ping after the answer");
    assert_eq!(pong.nonce, 9);
}
