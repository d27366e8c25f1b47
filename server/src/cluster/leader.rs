//! The leader's side of [`super::acks`] as the handlers use it: may a hold be granted, is it
//! replicated enough to be answered, and what a follower's `ReplicaAck` changes.

use std::time::Duration;

use cinebook_protocol::cluster::ShowPosition;
use cinebook_protocol::types::NodeRole;
use cinebook_protocol::{ErrorBody, ErrorCode, Reply};

use super::acks::NotReplicated;
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
        let timeout = Duration::from_millis(cluster.config.handover_timeout_ms);
        cluster.acks.begin_handover(node_id, timeout);
        tracing::info!(to = node_id, "handing over: no more holds granted here");
        // Give the stored lease up, so the node taken over by can claim at once.
        let epoch = cluster.view().epoch;
        if let Err(e) = node.store.renew_lease(node.config.node_id, epoch, 0).await {
            tracing::warn!(error = %e, "could not give the lease up; the claim waits for it");
        }
    }
    Ok(crate::node::handlers::node_status_of(node))
}
