//! The leader's side of replication: every applied event goes to a bounded node-wide broadcast;
//! each `Follow` connection gets snapshots (or the per-show backlog after its position), then the
//! broadcast, then heartbeats.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cinebook_protocol::cluster::ShowPosition;
use cinebook_protocol::types::{NodeRole, ShowId};
use cinebook_protocol::{Envelope, Push};
use tokio::sync::{broadcast, mpsc};

use crate::domain::EventRecord;
use crate::node::Node;

/// What the leader streams to followers. Items travel behind an `Arc` in the broadcast, so the
/// size difference between the variants costs nothing per item.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ReplicationItem {
    /// An event of a show.
    Event {
        /// The show.
        show_id: ShowId,
        /// The event.
        record: EventRecord,
    },
    /// The catalog changed in the database.
    CatalogChanged,
}

fn replicated(show_id: ShowId, record: &EventRecord) -> Push {
    Push::Replicated {
        show_id,
        seq: record.seq,
        lamport: record.lamport,
        event: record.event.clone(),
    }
}

/// Streams to one follower until it falls behind, this node stops leading, or shutdown.
pub async fn serve_follower(
    node: Arc<Node>,
    follower: u32,
    positions: Vec<ShowPosition>,
    out: mpsc::Sender<Envelope>,
) {
    let Some(cluster) = node.cluster.clone() else {
        return;
    };
    // Subscribe before reading any state: nothing applied after this point can be missed, and
    // what is also in a snapshot or backlog is skipped by its sequence number.
    let mut rx = node.replication_subscribe();
    // Its acknowledgements count (for the lease and replicated holds) while this stream is open.
    let _acks = cluster.acks.stream_started(follower);
    let positions: HashMap<ShowId, u64> = positions.iter().map(|p| (p.show_id, p.seq)).collect();
    let mut sent: HashMap<ShowId, u64> = HashMap::new();
    let (mut snapshots, mut backlogs) = (0usize, 0usize);
    for slot in node.show_slots() {
        let pushes = {
            let state = slot.read();
            let seq = state.seq();
            sent.insert(slot.show_id, seq);
            match positions
                .get(&slot.show_id)
                .and_then(|from| slot.backlog_after(*from, seq))
            {
                Some(records) => {
                    backlogs += 1;
                    records
                        .iter()
                        .map(|r| replicated(slot.show_id, r))
                        .collect()
                }
                None => {
                    snapshots += 1;
                    vec![Push::Snapshot(state.snapshot())]
                }
            }
        };
        for push in pushes {
            if out
                .send(Envelope::push(node.lamport.tick(), push))
                .await
                .is_err()
            {
                return;
            }
        }
    }
    tracing::info!(follower, snapshots, backlogs, "follower synced; streaming");
    let interval = Duration::from_millis(cluster.config.timeouts.heartbeat_interval_ms.max(10));
    let mut tick = tokio::time::interval(interval);
    loop {
        let push = tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = tick.tick() => {
                let view = cluster.view();
                if view.role != NodeRole::Leader {
                    return;
                }
                Push::Heartbeat { leader_id: node.config.node_id, epoch: view.epoch }
            }
            item = rx.recv() => match item {
                Ok(item) => match &*item {
                    ReplicationItem::Event { show_id, record } => {
                        let last = sent.entry(*show_id).or_insert(0);
                        if record.seq <= *last {
                            continue;
                        }
                        *last = record.seq;
                        replicated(*show_id, record)
                    }
                    ReplicationItem::CatalogChanged => Push::CatalogChanged,
                },
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(follower, missed, "follower fell behind; it must resync");
                    let push = Push::ShuttingDown { reason: "replication lagged; resync".into(), reconnect_after_ms: 0 };
                    let _ = out.send(Envelope::push(node.lamport.tick(), push)).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        if out
            .send(Envelope::push(node.lamport.tick(), push))
            .await
            .is_err()
        {
            return;
        }
    }
}
