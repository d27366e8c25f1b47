//! The bully election as a pure state machine: messages and ticks in, actions out. No clock
//! reads (time is passed in), no I/O: the runtime (`cluster::runtime`) performs the actions, and
//! the deterministic simulation (`tests/cluster_sim.rs`) drives many of these through partitions,
//! crashes and clock jumps.
//!
//! Rules: a follower that hears nothing from its leader for `leader_timeout_ms` starts an
//! election: it asks every higher node. Any answer means a higher node is alive and will take
//! over; the candidate waits for its `Coordinator` (and starts again if none comes). With no
//! answer within `election_timeout_ms`, it claims the next fencing epoch in the database — a
//! conditional update, so at most one node can win an epoch — and announces itself. A node
//! that recovers with a higher id than the leader first follows it, and once it has caught up
//! asks the leader to hand over (stop granting holds, so none is lost); it starts its election
//! when the leader has stopped, or after `coordinator_timeout_ms` without an answer.

use std::collections::BTreeSet;

/// Timing of the election, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BullyTimeouts {
    /// A leader announces itself this often.
    pub heartbeat_interval_ms: u64,
    /// A follower that heard nothing from its leader for this long starts an election.
    pub leader_timeout_ms: u64,
    /// A candidate waits this long for an answer from a higher node.
    pub election_timeout_ms: u64,
    /// After an answer, a candidate waits this long for the higher node's `Coordinator`.
    pub coordinator_timeout_ms: u64,
}

impl Default for BullyTimeouts {
    /// Defaults that give a failover within a second: 400 ms to notice (the leader lease, 300
    /// ms, makes an election of a leader that was only slow harmless: its claim loses), then a
    /// claim at once when no other higher node is alive, or up to 300 ms to hear from one.
    fn default() -> Self {
        Self {
            heartbeat_interval_ms: 100,
            leader_timeout_ms: 400,
            election_timeout_ms: 300,
            coordinator_timeout_ms: 700,
        }
    }
}

/// Where this node is in the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Following `leader` (if known).
    Follower,
    /// Asked the higher nodes at `since_ms`; `answered` once one of them replied.
    Candidate {
        /// When the election started.
        since_ms: u64,
        /// Whether a higher node answered.
        answered: bool,
    },
    /// Waiting (since `since_ms`) for the database to grant the epoch.
    Claiming {
        /// When the claim was sent.
        since_ms: u64,
    },
    /// Leading with `epoch`.
    Leader,
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send `Election` to these nodes; report each answer with [`Bully::on_answer`].
    AskHigher(Vec<u32>),
    /// Claim epoch `seen + 1` in the database; report with [`Bully::on_claimed`] or
    /// [`Bully::on_claim_lost`].
    ClaimEpoch {
        /// The epoch this node last saw.
        seen: u64,
    },
    /// Become the leader of `epoch`: rebuild from the database, fence, tell the others.
    Lead {
        /// The epoch won.
        epoch: u64,
    },
    /// Stop leading (another node leads a newer epoch): stop writing, follow.
    StepDown,
    /// Follow this leader (connect to its event stream).
    Follow {
        /// The leader.
        leader: u32,
    },
    /// Ask this (lower) leader to stop granting holds and hand over; report the answer with
    /// [`Bully::on_handover_granted`].
    AskHandOver {
        /// The leader.
        leader: u32,
    },
}

/// One node's election state.
#[derive(Debug, Clone)]
pub struct Bully {
    me: u32,
    peers: BTreeSet<u32>,
    timeouts: BullyTimeouts,
    phase: Phase,
    leader: Option<u32>,
    epoch: u64,
    last_heard_ms: u64,
    caught_up: bool,
    /// When this node asked its leader to hand over.
    handover_asked_ms: Option<u64>,
}

impl Bully {
    /// A node that just started: a follower with no leader, heard of nobody yet.
    pub fn new(
        me: u32,
        peers: impl IntoIterator<Item = u32>,
        timeouts: BullyTimeouts,
        now_ms: u64,
    ) -> Self {
        let peers = peers.into_iter().filter(|p| *p != me).collect();
        Self {
            me,
            peers,
            timeouts,
            phase: Phase::Follower,
            leader: None,
            epoch: 0,
            last_heard_ms: now_ms,
            caught_up: false,
            handover_asked_ms: None,
        }
    }

    /// This node's id.
    pub fn me(&self) -> u32 {
        self.me
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The leader this node follows or is.
    pub fn leader(&self) -> Option<u32> {
        self.leader
    }

    /// The highest epoch seen.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether this node leads.
    pub fn is_leader(&self) -> bool {
        self.phase == Phase::Leader
    }

    fn higher(&self) -> Vec<u32> {
        self.peers
            .iter()
            .copied()
            .filter(|p| *p > self.me)
            .collect()
    }

    fn start_election(&mut self, now_ms: u64) -> Vec<Action> {
        self.start_election_without(now_ms, None)
    }

    /// The leader went silent: it is not asked again (a paused node accepts the connection and
    /// never answers, which cost a whole peer call timeout). If it is in fact alive and only cut
    /// off from this node, the claim loses over its lease in the store.
    fn election_after_silence(&mut self, now_ms: u64) -> Vec<Action> {
        let silent = self.leader.take();
        self.start_election_without(now_ms, silent)
    }

    fn start_election_without(&mut self, now_ms: u64, silent: Option<u32>) -> Vec<Action> {
        let mut higher = self.higher();
        higher.retain(|p| Some(*p) != silent);
        if higher.is_empty() {
            self.phase = Phase::Claiming { since_ms: now_ms };
            return vec![Action::ClaimEpoch { seen: self.epoch }];
        }
        self.phase = Phase::Candidate {
            since_ms: now_ms,
            answered: false,
        };
        vec![Action::AskHigher(higher)]
    }

    /// Time passes.
    pub fn on_tick(&mut self, now_ms: u64) -> Vec<Action> {
        match self.phase {
            Phase::Leader => Vec::new(),
            Phase::Claiming { since_ms } => {
                // The claim's answer never came (lost, or the database hung): start over.
                if now_ms.saturating_sub(since_ms) >= self.timeouts.coordinator_timeout_ms {
                    self.phase = Phase::Follower;
                    self.last_heard_ms = now_ms;
                }
                Vec::new()
            }
            Phase::Follower => {
                let silent =
                    now_ms.saturating_sub(self.last_heard_ms) >= self.timeouts.leader_timeout_ms;
                if silent {
                    return self.election_after_silence(now_ms);
                }
                // A recovered higher node takes over once it has caught up with the leader, and
                // the leader has stopped granting (or did not answer in time).
                match (self.leader, self.handover_asked_ms) {
                    (Some(leader), None) if self.caught_up && leader < self.me => {
                        self.handover_asked_ms = Some(now_ms);
                        vec![Action::AskHandOver { leader }]
                    }
                    (Some(_), Some(asked))
                        if now_ms.saturating_sub(asked) >= self.timeouts.coordinator_timeout_ms =>
                    {
                        self.take_back(now_ms)
                    }
                    _ => Vec::new(),
                }
            }
            Phase::Candidate { since_ms, answered } => {
                let waited = now_ms.saturating_sub(since_ms);
                if !answered && waited >= self.timeouts.election_timeout_ms {
                    self.phase = Phase::Claiming { since_ms: now_ms };
                    return vec![Action::ClaimEpoch { seen: self.epoch }];
                }
                if answered
                    && waited
                        >= self.timeouts.election_timeout_ms + self.timeouts.coordinator_timeout_ms
                {
                    // The higher node that answered never announced itself: try again.
                    return self.start_election(now_ms);
                }
                Vec::new()
            }
        }
    }

    fn take_back(&mut self, now_ms: u64) -> Vec<Action> {
        self.caught_up = false;
        self.handover_asked_ms = None;
        self.start_election(now_ms)
    }

    /// The leader stopped granting for the hand-over this node asked for: take over now.
    pub fn on_handover_granted(&mut self, leader: u32, now_ms: u64) -> Vec<Action> {
        let asked = self.handover_asked_ms.is_some();
        if self.phase != Phase::Follower || self.leader != Some(leader) || !asked {
            return Vec::new();
        }
        self.take_back(now_ms)
    }

    /// A higher node answered our `Election`.
    pub fn on_answer(&mut self, from: u32) {
        if let Phase::Candidate { since_ms, .. } = self.phase {
            if from > self.me {
                self.phase = Phase::Candidate {
                    since_ms,
                    answered: true,
                };
            }
        }
    }

    /// Every higher node asked in this election failed to answer (refused, unreachable or timed
    /// out): none is alive, so claim now rather than at `election_timeout_ms`.
    pub fn on_no_answer(&mut self, now_ms: u64) -> Vec<Action> {
        if !matches!(
            self.phase,
            Phase::Candidate {
                answered: false,
                ..
            }
        ) {
            return Vec::new();
        }
        self.phase = Phase::Claiming { since_ms: now_ms };
        vec![Action::ClaimEpoch { seen: self.epoch }]
    }

    /// A lower node asks whether we are alive (we answer by replying). Unless we lead or are
    /// already electing, we start our own election.
    pub fn on_election(&mut self, from: u32, now_ms: u64) -> Vec<Action> {
        if from >= self.me {
            // Only lower nodes ask upwards; a misconfigured peer list changes nothing here.
            return Vec::new();
        }
        match self.phase {
            // Our leader is alive: answering is enough. Starting an election now could take
            // over before this node has caught up with the leader's holds.
            Phase::Follower if self.leader.is_some() && !self.silent(now_ms) => Vec::new(),
            Phase::Follower => self.election_after_silence(now_ms),
            Phase::Candidate { .. } | Phase::Claiming { .. } | Phase::Leader => Vec::new(),
        }
    }

    fn silent(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_heard_ms) >= self.timeouts.leader_timeout_ms
    }

    /// A node announces it leads `epoch`.
    pub fn on_coordinator(&mut self, leader: u32, epoch: u64, now_ms: u64) -> Vec<Action> {
        if epoch < self.epoch
            || (epoch == self.epoch && self.phase == Phase::Leader && leader != self.me)
        {
            // A stale announcement (an older epoch) changes nothing.
            return Vec::new();
        }
        let was_leader = self.phase == Phase::Leader && leader != self.me;
        self.epoch = epoch;
        self.leader = Some(leader);
        self.last_heard_ms = now_ms;
        self.caught_up = false;
        self.handover_asked_ms = None;
        self.phase = Phase::Follower;
        let mut actions = Vec::new();
        if was_leader {
            actions.push(Action::StepDown);
        }
        actions.push(Action::Follow { leader });
        actions
    }

    /// The leader's stream delivered a frame: it is alive (no change of leader or epoch).
    pub fn on_alive(&mut self, leader: u32, epoch: u64, now_ms: u64) {
        if self.leader == Some(leader) && epoch == self.epoch {
            self.last_heard_ms = now_ms;
        }
    }

    /// The leader's heartbeat arrived.
    pub fn on_heartbeat(&mut self, leader: u32, epoch: u64, now_ms: u64) -> Vec<Action> {
        if epoch < self.epoch {
            return Vec::new();
        }
        if epoch > self.epoch || self.leader != Some(leader) {
            return self.on_coordinator(leader, epoch, now_ms);
        }
        self.last_heard_ms = now_ms;
        Vec::new()
    }

    /// This follower has applied the leader's whole state.
    pub fn on_caught_up(&mut self) {
        self.caught_up = true;
    }

    /// The database granted `epoch`. A won claim is acted on even if this node stopped waiting
    /// for it (it followed someone meanwhile): the store says this node owns the epoch, and an
    /// owned epoch nobody leads would stall the cluster. A grant older than an epoch already seen
    /// is ignored: whoever announced the newer epoch leads, and it fences this one.
    pub fn on_claimed(&mut self, epoch: u64) -> Vec<Action> {
        if epoch <= self.epoch {
            return Vec::new();
        }
        self.epoch = epoch;
        self.leader = Some(self.me);
        self.phase = Phase::Leader;
        self.handover_asked_ms = None;
        vec![Action::Lead { epoch }]
    }

    /// Another node moved the epoch first (it is `current`, led by `leader`).
    pub fn on_claim_lost(&mut self, current: u64, leader: Option<u32>, now_ms: u64) -> Vec<Action> {
        self.epoch = self.epoch.max(current);
        self.phase = Phase::Follower;
        self.leader = leader.filter(|l| *l != self.me);
        // Wait a full timeout for that leader to show itself before trying again.
        self.last_heard_ms = now_ms;
        match self.leader {
            Some(leader) => vec![Action::Follow { leader }],
            None => Vec::new(),
        }
    }

    /// The claim could not be made (the database is down): keep following whoever we followed,
    /// and catch up again before trying to take over.
    pub fn on_claim_failed(&mut self, now_ms: u64) {
        if matches!(self.phase, Phase::Claiming { .. }) {
            self.phase = Phase::Follower;
            self.caught_up = false;
            self.last_heard_ms = now_ms;
        }
    }

    /// A write of ours was refused by the fence: we no longer lead.
    pub fn on_fenced(&mut self, now_ms: u64) -> Vec<Action> {
        if self.phase != Phase::Leader {
            return Vec::new();
        }
        self.phase = Phase::Follower;
        self.leader = None;
        self.last_heard_ms = now_ms;
        vec![Action::StepDown]
    }
}

#[cfg(test)]
mod tests;
