//! What a node believes of another's cluster messages. An authenticated peer is bound to its
//! node id; `Election`, `Coordinator` and `Follow` must name that id and one of `--peers`, and a
//! `Coordinator` is acted on only when the fencing epoch in the store says the same: that epoch,
//! claimed by that node, and not older than what this node knows. A refused message changes
//! nothing, is answered `Forbidden` and logged (rate-limited).

use std::sync::atomic::{AtomicU64, Ordering};

use cinebook_protocol::types::Role;
use cinebook_protocol::{ErrorBody, ErrorCode};

use crate::node::handlers::Caller;
use crate::node::{now_ms, Node};

/// At most one warning about refused peer messages per this many ms; the others are counted
/// and reported with the next one.
pub const REFUSED_LOG_INTERVAL_MS: u64 = 1_000;

static LAST_WARNING_MS: AtomicU64 = AtomicU64::new(0);
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// Logs a refused peer message, at most once per [`REFUSED_LOG_INTERVAL_MS`].
pub fn warn_refused(what: &str, detail: &str) {
    let now = now_ms();
    let last = LAST_WARNING_MS.load(Ordering::Relaxed);
    let due = now.saturating_sub(last) >= REFUSED_LOG_INTERVAL_MS;
    if due
        && LAST_WARNING_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let suppressed = SUPPRESSED.swap(0, Ordering::Relaxed);
        // The detail may quote a peer's values: bounded so a log line stays a line.
        let detail: String = detail.chars().take(200).collect();
        tracing::warn!(suppressed, %detail, "{what}");
    } else {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
    }
}

fn forbidden(what: &str, detail: String) -> ErrorBody {
    warn_refused(what, &detail);
    ErrorBody::new(ErrorCode::Forbidden, detail)
}

/// The sender's authenticated node id, which a cluster message must name as its own.
fn bound_peer(node: &Node, caller: &Caller, named: u32, what: &str) -> Result<u32, ErrorBody> {
    let Some(cluster) = &node.cluster else {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            "this node is not part of a cluster",
        ));
    };
    let Some(peer) = caller.peer_node_id.filter(|_| caller.role == Role::Node) else {
        return Err(forbidden(
            "refused cluster message",
            format!("{what} is for cluster nodes authenticated by PeerHello"),
        ));
    };
    if named != peer || !cluster.config.peers.contains_key(&named) {
        return Err(forbidden(
            "refused forged cluster message",
            format!("{what} names node {named}, but the sender authenticated as node {peer}"),
        ));
    }
    Ok(peer)
}

/// `Election{node_id}`: only from that node itself.
pub fn check_election(node: &Node, caller: &Caller, node_id: u32) -> Result<(), ErrorBody> {
    bound_peer(node, caller, node_id, "Election").map(|_| ())
}

/// `Follow{node_id}`: only from that node itself.
pub fn check_follow(node: &Node, caller: &Caller, node_id: u32) -> Result<(), ErrorBody> {
    bound_peer(node, caller, node_id, "Follow").map(|_| ())
}

/// `Coordinator{node_id, epoch}`: only from that node, and only if the store says it claimed
/// that epoch, which is not older than the one this node knows.
pub async fn check_coordinator(
    node: &Node,
    caller: &Caller,
    node_id: u32,
    epoch: u64,
) -> Result<(), ErrorBody> {
    bound_peer(node, caller, node_id, "Coordinator")?;
    let known = node.cluster.as_ref().map_or(0, |c| c.view().epoch);
    // The store is the authority on who leads which epoch; without it, nothing is believed.
    let stored = node.store_call(node.store.current_epoch()).await?;
    if stored.epoch != epoch || stored.leader_node_id != Some(node_id) || epoch < known {
        return Err(forbidden(
            "refused Coordinator that disagrees with the fencing epoch",
            format!(
                "node {node_id} claims epoch {epoch}; the store says epoch {} is led by {:?} \
                 (this node knows epoch {known})",
                stored.epoch, stored.leader_node_id
            ),
        ));
    }
    Ok(())
}
