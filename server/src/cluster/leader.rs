//! The leader's side of [`super::acks`] as the handlers use it: may a hold be granted, is it
//! replicated enough to be answered, and what a follower's `ReplicaAck` changes.

use std::time::Duration;

use cinebook_protocol::cluster::ShowPosition;
use cinebook_protocol::types::NodeRole;
use cinebook_protocol::{ErrorBody, ErrorCode, Reply};

use super::acks::NotReplicated;
use super::ClusterEvent;
use crate::node::handlers::Caller;
use crate::node::Node;

fn unavailable(why: NotReplicated) -> ErrorBody {
    ErrorBody::new(ErrorCode::Unavailable, why.to_string())
}

/// Whether this node may grant a hold now: always outside a cluster; in one, only while a
/// follower acknowledged, or the stored lease was renewed, within `leader_lease_ms`, and no
/// hand-over is under way.
pub fn may_grant(node: &Node) -> Result<(), ErrorBody> {
    let Some(cluster) = &node.cluster else {
        return Ok(());
    };
    let lease = Duration::from_millis(cluster.config.leader_lease_ms);
    cluster.acks.may_grant(lease).map_err(unavailable)
}

/// A write sent to a node that is taking over (it names itself the leader, but does not lead
/// yet) waits at most this long for it to lead, instead of bouncing the client back.
pub const TAKE_OVER_WAIT_MS: u64 = 300;

/// How often a waiting write looks again.
const TAKE_OVER_POLL_MS: u64 = 5;

/// Whether this node accepts writes, waiting up to [`TAKE_OVER_WAIT_MS`] while it is taking
/// over.
pub async fn await_leading(node: &Node) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_millis(TAKE_OVER_WAIT_MS);
    loop {
        if node.accepts_writes() {
            return true;
        }
        let taking_over = node
            .cluster
            .as_ref()
            .is_some_and(|c| c.view().leader_id == Some(node.config.node_id));
        if !taking_over || std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(TAKE_OVER_POLL_MS)).await;
    }
}

/// Answers `reply` (a `Held`) once every follower that acknowledged within the lease
/// acknowledged the show's current sequence number; `Unavailable` (the hold kept) if that takes longer than
/// `replication_ack_timeout_ms`.
pub async fn replicated(node: &Node, reply: Reply) -> Result<Reply, ErrorBody> {
    let (Some(cluster), Reply::Held(hold)) = (&node.cluster, &reply) else {
        return Ok(reply);
    };
    let Some(slot) = node.show(hold.show_id) else {
        return Ok(reply);
    };
    let seq = slot.read().seq();
    let timeout = Duration::from_millis(cluster.config.replication_ack_timeout_ms);
    let lease = Duration::from_millis(cluster.config.leader_lease_ms);
    cluster
        .acks
        .replicated(hold.show_id, seq, timeout, lease)
        .await
        .map_err(unavailable)?;
    Ok(reply)
}

/// `ReplicaAck{node_id, positions, taking_over}` from an authenticated follower.
pub async fn on_ack(
    node: &Node,
    caller: &Caller,
    node_id: u32,
    positions: &[ShowPosition],
    taking_over: bool,
) -> Result<Reply, ErrorBody> {
    super::claims::check_follow(node, caller, node_id)?;
    let Some(cluster) = &node.cluster else {
        return Err(ErrorBody::new(ErrorCode::Forbidden, "not a cluster node"));
    };
    if node.node_role() != NodeRole::Leader {
        let leader = node.leader_addr();
        return Err(ErrorBody::new(
            ErrorCode::NotLeader { leader },
            "this node does not lead",
        ));
    }
    cluster.acks.record(node_id, positions);
    if taking_over && node_id > node.config.node_id {
        return hand_over(node, cluster, node_id).await;
    }
    Ok(crate::node::handlers::node_status_of(node))
}

/// The store's half of a hand-over from `from` (leading `epoch`) to `to`: the next epoch, if
/// it was handed.
pub async fn hand_over_in_store<S: crate::store::Store + ?Sized>(
    store: &S,
    from: u32,
    epoch: u64,
    to: u32,
    lease_ms: u64,
) -> Result<Option<u64>, crate::store::StoreError> {
    store.hand_over_epoch(from, epoch, to, lease_ms).await
}

/// A caught-up higher node asked to take over: stop granting holds (every hold answered from
/// now on must have reached it), then hand it the next epoch in the store, with a lease of its
/// own, in one conditional update. No other node can claim between the two leaders (a lease
/// given up instead let a node that never caught up win that race and lose carts), and this
/// node is fenced from then on. It follows the new leader at once, so its `NotLeader` sends
/// clients there. The answer names the new leader and epoch; the new leader checks it in the
/// store before it leads.
async fn hand_over(node: &Node, cluster: &super::Cluster, to: u32) -> Result<Reply, ErrorBody> {
    let me = node.config.node_id;
    let timeout = Duration::from_millis(cluster.config.handover_timeout_ms);
    cluster.acks.begin_handover(to, timeout);
    tracing::info!(to, "handing over: no more holds granted here");
    let epoch = cluster.view().epoch;
    let lease_ms = cluster.config.leader_lease_ms;
    match hand_over_in_store(&*node.store, me, epoch, to, lease_ms).await {
        Ok(Some(next)) => {
            tracing::info!(to, epoch = next, "handed the epoch over");
            cluster.notify(ClusterEvent::Heartbeat {
                leader: to,
                epoch: next,
            });
            Ok(Reply::NodeStatus {
                node_id: me,
                node_role: NodeRole::Follower,
                leader_id: Some(to),
                leader_addr: cluster.addr_of(to),
                epoch: next,
            })
        }
        Ok(None) => {
            cluster.acks.cancel_handover();
            cluster.notify(ClusterEvent::Fenced);
            Err(ErrorBody::new(
                ErrorCode::Unavailable,
                "the epoch moved on before the hand-over; this node no longer leads",
            ))
        }
        Err(e) => {
            // Nobody else can lead while this node's lease lives: grant again, and let the
            // node ask again (or claim once this lease is gone).
            cluster.acks.cancel_handover();
            tracing::warn!(to, error = %e, "could not hand the epoch over; leading on");
            Err(ErrorBody::new(
                ErrorCode::Unavailable,
                format!("hand-over failed: {e}"),
            ))
        }
    }
}
