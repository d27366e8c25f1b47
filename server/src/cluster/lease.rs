//! The leader's lease as the runtime keeps it: renewing it in the store every heartbeat, a leader
//! without one checking whether it was deposed, and a new leader checking the epoch it was handed.

use std::sync::Arc;
use std::time::Duration;

use super::bully::Bully;
use super::ClusterEvent;
use crate::node::Node;

/// The old leader says it handed `epoch` to this node: lead it if the store agrees (then it is
/// this node's, with a lease, and nobody else could claim it); otherwise claim as before.
pub(super) fn check_handed_epoch(node: &Arc<Node>, leader: u32, epoch: u64) {
    let node = node.clone();
    tokio::spawn(async move {
        let me = node.config.node_id;
        let state = node.store.current_epoch().await;
        let Some(cluster) = &node.cluster else {
            return;
        };
        match state {
            Ok(state) if state.epoch == epoch && state.leader_node_id == Some(me) => {
                cluster.notify(ClusterEvent::Claimed(epoch));
            }
            other => {
                tracing::warn!(leader, epoch, stored = ?other, "the handed epoch is not ours in the store; claiming");
                cluster.notify(ClusterEvent::HandOverGranted {
                    leader,
                    epoch: None,
                });
            }
        }
    });
}

/// A leader that lost its lease (no follower acknowledged within `leader_lease_ms`) may have
/// been deposed without hearing of it (partitioned, paused): at most once per
/// `leader_timeout_ms` it reads the epoch from the store, and steps down (following the stored
/// leader) if the epoch moved on.
pub(super) fn check_unleased(node: &Arc<Node>, bully: &Bully, now: u64, checked_ms: &mut u64) {
    let Some(cluster) = &node.cluster else {
        return;
    };
    let lease = Duration::from_millis(cluster.config.leader_lease_ms);
    let unleased = matches!(
        cluster.acks.may_grant(lease),
        Err(super::acks::NotReplicated::NoLease)
    );
    let due = now.saturating_sub(*checked_ms) >= cluster.config.timeouts.leader_timeout_ms;
    if !bully.is_leader() || !unleased || !due {
        return;
    }
    *checked_ms = now;
    let (node, mine) = (node.clone(), bully.epoch());
    tokio::spawn(async move {
        let Ok(state) = node.store.current_epoch().await else {
            return;
        };
        if state.epoch != mine {
            tracing::warn!(
                mine,
                stored = state.epoch,
                "no lease and the epoch moved on"
            );
            if let Some(cluster) = &node.cluster {
                cluster.notify(ClusterEvent::Fenced);
            }
        }
    });
}

/// The leader renews its lease in the store every heartbeat (not while handing over); each
/// renewal that succeeds confirms its lead for `leader_lease_ms` from when it was sent. A
/// renewal that finds the epoch moved on steps it down.
pub(super) fn renew_lease(
    node: &Arc<Node>,
    bully: &Bully,
    now: u64,
    renewed_ms: &mut u64,
    renewing: &Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    let Some(cluster) = &node.cluster else {
        return;
    };
    let lease = Duration::from_millis(cluster.config.leader_lease_ms);
    let handing_over = matches!(
        cluster.acks.may_grant(lease),
        Err(super::acks::NotReplicated::HandingOver(_))
    );
    let due = now.saturating_sub(*renewed_ms) >= cluster.config.timeouts.heartbeat_interval_ms;
    if !bully.is_leader() || !due || handing_over {
        return;
    }
    if renewing.swap(true, Ordering::AcqRel) {
        return;
    }
    *renewed_ms = now;
    let (node, renewing, epoch) = (node.clone(), renewing.clone(), bully.epoch());
    let lease_ms = cluster.config.leader_lease_ms;
    tokio::spawn(async move {
        let me = node.config.node_id;
        let sent = std::time::Instant::now();
        let renewed = node.store.renew_lease(me, epoch, lease_ms).await;
        if let Some(cluster) = &node.cluster {
            match renewed {
                Ok(true) if cluster.view().epoch == epoch => cluster.acks.store_renewed(sent),
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(epoch, "lease renewal found the epoch moved on");
                    cluster.notify(ClusterEvent::Fenced);
                }
                Err(e) => tracing::debug!(error = %e, "lease not renewed"),
            }
        }
        renewing.store(false, Ordering::Release);
    });
}
