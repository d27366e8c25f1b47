//! Deterministic simulation of the cluster's election and fencing: the real `Bully` state
//! machine of every node and the real fencing of `MemoryStore` handles (one per node, one shared
//! database), over a simulated network with delays, drops, partitions, crashes, restarts and
//! clock jumps. Everything is driven by one seeded RNG, so a failing seed replays exactly:
//!
//! ```text
//! CINEBOOK_SIM_SEED=<seed> cargo test -p cinebook-server --test cluster_sim -- one_seed
//! ```
//!
//! After each run it checks: at most one node commits in each epoch, and only the node that
//! claimed it; no seat is committed twice; and once the network heals and every node is up,
//! exactly one leader remains — the highest id — and every node follows it.

use std::collections::{BTreeMap, BTreeSet};

use cinebook_protocol::types::{
    BookedSeat, Booking, BookingStatus, Category, Money, Payment, PaymentMethod,
};
use cinebook_server::cluster::bully::{Action, Bully, BullyTimeouts};
use cinebook_server::store::memory::MemoryStore;
use cinebook_server::store::{EpochClaim, SaleOutcome, SaleRecord, Store};
use futures::executor::block_on;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const NODES: u32 = 3;
const TICK_MS: u64 = 5;
const CHAOS_MS: u64 = 20_000;
const HEAL_MS: u64 = 6_000;

#[derive(Debug, Clone)]
enum Msg {
    Election {
        from: u32,
    },
    Answer {
        from: u32,
    },
    Coordinator {
        leader: u32,
        epoch: u64,
    },
    Heartbeat {
        leader: u32,
        epoch: u64,
    },
    /// A caught-up higher node asks its leader to hand over.
    HandOver {
        from: u32,
    },
    /// The leader stopped granting for the hand-over.
    Granted {
        leader: u32,
    },
}

struct Node {
    bully: Bully,
    store: MemoryStore,
    up: bool,
    clock_offset_ms: u64,
    last_heartbeat_sent_ms: u64,
    /// The epoch this node believes it leads.
    leading: Option<u64>,
}

struct Sim {
    rng: StdRng,
    now_ms: u64,
    db: MemoryStore,
    nodes: BTreeMap<u32, Node>,
    in_flight: Vec<(u64, u32, u32, Msg)>,
    cut: BTreeSet<(u32, u32)>,
    next_seat: u32,
    /// epoch (as stored at commit time) -> nodes that committed in it
    committers: BTreeMap<u64, BTreeSet<u32>>,
    /// epoch -> node that claimed it
    claimed: BTreeMap<u64, u32>,
    log: Vec<String>,
}

fn timeouts() -> BullyTimeouts {
    BullyTimeouts::default()
}

impl Sim {
    fn new(seed: u64) -> Self {
        let db = MemoryStore::new();
        let mut sim = Sim {
            rng: StdRng::seed_from_u64(seed),
            now_ms: 0,
            nodes: BTreeMap::new(),
            in_flight: Vec::new(),
            cut: BTreeSet::new(),
            next_seat: 0,
            committers: BTreeMap::new(),
            claimed: BTreeMap::new(),
            log: Vec::new(),
            db,
        };
        for id in 1..=NODES {
            let node = sim.fresh_node(id);
            sim.nodes.insert(id, node);
        }
        sim
    }

    fn fresh_node(&self, id: u32) -> Node {
        Node {
            bully: Bully::new(id, 1..=NODES, timeouts(), self.now_ms),
            store: self.db.share(),
            up: true,
            clock_offset_ms: 0,
            last_heartbeat_sent_ms: 0,
            leading: None,
        }
    }

    fn local_now(&self, id: u32) -> u64 {
        self.now_ms + self.nodes[&id].clock_offset_ms
    }

    fn send(&mut self, from: u32, to: u32, msg: Msg) {
        if self.rng.random_bool(0.02) {
            return; // dropped
        }
        let delay = self.rng.random_range(1..30);
        self.in_flight.push((self.now_ms + delay, from, to, msg));
    }

    fn perform(&mut self, id: u32, actions: Vec<Action>) {
        for action in actions {
            let now = self.local_now(id);
            match action {
                Action::AskHigher(ids) => {
                    for to in ids {
                        self.send(id, to, Msg::Election { from: id });
                    }
                }
                Action::ClaimEpoch { seen } => {
                    let node = &self.nodes[&id];
                    let current = block_on(node.store.current_epoch()).expect("epoch").epoch;
                    let claim =
                        block_on(node.store.claim_epoch(id, current.max(seen))).expect("claim");
                    let next = match claim {
                        EpochClaim::Claimed(epoch) => {
                            self.claimed.insert(epoch, id);
                            self.log.push(format!(
                                "{} ms: node {id} claimed epoch {epoch}",
                                self.now_ms
                            ));
                            self.nodes
                                .get_mut(&id)
                                .map(|n| n.bully.on_claimed(epoch))
                                .unwrap_or_default()
                        }
                        EpochClaim::Lost(state) => self
                            .nodes
                            .get_mut(&id)
                            .map(|n| {
                                n.bully
                                    .on_claim_lost(state.epoch, state.leader_node_id, now)
                            })
                            .unwrap_or_default(),
                    };
                    self.perform(id, next);
                }
                Action::Lead { epoch } => {
                    if let Some(node) = self.nodes.get_mut(&id) {
                        node.store.set_fence(Some(epoch));
                        node.leading = Some(epoch);
                    }
                    for to in 1..=NODES {
                        if to != id {
                            self.send(id, to, Msg::Coordinator { leader: id, epoch });
                        }
                    }
                }
                Action::StepDown => {
                    if let Some(node) = self.nodes.get_mut(&id) {
                        node.leading = None;
                    }
                }
                Action::Follow { .. } => {}
                Action::AskHandOver { leader } => self.send(id, leader, Msg::HandOver { from: id }),
            }
        }
    }

    fn deliver(&mut self) {
        let now = self.now_ms;
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.in_flight)
            .into_iter()
            .partition(|m| m.0 <= now);
        self.in_flight = later;
        for (_, from, to, msg) in due {
            let reachable = self.nodes[&to].up
                && self.nodes[&from].up
                && !self.cut.contains(&(from.min(to), from.max(to)));
            if !reachable {
                continue;
            }
            let local = self.local_now(to);
            let actions = {
                let node = self.nodes.get_mut(&to).expect("node");
                match msg {
                    Msg::Election { from } => {
                        let mut actions = node.bully.on_election(from, local);
                        // Answer (the reply), and a leader tells the candidate who leads.
                        actions.retain(|_| true);
                        let leader_epoch = node.bully.is_leader().then(|| node.bully.epoch());
                        self.in_flight
                            .push((now + 1, to, from, Msg::Answer { from: to }));
                        if let Some(epoch) = leader_epoch {
                            self.in_flight.push((
                                now + 2,
                                to,
                                from,
                                Msg::Coordinator { leader: to, epoch },
                            ));
                        }
                        actions
                    }
                    Msg::Answer { from } => {
                        node.bully.on_answer(from);
                        Vec::new()
                    }
                    Msg::Coordinator { leader, epoch } => {
                        node.bully.on_coordinator(leader, epoch, local)
                    }
                    Msg::HandOver { from } => {
                        if node.bully.is_leader() {
                            self.in_flight
                                .push((now + 1, to, from, Msg::Granted { leader: to }));
                        }
                        Vec::new()
                    }
                    Msg::Granted { leader } => node.bully.on_handover_granted(leader, local),
                    Msg::Heartbeat { leader, epoch } => {
                        let actions = node.bully.on_heartbeat(leader, epoch, local);
                        if node.bully.leader() == Some(leader) {
                            node.bully.on_caught_up();
                        }
                        actions
                    }
                }
            };
            self.perform(to, actions);
        }
    }

    fn tick(&mut self) {
        let ids: Vec<u32> = self.nodes.keys().copied().collect();
        for id in ids {
            if !self.nodes[&id].up {
                continue;
            }
            let local = self.local_now(id);
            let actions = self
                .nodes
                .get_mut(&id)
                .map(|n| n.bully.on_tick(local))
                .unwrap_or_default();
            self.perform(id, actions);
            // A leader heartbeats and sells.
            let leading = self.nodes[&id]
                .leading
                .filter(|_| self.nodes[&id].bully.is_leader());
            if let Some(epoch) = leading {
                if self.now_ms
                    >= self.nodes[&id].last_heartbeat_sent_ms + timeouts().heartbeat_interval_ms
                {
                    if let Some(n) = self.nodes.get_mut(&id) {
                        n.last_heartbeat_sent_ms = self.now_ms;
                    }
                    for to in 1..=NODES {
                        if to != id {
                            self.send(id, to, Msg::Heartbeat { leader: id, epoch });
                        }
                    }
                }
                self.sell(id, epoch);
            }
        }
    }

    fn sell(&mut self, id: u32, _believed_epoch: u64) {
        // The epoch the database is really at when the commit happens (the simulation is
        // sequential, so this is exact): a commit counts against it, not against what the
        // node believes.
        let epoch = block_on(self.db.current_epoch()).expect("epoch").epoch;
        let seat = self.next_seat;
        self.next_seat += 1;
        let sale = sale(id, seat);
        let result = block_on(
            self.nodes[&id]
                .store
                .commit_sales(std::slice::from_ref(&sale)),
        );
        match &result[..] {
            [SaleOutcome::Committed] => {
                self.committers.entry(epoch).or_default().insert(id);
            }
            [fenced] if fenced.is_fenced() => {
                let local = self.local_now(id);
                let actions = self
                    .nodes
                    .get_mut(&id)
                    .map(|n| n.bully.on_fenced(local))
                    .unwrap_or_default();
                self.perform(id, actions);
            }
            other => panic!("seat {seat}: unexpected outcome {other:?}"),
        }
    }

    fn chaos(&mut self) {
        let roll: f64 = self.rng.random();
        let id = self.rng.random_range(1..=NODES);
        if roll < 0.002 {
            // Crash.
            if let Some(node) = self.nodes.get_mut(&id) {
                if node.up {
                    node.up = false;
                    self.log
                        .push(format!("{} ms: node {id} crashed", self.now_ms));
                }
            }
        } else if roll < 0.004 {
            // Restart with empty memory.
            if !self.nodes[&id].up {
                let fresh = self.fresh_node(id);
                self.nodes.insert(id, fresh);
                self.log
                    .push(format!("{} ms: node {id} restarted", self.now_ms));
            }
        } else if roll < 0.006 {
            let other = self.rng.random_range(1..=NODES);
            if other != id {
                self.cut.insert((id.min(other), id.max(other)));
                self.log
                    .push(format!("{} ms: link {id}-{other} cut", self.now_ms));
            }
        } else if roll < 0.008 {
            self.cut.clear();
            self.log.push(format!("{} ms: network healed", self.now_ms));
        } else if roll < 0.009 {
            let jump = self.rng.random_range(0..2_000);
            if let Some(node) = self.nodes.get_mut(&id) {
                node.clock_offset_ms += jump;
            }
            self.log.push(format!(
                "{} ms: node {id} clock jumped {jump} ms",
                self.now_ms
            ));
        }
    }

    fn run(&mut self) {
        while self.now_ms < CHAOS_MS {
            self.chaos();
            self.deliver();
            self.tick();
            self.now_ms += TICK_MS;
        }
        // Heal everything and let the cluster settle.
        self.cut.clear();
        let ids: Vec<u32> = self.nodes.keys().copied().collect();
        for id in ids {
            if !self.nodes[&id].up {
                let fresh = self.fresh_node(id);
                self.nodes.insert(id, fresh);
            }
        }
        self.log
            .push(format!("{} ms: all up, network healed", self.now_ms));
        let end = self.now_ms + HEAL_MS;
        while self.now_ms < end {
            self.deliver();
            self.tick();
            self.now_ms += TICK_MS;
        }
    }

    fn check(&self) -> Result<(), String> {
        for (epoch, nodes) in &self.committers {
            if nodes.len() > 1 {
                return Err(format!("epoch {epoch}: {nodes:?} all committed"));
            }
            let claimer = self.claimed.get(epoch);
            if nodes.iter().next() != claimer {
                return Err(format!(
                    "epoch {epoch}: committed by {nodes:?}, claimed by {claimer:?}"
                ));
            }
        }
        let leaders: Vec<u32> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.bully.is_leader())
            .map(|(id, _)| *id)
            .collect();
        if leaders != vec![NODES] {
            return Err(format!(
                "after healing the leaders are {leaders:?}, expected [{NODES}]"
            ));
        }
        let current = block_on(self.db.current_epoch()).map_err(|e| e.to_string())?;
        if current.leader_node_id != Some(NODES) {
            return Err(format!(
                "the stored epoch {} belongs to {:?}",
                current.epoch, current.leader_node_id
            ));
        }
        for (id, node) in &self.nodes {
            if node.bully.leader() != Some(NODES) {
                return Err(format!("node {id} follows {:?}", node.bully.leader()));
            }
        }
        Ok(())
    }
}

fn sale(node: u32, seat: u32) -> SaleRecord {
    let money = |amount_minor| Money {
        amount_minor,
        currency: "EUR".into(),
    };
    SaleRecord {
        booking: Booking {
            code: format!("S{seat:07}"),
            show_id: 1,
            seats: vec![BookedSeat {
                seat_id: seat,
                label: format!("A{seat}"),
                category: Category::Standard,
                price_minor: 100,
            }],
            total: money(100),
            payment: Payment {
                method: PaymentMethod::Card,
                amount: money(100),
                reference: None,
            },
            status: BookingStatus::Confirmed,
            terminal_id: 1,
            sold_at_ms: 0,
            lamport: u64::from(seat),
            node_id: node,
        },
        idempotency_key: format!("k{seat}"),
        hold_id: Some(u64::from(seat)),
        contact: Default::default(),
        outbox: Vec::new(),
    }
}

fn run_seed(seed: u64) {
    let mut sim = Sim::new(seed);
    let db = sim.db.share();
    seed_show(&db);
    sim.run();
    if let Err(violation) = sim.check() {
        let tail: Vec<&String> = sim
            .log
            .iter()
            .rev()
            .take(25)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!(
            "seed {seed}: {violation}\nlast events: {tail:#?}\nreproduce: CINEBOOK_SIM_SEED={seed} cargo test -p cinebook-server --test cluster_sim -- one_seed --nocapture"
        );
    }
}

/// The show the simulated sales go to, so the store's foreign keys hold.
fn seed_show(db: &MemoryStore) {
    block_on(cinebook_server::testing::seed_catalog(db, &sim_catalog()));
}

fn sim_catalog() -> cinebook_server::store::CatalogData {
    let mut catalog = cinebook_server::testing::sample_catalog();
    if let Some(show) = catalog.shows.first_mut() {
        show.id = 1;
    }
    catalog
}

#[test]
fn a_few_seeds() {
    for seed in 0..24 {
        run_seed(seed);
    }
}

#[test]
fn one_seed() {
    let seed = std::env::var("CINEBOOK_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    run_seed(seed);
}

#[test]
#[ignore = "soak: many seeds; run with --ignored"]
fn soak() {
    let count: u64 = std::env::var("CINEBOOK_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    for seed in 0..count {
        run_seed(seed);
    }
}
