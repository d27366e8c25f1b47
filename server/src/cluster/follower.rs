//! The follower's side of replication: connect to the leader, `Follow`, and apply what it sends
//! with the same `ShowState::replay` the leader used.

use std::sync::Arc;
use std::time::Duration;

use cinebook_protocol::cluster::ShowPosition;
use cinebook_protocol::{Body, Push, Reply, Request};

use super::peer::PeerConnection;
use super::ClusterEvent;
use crate::node::Node;

/// Follows `leader` at `addr` until the cluster stops wanting this leader or shutdown.
pub async fn run(node: Arc<Node>, leader: u32, addr: String) {
    let Some(cluster) = node.cluster.clone() else {
        return;
    };
    let retry = Duration::from_millis(100);
    while cluster.view().leader_id == Some(leader) && !node.shutdown.is_cancelled() {
        match follow_once(&node, leader, &addr).await {
            Ok(()) => tracing::info!(leader, "leader stream ended"),
            Err(e) => tracing::debug!(leader, error = %e, "leader stream failed"),
        }
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = tokio::time::sleep(retry) => {}
        }
    }
}

async fn follow_once(node: &Arc<Node>, leader: u32, addr: &str) -> Result<(), String> {
    let Some(cluster) = node.cluster.clone() else {
        return Ok(());
    };
    let silence = Duration::from_millis(cluster.config.timeouts.leader_timeout_ms);
    let me = cluster.config.identity(node.config.node_id);
    let open = PeerConnection::open(addr, me, leader, node.lamport.tick());
    let mut peer = tokio::time::timeout(silence, open)
        .await
        .map_err(|_| "connecting to the leader timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    // The leader's shows must all be in this node's catalog: read it again on every (re)connect,
    // in case a `CatalogChanged` was missed while the stream was down.
    node.reload_catalog().await.map_err(|e| e.to_string())?;
    let epoch = cluster.view().epoch;
    // Positions are only meaningful in the history of the same leader and epoch; otherwise the
    // leader sends whole snapshots.
    let positions = if node.stream_origin() == Some((leader, epoch)) {
        node.show_slots()
            .iter()
            .map(|s| ShowPosition {
                show_id: s.show_id,
                seq: s.read().seq(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let request = Request::Follow {
        node_id: node.config.node_id,
        positions,
    };
    let (reply, lamport) = tokio::time::timeout(silence, peer.call(request, node.lamport.tick()))
        .await
        .map_err(|_| "Follow timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    node.lamport.observe(lamport);
    let Reply::Following {
        leader_id,
        epoch: following_epoch,
    } = reply
    else {
        return Err(format!("unexpected answer to Follow: {reply:?}"));
    };
    if leader_id != leader {
        return Err(format!("node {leader} says node {leader_id} leads"));
    }
    // Until the first heartbeat (which follows every snapshot and backlog) this node's shows are
    // not yet all from this leader's history: do not trust positions if the stream breaks now.
    node.set_stream_origin(None);
    let mut caught_up = false;
    let mut last_alive = std::time::Instant::now();
    let mut handover = Handover::default();
    loop {
        let wait = if handover.granted.is_some() {
            Duration::from_millis(HANDOVER_GRACE_MS)
        } else {
            silence
        };
        let envelope = match tokio::time::timeout(wait, peer.next()).await {
            Ok(frame) => frame.map_err(|e| e.to_string())?,
            Err(_) if handover.granted.is_some() => {
                if handover.granted_long_enough() {
                    handover.granted = None;
                    cluster.notify(ClusterEvent::HandOverGranted {
                        leader,
                        epoch: handover.epoch,
                    });
                }
                continue;
            }
            Err(_) => return Err("leader silent".into()),
        };
        node.lamport.observe(envelope.lamport);
        // Any frame shows the leader alive, so a long initial sync is not taken for silence
        // (rate-limited: the runtime's queue is bounded).
        if last_alive.elapsed() >= Duration::from_millis(50) {
            last_alive = std::time::Instant::now();
            cluster.notify(ClusterEvent::Alive {
                leader,
                epoch: following_epoch,
            });
        }
        let push = match envelope.body {
            Body::Push(push) => push,
            Body::Reply(reply) if Some(envelope.request_id) == handover.asked => {
                handover.granted = Some(std::time::Instant::now());
                handover.epoch = handed_epoch(&reply, node.config.node_id);
                continue;
            }
            _ => continue,
        };
        let mut ack: Option<Vec<ShowPosition>> = None;
        match push {
            Push::Snapshot(snapshot) => node
                .install_snapshot(&snapshot)
                .map_err(|e| e.to_string())?,
            Push::Replicated {
                show_id,
                seq,
                lamport,
                event,
            } => {
                if let Err(gap) = node.apply_replicated(show_id, seq, lamport, event) {
                    // Resync from a snapshot: forget the origin so positions are not trusted.
                    node.set_stream_origin(None);
                    return Err(gap);
                }
                ack = Some(vec![ShowPosition { show_id, seq }]);
            }
            Push::Heartbeat { leader_id, epoch } => {
                cluster.notify(ClusterEvent::Heartbeat {
                    leader: leader_id,
                    epoch,
                });
                if caught_up {
                    ack = Some(Vec::new());
                } else {
                    // The leader sends its first heartbeat after every snapshot and backlog.
                    caught_up = true;
                    node.set_stream_origin(Some((leader, epoch)));
                    cluster.notify(ClusterEvent::CaughtUp);
                    ack = Some(positions_of(node));
                }
            }
            Push::CatalogChanged => node.reload_catalog().await.map_err(|e| e.to_string())?,
            Push::ShuttingDown { reason, .. } => return Err(reason),
            // A leader pings only guests; a follower's stream never needs an answer.
            Push::SeatsChanged { .. } | Push::Resync { .. } | Push::Ping { .. } => {}
        }
        if let Some(positions) = ack {
            let taking_over =
                caught_up && handover.asked.is_none() && cluster.handover_wanted() == Some(leader);
            let request = Request::ReplicaAck {
                node_id: node.config.node_id,
                positions,
                taking_over,
            };
            let id = peer
                .send(request, node.lamport.tick())
                .await
                .map_err(|e| e.to_string())?;
            if taking_over {
                handover.asked = Some(id);
            }
        }
        if handover.granted_long_enough() {
            handover.granted = None;
            cluster.notify(ClusterEvent::HandOverGranted {
                leader,
                epoch: handover.epoch,
            });
        }
        if cluster.view().leader_id != Some(leader) {
            return Ok(());
        }
    }
}

/// After the leader stopped granting, keep applying (and acknowledging) its stream this long, so
/// holds it answered just before have reached this node.
const HANDOVER_GRACE_MS: u64 = 10;

/// A hand-over asked on this stream: the request id, when the leader answered, and the epoch
/// it handed this node (None: it only stopped granting, and this node must claim).
#[derive(Debug, Default)]
struct Handover {
    asked: Option<u64>,
    granted: Option<std::time::Instant>,
    epoch: Option<u64>,
}

/// The epoch a leader's answer to a hand-over says it handed to node `me`.
fn handed_epoch(reply: &Reply, me: u32) -> Option<u64> {
    match reply {
        Reply::NodeStatus {
            leader_id: Some(leader),
            epoch,
            ..
        } if *leader == me => Some(*epoch),
        _ => None,
    }
}

impl Handover {
    fn granted_long_enough(&self) -> bool {
        self.granted
            .is_some_and(|t| t.elapsed() >= Duration::from_millis(HANDOVER_GRACE_MS))
    }
}

fn positions_of(node: &Node) -> Vec<ShowPosition> {
    node.show_slots()
        .iter()
        .map(|s| ShowPosition {
            show_id: s.show_id,
            seq: s.read().seq(),
        })
        .collect()
}
