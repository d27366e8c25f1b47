//! One node subscription per show, shared by every WebSocket viewer of that show on this
//! process: the feed keeps the show's current map (so a new viewer starts from a snapshot) and
//! fans each update out as ready JSON text: encoded once per update into one reference-counted
//! buffer (`Utf8Bytes`) that every socket sends as it is, with no per-socket serialisation or
//! copy. A feed with no viewers left stops, which drops its subscription.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use cinebook_client::{Client, SeatUpdate};
use cinebook_protocol::types::{SeatMap, ShowId};
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::api::live::encode;

/// Messages buffered per show for viewers; a viewer further behind is disconnected (its page
/// reconnects and starts again from a snapshot).
pub const LIVE_BUFFER_LEN: usize = 256;

/// How often a feed checks whether it still has viewers.
pub const IDLE_CHECK_MS: u64 = 5_000;

/// The live feeds of this process.
#[derive(Debug, Default)]
pub struct LiveHub {
    feeds: Mutex<HashMap<ShowId, Arc<Feed>>>,
}

#[derive(Debug)]
struct Feed {
    tx: broadcast::Sender<Utf8Bytes>,
    map: Mutex<Option<SeatMap>>,
}

/// A viewer's start: the snapshot to send first (if the feed has one yet) and the updates after.
#[derive(Debug)]
pub struct Joined {
    /// The current map as a `snapshot` message.
    pub snapshot: Option<String>,
    /// Every later update.
    pub updates: broadcast::Receiver<Utf8Bytes>,
}

impl LiveHub {
    /// Joins a show's feed, starting it if needed.
    pub fn join(self: &Arc<Self>, client: &Client, show_id: ShowId) -> Joined {
        let mut feeds = self.feeds.lock();
        let feed = feeds
            .entry(show_id)
            .or_insert_with(|| {
                let (tx, _) = broadcast::channel(LIVE_BUFFER_LEN);
                let feed = Arc::new(Feed {
                    tx,
                    map: Mutex::new(None),
                });
                tokio::spawn(run(self.clone(), client.clone(), show_id, feed.clone()));
                feed
            })
            .clone();
        // Under the map's lock the feed cannot send: nothing falls between snapshot and updates.
        let map = feed.map.lock();
        let snapshot = map.clone().map(|m| encode(&SeatUpdate::Snapshot(m)));
        let updates = feed.tx.subscribe();
        drop(map);
        Joined { snapshot, updates }
    }

    /// Removes the feed if nobody watches it; `true` when removed.
    fn retire_if_idle(&self, show_id: ShowId, feed: &Arc<Feed>) -> bool {
        let mut feeds = self.feeds.lock();
        if feed.tx.receiver_count() > 0 {
            return false;
        }
        if feeds.get(&show_id).is_some_and(|f| Arc::ptr_eq(f, feed)) {
            feeds.remove(&show_id);
        }
        true
    }
}

async fn run(hub: Arc<LiveHub>, client: Client, show_id: ShowId, feed: Arc<Feed>) {
    let mut updates = client.subscribe(show_id);
    let mut idle = tokio::time::interval(Duration::from_millis(IDLE_CHECK_MS));
    idle.tick().await;
    loop {
        tokio::select! {
            update = updates.next() => match update {
                Some(Ok(update)) => {
                    let text = Utf8Bytes::from(encode(&update));
                    let mut map = feed.map.lock();
                    update.apply(&mut map);
                    // No receiver is not an error: the idle check retires the feed.
                    let _ = feed.tx.send(text);
                }
                Some(Err(error)) => {
                    tracing::warn!(show_id, %error, "live feed failed");
                    break;
                }
                None => break,
            },
            _ = idle.tick() => {
                if hub.retire_if_idle(show_id, &feed) {
                    return;
                }
            }
        }
    }
    // The feed failed: forget it so the next viewer starts a fresh one; its viewers are closed
    // when the sender goes, and their pages reconnect.
    let mut feeds = hub.feeds.lock();
    if feeds.get(&show_id).is_some_and(|f| Arc::ptr_eq(f, &feed)) {
        feeds.remove(&show_id);
    }
}
