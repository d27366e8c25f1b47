//! The cluster runtime: owns the [`Bully`] state, feeds it ticks and events, and performs its
//! actions (peer calls, the epoch claim, taking over, following).

use std::sync::Arc;
use std::time::Duration;

use cinebook_protocol::types::NodeRole;
use cinebook_protocol::{Reply, Request};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::bully::{Action, Bully, Phase};
use super::lease::{check_handed_epoch, check_unleased, renew_lease};
use super::peer::call_once;
use super::{follower, ClusterEvent, ClusterView};
use crate::node::{now_ms, Node};
use crate::store::EpochClaim;

/// How often the election state is ticked.
pub const TICK_MS: u64 = 25;

/// Runs until shutdown.
pub async fn run(node: Arc<Node>, mut events: mpsc::Receiver<ClusterEvent>) {
    let Some(cluster) = node.cluster.clone() else {
        return;
    };
    let me = node.config.node_id;
    let mut bully = Bully::new(
        me,
        cluster.config.peers.keys().copied(),
        cluster.config.timeouts,
        now_ms(),
    );
    let mut following: Option<(u32, JoinHandle<()>)> = None;
    discover(&node);
    let mut tick = tokio::time::interval(Duration::from_millis(TICK_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut epoch_checked_ms = 0;
    let renewing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut renewed_ms = 0;
    loop {
        let now = now_ms();
        let actions = tokio::select! {
            _ = node.shutdown.cancelled() => break,
            _ = tick.tick() => {
                check_unleased(&node, &bully, now, &mut epoch_checked_ms);
                renew_lease(&node, &bully, now, &mut renewed_ms, &renewing);
                bully.on_tick(now)
            }
            event = events.recv() => match event {
                None => break,
                Some(event) => on_event(&node, &mut bully, event, now),
            },
        };
        for action in actions {
            perform(&node, &mut bully, &mut following, action).await;
        }
        publish_view(&node, &bully);
    }
    if let Some((_, task)) = following {
        task.abort();
    }
}

fn on_event(
    node: &Arc<Node>,
    bully: &mut Bully,
    event: ClusterEvent,
    now: u64,
) -> Vec<super::bully::Action> {
    match event {
        ClusterEvent::Election { from } => {
            if bully.is_leader() {
                // The candidate must learn who leads: announce ourselves to it.
                announce(node, vec![from], bully.epoch());
            }
            bully.on_election(from, now)
        }
        ClusterEvent::Coordinator { leader, epoch } => bully.on_coordinator(leader, epoch, now),
        ClusterEvent::Heartbeat { leader, epoch } => bully.on_heartbeat(leader, epoch, now),
        ClusterEvent::CaughtUp => {
            bully.on_caught_up();
            Vec::new()
        }
        ClusterEvent::Answer { from, .. } => {
            bully.on_answer(from);
            Vec::new()
        }
        ClusterEvent::Claimed(epoch) => bully.on_claimed(epoch),
        ClusterEvent::ClaimFailed => {
            bully.on_claim_failed(now);
            Vec::new()
        }
        ClusterEvent::Alive { leader, epoch } => {
            bully.on_alive(leader, epoch, now);
            Vec::new()
        }
        ClusterEvent::ClaimLost { current, leader } => bully.on_claim_lost(current, leader, now),
        ClusterEvent::NoAnswer => bully.on_no_answer(now),
        ClusterEvent::HandOverGranted {
            leader,
            epoch: Some(epoch),
        } => {
            if let Some(cluster) = &node.cluster {
                cluster.want_handover(None);
            }
            check_handed_epoch(node, leader, epoch);
            Vec::new()
        }
        ClusterEvent::HandOverGranted {
            leader,
            epoch: None,
        } => {
            if let Some(cluster) = &node.cluster {
                cluster.want_handover(None);
            }
            bully.on_handover_granted(leader, now)
        }
        ClusterEvent::Fenced => {
            let actions = bully.on_fenced(now);
            // Learn who leads now from the database, and follow it.
            let node = node.clone();
            tokio::spawn(async move {
                if let (Ok(state), Some(cluster)) =
                    (node.store.current_epoch().await, &node.cluster)
                {
                    if let Some(leader) = state.leader_node_id.filter(|l| *l != node.config.node_id)
                    {
                        cluster.notify(ClusterEvent::Heartbeat {
                            leader,
                            epoch: state.epoch,
                        });
                    }
                }
            });
            actions
        }
    }
}

async fn perform(
    node: &Arc<Node>,
    bully: &mut Bully,
    following: &mut Option<(u32, JoinHandle<()>)>,
    action: Action,
) {
    let Some(cluster) = node.cluster.clone() else {
        return;
    };
    match action {
        Action::AskHigher(ids) => {
            tracing::info!(node = bully.me(), asking = ?ids, "leader lost: election");
            let node = node.clone();
            tokio::spawn(async move {
                let asks = ids.into_iter().map(|id| ask_higher(&node, id));
                let answered = futures::future::join_all(asks).await;
                if !answered.contains(&true) {
                    if let Some(cluster) = &node.cluster {
                        cluster.notify(ClusterEvent::NoAnswer);
                    }
                }
            });
        }
        Action::ClaimEpoch { seen } => {
            let node = node.clone();
            tokio::spawn(async move {
                let event = claim(&node, seen).await;
                if let Some(cluster) = &node.cluster {
                    cluster.notify(event);
                }
            });
        }
        Action::AskHandOver { leader } => {
            tracing::info!(
                node = bully.me(),
                leader,
                "caught up: asking for a hand-over"
            );
            cluster.want_handover(Some(leader));
        }
        Action::Lead { epoch } => {
            cluster.want_handover(None);
            cluster.acks.clear_handover();
            if let Some((_, task)) = following.take() {
                task.abort();
            }
            // While it takes over, this node names itself the leader (still refusing writes):
            // writes sent here wait for it (`leader::await_leading`) instead of bouncing
            // between it and the old leader.
            cluster.set_view(ClusterView {
                role: NodeRole::Follower,
                leader_id: Some(bully.me()),
                leader_addr: cluster.addr_of(bully.me()),
                epoch,
            });
            match node.take_over(epoch).await {
                Ok(()) => {
                    // Confirm the lead in the store now rather than at the next tick, so holds
                    // are granted from the first request on.
                    let sent = std::time::Instant::now();
                    let lease_ms = cluster.config.leader_lease_ms;
                    if let Ok(true) = node.store.renew_lease(bully.me(), epoch, lease_ms).await {
                        cluster.acks.store_renewed(sent);
                    }
                    tracing::info!(node = bully.me(), epoch, "leading");
                    publish_view(node, bully);
                    let others: Vec<u32> = cluster
                        .config
                        .peers
                        .keys()
                        .copied()
                        .filter(|p| *p != bully.me())
                        .collect();
                    announce(node, others, epoch);
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not take over; stepping down");
                    for action in bully.on_fenced(now_ms()) {
                        if action != Action::StepDown {
                            Box::pin(perform(node, bully, following, action)).await;
                        }
                    }
                    node.step_down();
                }
            }
        }
        Action::StepDown => {
            tracing::warn!(node = bully.me(), "stepping down");
            cluster.acks.clear_handover();
            node.step_down();
        }
        Action::Follow { leader } => {
            if cluster.handover_wanted().is_some_and(|l| l != leader) {
                cluster.want_handover(None);
            }
            if following
                .as_ref()
                .is_some_and(|(l, task)| *l == leader && !task.is_finished())
            {
                return;
            }
            if let Some((_, task)) = following.take() {
                task.abort();
            }
            let Some(addr) = cluster.addr_of(leader) else {
                tracing::error!(leader, "leader is not in --peers");
                return;
            };
            tracing::info!(node = bully.me(), leader, "following");
            publish_view(node, bully);
            *following = Some((
                leader,
                tokio::spawn(follower::run(node.clone(), leader, addr)),
            ));
        }
    }
}

/// Sends `Election` to node `id`; reports its answer. Returns whether it answered.
async fn ask_higher(node: &Arc<Node>, id: u32) -> bool {
    let Some(cluster) = node.cluster.clone() else {
        return false;
    };
    let Some(addr) = cluster.addr_of(id) else {
        return false;
    };
    let request = Request::Election {
        node_id: node.config.node_id,
    };
    let timeout = cluster.config.peer_call_timeout_ms;
    let me = cluster.config.identity(node.config.node_id);
    let answer = call_once(&addr, me, id, request, node.lamport.tick(), timeout).await;
    let Ok((
        Reply::NodeStatus {
            node_id,
            leader_id,
            epoch,
            ..
        },
        lamport,
    )) = answer
    else {
        return false;
    };
    node.lamport.observe(lamport);
    cluster.notify(ClusterEvent::Answer {
        from: node_id,
        leader: leader_id,
        epoch,
    });
    true
}

/// Claims the next epoch over the stored one. Bully already established that no higher node is
/// alive, so the claim builds on the stored epoch; the conditional update still lets only one
/// of two racing candidates win it.
async fn claim(node: &Arc<Node>, seen: u64) -> ClusterEvent {
    let current = match node.store.current_epoch().await {
        Ok(state) => state,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the epoch; not leading");
            return ClusterEvent::ClaimLost {
                current: seen,
                leader: None,
            };
        }
    };
    match node
        .store
        .claim_epoch(node.config.node_id, current.epoch.max(seen))
        .await
    {
        Ok(EpochClaim::Claimed(epoch)) => ClusterEvent::Claimed(epoch),
        Ok(EpochClaim::Lost(state)) => ClusterEvent::ClaimLost {
            current: state.epoch,
            leader: state.leader_node_id,
        },
        Err(e) => {
            tracing::warn!(error = %e, "epoch claim failed; not leading");
            ClusterEvent::ClaimLost {
                current: current.epoch,
                leader: None,
            }
        }
    }
}

/// Sends `Coordinator` to these nodes (best effort: a node that misses it finds the leader by
/// its own election or at start-up).
fn announce(node: &Arc<Node>, to: Vec<u32>, epoch: u64) {
    let Some(cluster) = node.cluster.clone() else {
        return;
    };
    let Some(client_addr) = cluster
        .addr_of(node.config.node_id)
        .or_else(|| Some(node.config.listen.to_string()))
    else {
        return;
    };
    for id in to {
        let (node, cluster, client_addr) = (node.clone(), cluster.clone(), client_addr.clone());
        tokio::spawn(async move {
            let Some(addr) = cluster.addr_of(id) else {
                return;
            };
            let request = Request::Coordinator {
                node_id: node.config.node_id,
                epoch,
                client_addr,
            };
            let _ = call_once(
                &addr,
                cluster.config.identity(node.config.node_id),
                id,
                request,
                node.lamport.tick(),
                cluster.config.peer_call_timeout_ms,
            )
            .await;
        });
    }
}

/// At start-up, ask every peer who leads, so a node joining a running cluster follows at once.
fn discover(node: &Arc<Node>) {
    let Some(cluster) = node.cluster.clone() else {
        return;
    };
    for (&id, addr) in &cluster.config.peers {
        if id == node.config.node_id {
            continue;
        }
        let (node, cluster, addr) = (node.clone(), cluster.clone(), addr.clone());
        tokio::spawn(async move {
            let request = Request::NodeStatus {
                node_id: node.config.node_id,
            };
            let timeout = cluster.config.peer_call_timeout_ms;
            if let Ok((
                Reply::NodeStatus {
                    leader_id: Some(leader),
                    epoch,
                    ..
                },
                _,
            )) = call_once(
                &addr,
                cluster.config.identity(node.config.node_id),
                id,
                request,
                node.lamport.tick(),
                timeout,
            )
            .await
            {
                cluster.notify(ClusterEvent::Heartbeat { leader, epoch });
            }
        });
    }
}

fn publish_view(node: &Arc<Node>, bully: &Bully) {
    let Some(cluster) = &node.cluster else { return };
    let role = match bully.phase() {
        Phase::Leader => NodeRole::Leader,
        Phase::Follower | Phase::Candidate { .. } | Phase::Claiming { .. } => NodeRole::Follower,
    };
    let leader_id = bully.leader();
    let view = ClusterView {
        role,
        leader_id,
        leader_addr: leader_id.and_then(|l| cluster.addr_of(l)),
        epoch: bully.epoch(),
    };
    if cluster.view() != view {
        cluster.set_view(view);
    }
}
