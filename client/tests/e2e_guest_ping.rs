//! The library as a guest against a real node that pings idle subscribed guests (issue 13
//! item 4): the library answers every `Push::Ping`, so its subscription stays on the same
//! connection for many idle periods (a reconnect would show up as a fresh snapshot).

mod live;

use std::time::Duration;

use cinebook_client::types::{ChangeCause, Role, SeatSelection};
use cinebook_client::{Client, ClientConfig, SeatUpdate};
use futures::StreamExt;
use live::{LiveNode, SHOW, TEST_LIMIT};

const IDLE_MS: u64 = 300;
const PING_TIMEOUT_MS: u64 = 400;

fn short_idle(config: &mut cinebook_server::Config) {
    config.idle_timeout_ms = IDLE_MS;
    config.limits.guest_ping_timeout_ms = PING_TIMEOUT_MS;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_subscription_stays_open_across_idle_periods() {
    let node = LiveNode::start_configured(short_idle).await;
    tokio::time::timeout(TEST_LIMIT, async {
        let guest = ClientConfig {
            client_name: "e2e-guest".into(),
            ..ClientConfig::default()
        };
        let watcher = Client::connect([node.addr_string()], guest)
            .await
            .expect("connect guest");
        let mut live = watcher.subscribe(SHOW);
        let first = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("a snapshot in time")
            .expect("stream open")
            .expect("no error");
        let SeatUpdate::Snapshot(map) = &first else {
            panic!("expected a snapshot first, got {first:?}");
        };
        let seq = map.seq;

        // Five idle periods of silence: a closed connection would resubscribe with a snapshot.
        let silence = Duration::from_millis(5 * (IDLE_MS + PING_TIMEOUT_MS));
        if let Ok(update) = tokio::time::timeout(silence, live.next()).await {
            let what = match update {
                Some(Ok(SeatUpdate::Snapshot(_))) => "a fresh snapshot (it reconnected)",
                Some(Ok(_)) => "a change nobody made",
                Some(Err(_)) => "an error",
                None => "the end of the stream",
            };
            panic!("the guest's subscription was interrupted: {what}");
        }

        let seller = Client::connect([node.addr_string()], node.client_config(Role::BoxOffice))
            .await
            .expect("connect seller");
        seller
            .hold(SHOW, SeatSelection::Labels(vec!["D4".into()]))
            .await
            .expect("hold");
        let update = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("an update in time")
            .expect("stream open")
            .expect("no error");
        match update {
            SeatUpdate::Changes {
                seq: got, cause, ..
            } => {
                assert_eq!(got, seq + 1, "the change continues the first snapshot");
                assert_eq!(cause, ChangeCause::Held);
            }
            SeatUpdate::Snapshot(_) => {
                panic!("expected the hold as a change on the same connection, got a snapshot")
            }
        }
    })
    .await
    .expect("the test did not finish in time");
    node.stop().await;
}
