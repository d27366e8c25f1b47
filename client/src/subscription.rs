//! [`Subscription`]: a show's live seat map as a stream that is never silently wrong.
//!
//! A background task subscribes, fetches the seat map, and then follows the show's pushes. Each
//! push must carry the next sequence number; anything else (a gap, a `Resync` push, pushes this
//! connection could not buffer, a reconnect) makes the task fetch the map again and yield it as a
//! [`SeatUpdate::Snapshot`].

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use cinebook_protocol::types::{ChangeCause, SeatChange, SeatMap, ShowId};
use cinebook_protocol::{Push, Reply, Request};
use futures::Stream;
use tokio::sync::{broadcast, mpsc};
use tokio::time::{sleep, timeout, Instant};

use crate::backoff;
use crate::conn::Conn;
use crate::{Client, Error, Result};

/// Items buffered between the background task and a slow reader of the stream.
const UPDATE_QUEUE_LEN: usize = 256;

/// One item of a [`Subscription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatUpdate {
    /// The whole seat map: always the first item, and again after any gap or reconnect.
    /// Replace what you have.
    Snapshot(SeatMap),
    /// Seats changed; `seq` is exactly one more than the previous item's.
    Changes {
        /// The show.
        show_id: ShowId,
        /// The show's sequence number after this change.
        seq: u64,
        /// Why.
        cause: ChangeCause,
        /// The seats and their new states.
        changes: Vec<SeatChange>,
    },
}

impl SeatUpdate {
    /// Applies this update to a kiosk's copy of the map (`None` until the first snapshot).
    pub fn apply(self, map: &mut Option<SeatMap>) {
        match self {
            SeatUpdate::Snapshot(snapshot) => *map = Some(snapshot),
            SeatUpdate::Changes { seq, changes, .. } => {
                if let Some(map) = map.as_mut() {
                    for change in changes {
                        if let Some(state) = map.states.get_mut(change.seat_id as usize) {
                            *state = change.state;
                        }
                    }
                    map.seq = seq;
                }
            }
        }
    }
}

/// A stream of [`SeatUpdate`]s for one show, from [`Client::subscribe`].
///
/// An `Err` item reports a problem (such as a lost connection) while the subscription keeps
/// trying; after a permanent error ([`Error::is_permanent`], or `NotFound`) the stream ends.
/// Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    show_id: ShowId,
    updates: mpsc::Receiver<Result<SeatUpdate>>,
}

impl Subscription {
    pub(crate) fn start(client: Client, show_id: ShowId) -> Subscription {
        let (tx, updates) = mpsc::channel(UPDATE_QUEUE_LEN);
        tokio::spawn(run(client, show_id, tx));
        Subscription { show_id, updates }
    }

    /// The show followed.
    pub fn show_id(&self) -> ShowId {
        self.show_id
    }

    /// The next update; `None` once the stream has ended.
    pub async fn next_update(&mut self) -> Option<Result<SeatUpdate>> {
        self.updates.recv().await
    }
}

impl Stream for Subscription {
    type Item = Result<SeatUpdate>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.updates.poll_recv(cx)
    }
}

type Tx = mpsc::Sender<Result<SeatUpdate>>;

/// How following one connection ended.
enum Ended {
    /// The stream was dropped: stop.
    Dropped,
    /// A permanent error was delivered: stop.
    Fatal,
    /// Reconnect (after a pause, in ms) and start over with a snapshot.
    Reconnect { pause_ms: u64 },
}

async fn run(client: Client, show_id: ShowId, tx: Tx) {
    let config = client.config().clone();
    let mut failures: u32 = 0;
    loop {
        let mut subscribed_on = None;
        let ended = tokio::select! {
            _ = tx.closed() => Ended::Dropped,
            ended = follow(&client, show_id, &tx, &mut subscribed_on) => ended,
        };
        match ended {
            Ended::Dropped => {
                if let Some(conn) = subscribed_on.filter(|c| c.is_usable()) {
                    // Best effort: the server drops the subscription with the connection anyway.
                    let _ = call(&client, &conn, Request::Unsubscribe { show_id }).await;
                }
                return;
            }
            Ended::Fatal => return,
            Ended::Reconnect { pause_ms } => {
                if subscribed_on.is_some() {
                    // That connection worked: start the backoff over.
                    failures = 0;
                }
                let pause =
                    backoff::delay(failures, config.backoff_initial_ms, config.backoff_max_ms)
                        .max(Duration::from_millis(pause_ms.min(config.backoff_max_ms)));
                failures = failures.saturating_add(1);
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = sleep(pause) => {}
                }
            }
        }
    }
}

/// Subscribes on the client's current connection and follows it until it fails.
async fn follow(
    client: &Client,
    show_id: ShowId,
    tx: &Tx,
    subscribed_on: &mut Option<Arc<Conn>>,
) -> Ended {
    let deadline = Instant::now() + client.config().call_timeout();
    let conn = match client.connection(deadline).await {
        Ok(conn) => conn,
        Err(error) => return report(tx, error).await,
    };
    // Listen before subscribing so that no push after `Subscribed` can be missed.
    let mut pushes = conn.pushes();
    let subscribed = call(client, &conn, Request::Subscribe { show_id }).await;
    if let Err(error) = subscribed.and_then(|reply| match reply {
        Reply::Subscribed { .. } => Ok(()),
        other => Err(Error::UnexpectedReply {
            request: "subscribe",
            got: format!("{other:?}"),
        }),
    }) {
        return report(tx, error).await;
    }
    *subscribed_on = Some(conn.clone());
    pump(client, &conn, show_id, tx, &mut pushes).await
}

async fn pump(
    client: &Client,
    conn: &Arc<Conn>,
    show_id: ShowId,
    tx: &Tx,
    pushes: &mut broadcast::Receiver<Push>,
) -> Ended {
    let mut last_seq = match snapshot(client, conn, show_id, tx).await {
        Ok(seq) => seq,
        Err(ended) => return ended,
    };
    loop {
        // Biased: pushes that arrived before the connection closed are delivered first.
        let push = tokio::select! {
            biased;
            _ = tx.closed() => return Ended::Dropped,
            push = pushes.recv() => push,
            _ = conn.closed() => return Ended::Reconnect { pause_ms: 0 },
        };
        let resync = match push {
            Ok(Push::SeatsChanged {
                show_id: pushed,
                seq,
                cause,
                changes,
            }) if pushed == show_id => {
                if seq <= last_seq {
                    // Already part of the snapshot.
                    continue;
                }
                if seq == last_seq + 1 {
                    last_seq = seq;
                    let update = SeatUpdate::Changes {
                        show_id,
                        seq,
                        cause,
                        changes,
                    };
                    if tx.send(Ok(update)).await.is_err() {
                        return Ended::Dropped;
                    }
                    continue;
                }
                true
            }
            Ok(Push::Resync { show_id: pushed }) => pushed == show_id,
            Ok(Push::ShuttingDown {
                reconnect_after_ms, ..
            }) => {
                return Ended::Reconnect {
                    pause_ms: reconnect_after_ms,
                }
            }
            Ok(_) => false,
            // This connection's push buffer overflowed: changes were lost.
            Err(broadcast::error::RecvError::Lagged(_)) => true,
            Err(broadcast::error::RecvError::Closed) => return Ended::Reconnect { pause_ms: 0 },
        };
        if resync {
            last_seq = match snapshot(client, conn, show_id, tx).await {
                Ok(seq) => seq,
                Err(ended) => return ended,
            };
        }
    }
}

/// Fetches the seat map and yields it; returns its sequence number.
async fn snapshot(client: &Client, conn: &Conn, show_id: ShowId, tx: &Tx) -> Result<u64, Ended> {
    let map = match call(client, conn, Request::GetSeatMap { show_id }).await {
        Ok(Reply::SeatMap(map)) => map,
        Ok(other) => {
            let error = Error::UnexpectedReply {
                request: "get_seat_map",
                got: format!("{other:?}"),
            };
            return Err(report(tx, error).await);
        }
        Err(error) => return Err(report(tx, error).await),
    };
    let seq = map.seq;
    if tx.send(Ok(SeatUpdate::Snapshot(map))).await.is_err() {
        return Err(Ended::Dropped);
    }
    Ok(seq)
}

/// One call on this subscription's connection, bounded by `call_timeout_ms`.
async fn call(client: &Client, conn: &Conn, request: Request) -> Result<Reply> {
    let call_timeout_ms = client.config().call_timeout_ms;
    match timeout(client.config().call_timeout(), conn.call(request)).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(failure)) => Err(failure.error),
        Err(_) => Err(Error::Timeout { call_timeout_ms }),
    }
}

/// Delivers an error to the stream and decides whether to go on.
async fn report(tx: &Tx, error: Error) -> Ended {
    let fatal = error.is_permanent() || matches!(error, Error::NotFound { .. });
    if tx.send(Err(error)).await.is_err() {
        return Ended::Dropped;
    }
    if fatal {
        Ended::Fatal
    } else {
        Ended::Reconnect { pause_ms: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cinebook_protocol::types::{Category, Seat, SeatState, Show, ShowSummary};

    pub(crate) fn map(states: Vec<SeatState>) -> SeatMap {
        let seats = (0..states.len())
            .map(|i| Seat {
                id: i as u32,
                row: "A".into(),
                label: format!("A{}", i + 1),
                category: Category::Standard,
                x: i as u16,
                y: 0,
            })
            .collect();
        SeatMap {
            summary: ShowSummary {
                show: Show {
                    id: 7,
                    movie_id: 1,
                    screen_id: 1,
                    starts_at_ms: 0,
                    currency: "EUR".into(),
                    prices: vec![],
                },
                movie_title: "M".into(),
                theater_id: 1,
                theater_name: "T".into(),
                city_id: 1,
                screen_name: "S".into(),
                seats_free: 0,
                seats_total: 0,
            },
            seats,
            states,
            seq: 4,
        }
    }

    #[test]
    fn changes_apply_to_the_map_and_snapshots_replace_it() {
        let mut current = None;
        SeatUpdate::Snapshot(map(vec![SeatState::Free; 3])).apply(&mut current);
        SeatUpdate::Changes {
            show_id: 7,
            seq: 5,
            cause: ChangeCause::Held,
            changes: vec![
                SeatChange {
                    seat_id: 1,
                    state: SeatState::Held,
                },
                SeatChange {
                    seat_id: 99,
                    state: SeatState::Sold,
                },
            ],
        }
        .apply(&mut current);
        let got = current.as_ref().map(|m| (m.states.clone(), m.seq));
        assert_eq!(
            got,
            Some((vec![SeatState::Free, SeatState::Held, SeatState::Free], 5))
        );
        SeatUpdate::Snapshot(map(vec![SeatState::Sold; 2])).apply(&mut current);
        assert_eq!(current.map(|m| m.states), Some(vec![SeatState::Sold; 2]));
    }
}
