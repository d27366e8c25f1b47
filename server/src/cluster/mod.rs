//! The cluster: one leader accepts writes, followers apply its event stream, a bully election
//! picks a new leader when it goes silent, and a fencing epoch in the database stops a deposed
//! leader from committing.
//!
//! - [`bully`]: the election, a pure state machine.
//! - [`runtime`]: the task that owns the election state and performs its actions.
//! - [`replication`]: the leader's side: a `Follow` connection gets snapshots or backlog, then
//!   every event, and heartbeats.
//! - [`follower`]: the follower's side: apply the leader's stream with `ShowState::replay`.
//! - [`peer`]: a short request/reply connection to another node.
//! - [`peer_auth`]: how nodes prove the cluster secret to each other (challenge-response).
//! - [`claims`]: which `Election`/`Coordinator`/`Follow` messages a node believes.
//! - [`acks`]: what followers acknowledged: the leader lease, replicated holds, hand-over.
//! - [`leader`]: those rules as the request handlers apply them.
//! - [`lease`]: the leader's lease in the store as the runtime renews and checks it.

pub mod acks;
pub mod bully;
pub mod claims;
pub mod follower;
pub mod leader;
pub mod lease;
pub mod peer;
pub mod peer_auth;
pub mod replication;
pub mod runtime;

use std::collections::BTreeMap;

use cinebook_protocol::types::NodeRole;
use parking_lot::RwLock;
use tokio::sync::mpsc;

pub use bully::{Bully, BullyTimeouts};

/// Cluster membership and timing. Its `Debug` leaves the secret out (configs get logged).
#[derive(Clone)]
pub struct ClusterConfig {
    /// Every node's client address by id (this node's own entry is its advertised address).
    pub peers: BTreeMap<u32, String>,
    /// The shared secret nodes prove to each other by challenge-response (never sent).
    pub secret: String,
    /// Election timing.
    pub timeouts: BullyTimeouts,
    /// Events kept per show for followers that reconnect.
    pub backlog_events_max: usize,
    /// Events buffered for all followers before a slow one must resync.
    pub replication_buffer_max: usize,
    /// A peer call (connect + hello + one request) gives up after this long.
    pub peer_call_timeout_ms: u64,
    /// TLS to the peers (when the nodes serve TLS); `None` is plain TCP.
    pub tls: Option<crate::net::tls::PeerConnector>,
    /// The leader's lease: it renews it in the store every heartbeat, and grants holds only
    /// while a follower acknowledged, or a renewal succeeded, within this long (less than
    /// `leader_timeout_ms`, so a paused leader's lease ends before the others elect another).
    pub leader_lease_ms: u64,
    /// A hold is answered `Unavailable` (and kept) when not every caught-up follower
    /// acknowledged it within this long.
    pub replication_ack_timeout_ms: u64,
    /// A leader handing over grants again if the new leader has not announced itself by then.
    pub handover_timeout_ms: u64,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("peers", &self.peers)
            .field("secret", &"<redacted>")
            .field("timeouts", &self.timeouts)
            .field("backlog_events_max", &self.backlog_events_max)
            .field("replication_buffer_max", &self.replication_buffer_max)
            .field("peer_call_timeout_ms", &self.peer_call_timeout_ms)
            .field("tls", &self.tls)
            .field("leader_lease_ms", &self.leader_lease_ms)
            .field(
                "replication_ack_timeout_ms",
                &self.replication_ack_timeout_ms,
            )
            .field("handover_timeout_ms", &self.handover_timeout_ms)
            .finish()
    }
}

#[cfg(test)]
#[test]
fn a_cluster_config_never_prints_its_secret() {
    let config = ClusterConfig::new(BTreeMap::new(), "s3cr3t-value".into());
    assert!(!format!("{config:?}").contains("s3cr3t-value"));
}

impl ClusterConfig {
    /// This node (`node_id`) as it authenticates to its peers.
    pub fn identity(&self, node_id: u32) -> peer::PeerIdentity<'_> {
        peer::PeerIdentity {
            node_id,
            secret: &self.secret,
            tls: self.tls.as_ref(),
        }
    }

    /// A cluster of `peers` sharing `secret`, with default timing and bounds.
    pub fn new(peers: BTreeMap<u32, String>, secret: String) -> Self {
        Self {
            peers,
            secret,
            timeouts: BullyTimeouts::default(),
            backlog_events_max: 1024,
            replication_buffer_max: 65_536,
            peer_call_timeout_ms: 250,
            tls: None,
            leader_lease_ms: 300,
            replication_ack_timeout_ms: 250,
            handover_timeout_ms: 2_000,
        }
    }
}

/// What handlers see of the cluster, updated by the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    /// This node's role.
    pub role: NodeRole,
    /// The leader, if known.
    pub leader_id: Option<u32>,
    /// The leader's client address, if known.
    pub leader_addr: Option<String>,
    /// The epoch this node leads or follows.
    pub epoch: u64,
}

/// Something the runtime must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// A lower node sent `Election`.
    Election {
        /// The candidate.
        from: u32,
    },
    /// A node announced itself leader.
    Coordinator {
        /// The leader.
        leader: u32,
        /// Its epoch.
        epoch: u64,
    },
    /// The leader's stream delivered a heartbeat.
    Heartbeat {
        /// The leader.
        leader: u32,
        /// Its epoch.
        epoch: u64,
    },
    /// The follower applied the leader's whole state.
    CaughtUp,
    /// A higher node answered our election.
    Answer {
        /// Who answered.
        from: u32,
        /// The leader it knows.
        leader: Option<u32>,
        /// The epoch it knows.
        epoch: u64,
    },
    /// The database granted the epoch.
    Claimed(u64),
    /// The claim lost.
    ClaimLost {
        /// The stored epoch.
        current: u64,
        /// Its leader.
        leader: Option<u32>,
    },
    /// A write was refused by the fence.
    Fenced,
    /// The epoch could not be claimed (the database did not answer).
    ClaimFailed,
    /// The leader's stream delivered a frame (liveness during a long sync).
    Alive {
        /// The leader.
        leader: u32,
        /// Its epoch.
        epoch: u64,
    },
    /// Every higher node asked in an election failed to answer.
    NoAnswer,
    /// The leader stopped granting holds for a hand-over to this node.
    HandOverGranted {
        /// The leader that handed over.
        leader: u32,
        /// The epoch it says it handed to this node in the store (None: claim one).
        epoch: Option<u64>,
    },
}

/// The cluster handle inside a node.
#[derive(Debug)]
pub struct Cluster {
    /// Configuration.
    pub config: ClusterConfig,
    view: RwLock<ClusterView>,
    events: mpsc::Sender<ClusterEvent>,
    /// What followers acknowledged (used while leading).
    pub acks: acks::Acks,
    /// A hand-over this node asks of this leader (0: none), sent on the follow stream.
    want_handover: std::sync::atomic::AtomicU32,
}

/// Events queued for the runtime; beyond this, events are dropped (the next tick or heartbeat
/// repeats what matters).
pub const CLUSTER_EVENTS_MAX: usize = 1024;

impl Cluster {
    /// A cluster handle and the receiver its runtime reads.
    pub fn new(config: ClusterConfig) -> (Self, mpsc::Receiver<ClusterEvent>) {
        let (events, rx) = mpsc::channel(CLUSTER_EVENTS_MAX);
        let view = ClusterView {
            role: NodeRole::Follower,
            leader_id: None,
            leader_addr: None,
            epoch: 0,
        };
        (
            Self {
                config,
                view: RwLock::new(view),
                events,
                acks: acks::Acks::default(),
                want_handover: std::sync::atomic::AtomicU32::new(0),
            },
            rx,
        )
    }

    /// The current view.
    pub fn view(&self) -> ClusterView {
        self.view.read().clone()
    }

    pub(crate) fn set_view(&self, view: ClusterView) {
        *self.view.write() = view;
    }

    /// Tells the runtime; never waits.
    pub fn notify(&self, event: ClusterEvent) {
        if self.events.try_send(event).is_err() {
            tracing::warn!("cluster event queue full; event dropped");
        }
    }

    /// Asks the follow stream to request a hand-over from `leader` (None: stop asking).
    pub fn want_handover(&self, leader: Option<u32>) {
        self.want_handover
            .store(leader.unwrap_or(0), std::sync::atomic::Ordering::Release);
    }

    /// The leader a hand-over is wanted from, if any.
    pub fn handover_wanted(&self) -> Option<u32> {
        Some(
            self.want_handover
                .load(std::sync::atomic::Ordering::Acquire),
        )
        .filter(|l| *l != 0)
    }

    /// A peer's client address.
    pub fn addr_of(&self, id: u32) -> Option<String> {
        self.config.peers.get(&id).cloned()
    }
}

/// Parses `1=host:7878,2=host:7879`.
pub fn parse_peers(text: &str) -> Result<BTreeMap<u32, String>, String> {
    let mut peers = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not ID=HOST:PORT"))?;
        let id: u32 = id
            .trim()
            .parse()
            .map_err(|_| format!("{id:?} is not a node id"))?;
        if addr.trim().is_empty() {
            return Err(format!("node {id} has no address"));
        }
        if peers.insert(id, addr.trim().to_owned()).is_some() {
            return Err(format!("node {id} is listed twice"));
        }
    }
    Ok(peers)
}

#[cfg(test)]
mod tests {
    use super::parse_peers;

    #[test]
    fn peers_parse() {
        let peers = parse_peers("1=127.0.0.1:7001, 2=127.0.0.1:7002").expect("peers");
        assert_eq!(peers.len(), 2);
        assert_eq!(peers[&2], "127.0.0.1:7002");
        assert!(parse_peers("1=a,1=b").is_err());
        assert!(parse_peers("x=a").is_err());
        assert!(parse_peers("1").is_err());
    }
}
