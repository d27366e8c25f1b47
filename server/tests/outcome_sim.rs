//! Deterministic simulation of a show's sales through failing commits, unknown outcomes, crashes
//! and restarts (issue 12).
//!
//! One seeded RNG drives: customers holding, confirming and releasing; time passing (expiry);
//! the writer committing batches to a [`MemoryStore`] whose commits are made to fail
//! (`NotCommitted`), to be unknown but durable, or unknown and not durable; the resolver reading
//! the store (which fails now and then); and crashes, after which the show is rebuilt from the
//! store alone. It drives the real show core ([`ShowState::handle`]), the real outcome mapping of
//! the writer ([`settlement`]) and of the resolver ([`resolution`]), and the real recovery
//! and take-over ([`ShowInput::Durable`], after a crash or on a follower that takes over from its
//! replicated snapshot). After quiescence it checks that memory equals the store seat for
//! seat, that every sale a client was told succeeded is stored, that every sale a client was told
//! failed is not, and that no hold is left pinned.
//!
//! `cargo test -p cinebook-server --test outcome_sim` runs `CI_SEEDS` seeds;
//! `cargo test -p cinebook-server --test outcome_sim soak -- --ignored` runs more
//! (`CINEBOOK_SIM_SEEDS`). A failing seed prints the command that replays it
//! (`CINEBOOK_SIM_SEED=N`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cinebook_protocol::types::{BookingStatus, Money, Payment, PaymentMethod, SeatState};
use cinebook_server::domain::{
    Command, DurableShow, HoldLimits, HoldSpec, Layout, Pricing, SaleIntent, SaleRequest,
    SaleResult, ShowInput, ShowState, SALES_NEVER_CLOSE,
};
use cinebook_server::node::resolver::{resolution, Resolution};
use cinebook_server::node::writer::{settlement, Settlement};
use cinebook_server::store::memory::{CommitFault, MemoryStore};
use cinebook_server::store::{SaleRecord, Store};
use cinebook_server::testing::{sample_catalog, seed_catalog, SAMPLE_SHOW_ID};
use futures::executor::block_on;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CI_SEEDS: u64 = 32;
const STEPS: usize = 400;
const TERMINALS: u64 = 3;
const TTL_MS: u64 = 5_000;
const BATCH_MAX: usize = 6;

struct Queued {
    intent: SaleIntent,
    codes_tried: u32,
}

struct Sim {
    rng: StdRng,
    store: Arc<MemoryStore>,
    state: ShowState,
    now_ms: u64,
    lamport: u64,
    next_hold: u64,
    queue: Vec<Queued>,
    resolving: Vec<SaleIntent>,
    /// Booking code → seats, for every sale a client was told is committed.
    acked: BTreeMap<String, Vec<u32>>,
    /// Codes of sales a client was told definitely failed.
    refused: BTreeSet<String>,
    log: Vec<String>,
}

fn fresh_state() -> ShowState {
    let catalog = sample_catalog();
    let show = &catalog.shows[0];
    let layout = Arc::new(Layout::new(&catalog.screens[0]).expect("layout"));
    let pricing = Pricing::new(show).expect("pricing");
    let limits = HoldLimits {
        hold_ttl_ms: TTL_MS,
        ..HoldLimits::default()
    };
    ShowState::new(show.id, layout, pricing, limits)
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let store = Arc::new(MemoryStore::new());
        block_on(seed_catalog(store.as_ref(), &sample_catalog()));
        Sim {
            rng: StdRng::seed_from_u64(seed),
            store,
            state: fresh_state(),
            now_ms: 1_000_000,
            lamport: 0,
            next_hold: 1,
            queue: Vec::new(),
            resolving: Vec::new(),
            acked: BTreeMap::new(),
            refused: BTreeSet::new(),
            log: Vec::new(),
        }
    }

    fn input(&mut self, input: ShowInput) -> Result<cinebook_server::domain::ShowOutput, String> {
        self.lamport += 1;
        self.state
            .handle(input, self.now_ms, self.lamport)
            .map_err(|e| e.to_string())
    }

    fn step(&mut self) {
        match self.rng.random_range(0..100) {
            0..=29 => self.hold(),
            30..=49 => self.confirm(),
            50..=54 => self.release(),
            55..=64 => self.pass_time(),
            65..=84 => self.commit_batch(),
            85..=95 => self.resolve_one(),
            96..=97 => self.failover(),
            _ => self.crash(),
        }
    }

    fn hold(&mut self) {
        let count = self.rng.random_range(1..=3);
        let terminal_id = self.rng.random_range(1..=TERMINALS);
        let hold_id = self.next_hold;
        self.next_hold += 1;
        let command = Command::Hold {
            hold_id,
            terminal_id,
            spec: HoldSpec::Best {
                count,
                category: None,
            },
            idempotency_key: None,
            sales_close_at_ms: SALES_NEVER_CLOSE,
        };
        let _ = self.input(ShowInput::Command(command));
    }

    fn open_holds(&self, pinned: bool) -> Vec<(u64, u64)> {
        let mut holds: Vec<(u64, u64)> = self
            .state
            .holds()
            .filter(|h| h.sale.is_some() == pinned)
            .map(|h| (h.id, h.terminal_id))
            .collect();
        holds.sort_unstable();
        holds
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        Some(items[self.rng.random_range(0..items.len())])
    }

    fn confirm(&mut self) {
        let holds = self.open_holds(false);
        let Some((hold_id, terminal_id)) = self.pick(&holds) else {
            return;
        };
        let Some(info) = self.state.hold(hold_id).map(|h| self.state.hold_info(h)) else {
            return;
        };
        let request = SaleRequest {
            hold_id,
            terminal_id,
            payment: Payment {
                method: PaymentMethod::Card,
                amount: Money {
                    amount_minor: info.total.amount_minor,
                    currency: info.total.currency.clone(),
                },
                reference: None,
            },
            idempotency_key: format!("key-{hold_id}"),
            code_seed: self.rng.random(),
            sales_close_at_ms: SALES_NEVER_CLOSE,
            node_id: 1,
        };
        if let Ok(output) = self.input(ShowInput::BeginSale(request)) {
            let intent = output.sale.expect("a begun sale has an intent");
            self.queue.push(Queued {
                intent,
                codes_tried: 1,
            });
        }
    }

    fn release(&mut self) {
        let holds = self.open_holds(false);
        let Some((hold_id, terminal_id)) = self.pick(&holds) else {
            return;
        };
        let command = Command::Release {
            hold_id,
            terminal_id,
        };
        self.input(ShowInput::Command(command))
            .expect("an unpinned hold can be released");
    }

    fn pass_time(&mut self) {
        self.now_ms += self.rng.random_range(0..TTL_MS);
        let _ = self.input(ShowInput::Tick);
        for (hold_id, _) in self.open_holds(true) {
            assert!(
                self.state.hold(hold_id).is_some(),
                "a pinned hold never expires"
            );
        }
    }

    fn commit_batch(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        let take = self.rng.random_range(1..=BATCH_MAX.min(self.queue.len()));
        let batch: Vec<Queued> = self.queue.drain(..take).collect();
        let fault = match self.rng.random_range(0..10) {
            0..=5 => CommitFault::None,
            6 => CommitFault::NotCommitted,
            7 => CommitFault::UnknownNotApplied,
            _ => CommitFault::UnknownApplied,
        };
        self.log
            .push(format!("commit {} sales with {fault:?}", batch.len()));
        let mut once = Some(fault);
        self.store
            .set_commit_faults(Box::new(move |_| once.take().unwrap_or(CommitFault::None)));
        let records: Vec<SaleRecord> = batch
            .iter()
            .map(|q| SaleRecord {
                booking: q.intent.booking.clone(),
                idempotency_key: q.intent.idempotency_key.clone(),
                hold_id: Some(q.intent.hold_id),
                contact: Default::default(),
                outbox: Vec::new(),
            })
            .collect();
        let outcomes = block_on(self.store.commit_sales(&records));
        self.store.clear_commit_faults();
        assert_eq!(outcomes.len(), batch.len(), "one outcome per sale");
        for (queued, outcome) in batch.into_iter().zip(outcomes) {
            self.settle(queued, outcome);
        }
    }

    fn settle(&mut self, queued: Queued, outcome: cinebook_server::store::SaleOutcome) {
        let intent = queued.intent;
        let code = intent.booking.code.clone();
        match settlement(outcome, queued.codes_tried) {
            Settlement::Sell => self.sold(&intent),
            Settlement::Refuse(_) => self.failed(&intent),
            Settlement::Resolve(_) => self.resolving.push(intent),
            Settlement::Recode => panic!("sale {code}: no other show owns a code here"),
        }
    }

    fn sold(&mut self, intent: &SaleIntent) {
        let result = ShowInput::SaleResult {
            hold_id: intent.hold_id,
            result: SaleResult::Committed,
        };
        self.input(result).expect("a committed sale applies");
        let seats = intent.booking.seats.iter().map(|s| s.seat_id).collect();
        self.acked.insert(intent.booking.code.clone(), seats);
    }

    fn failed(&mut self, intent: &SaleIntent) {
        let result = ShowInput::SaleResult {
            hold_id: intent.hold_id,
            result: SaleResult::Failed,
        };
        self.input(result).expect("a failed sale unpins");
        self.refused.insert(intent.booking.code.clone());
    }

    fn resolve_one(&mut self) {
        if self.resolving.is_empty() {
            return;
        }
        if self.rng.random_range(0..4) == 0 {
            self.store.fail_resolves(1);
        }
        let intent = self.resolving.remove(0);
        match block_on(self.store.resolve_sale(&intent.booking.code)) {
            Err(_) => self.resolving.push(intent),
            Ok(stored) => match resolution(&intent, stored) {
                Resolution::Committed => self.sold(&intent),
                Resolution::NotCommitted => self.failed(&intent),
                Resolution::Differs => {
                    panic!("sale {}: stored with other seats", intent.booking.code)
                }
            },
        }
    }

    /// The process dies: every in-memory hold, queued and resolving sale is gone; clients of
    /// those were told nothing definite. The show is rebuilt from the store alone.
    fn crash(&mut self) {
        self.log.push(format!(
            "crash with {} queued, {} resolving",
            self.queue.len(),
            self.resolving.len()
        ));
        self.queue.clear();
        self.resolving.clear();
        self.state = fresh_state();
        let durable = self.durable();
        let output = self.input(ShowInput::Durable(durable)).expect("recovery");
        assert!(
            output.diverged.is_empty(),
            "recovery diverged: {:?}",
            output.diverged
        );
    }

    /// The leader dies and a follower takes over: the follower has the leader's holds (from its
    /// replicated snapshot; pins are not replicated) but nothing of its queued or unknown sales.
    /// Take-over brings it in line with the store.
    fn failover(&mut self) {
        self.log.push(format!(
            "failover with {} queued, {} resolving",
            self.queue.len(),
            self.resolving.len()
        ));
        self.queue.clear();
        self.resolving.clear();
        let snapshot = self.state.snapshot();
        let mut follower = fresh_state();
        follower
            .handle(
                ShowInput::Snapshot(Box::new(snapshot)),
                self.now_ms,
                self.lamport,
            )
            .expect("the follower installs the snapshot");
        self.state = follower;
        let durable = self.durable();
        let output = self.input(ShowInput::Durable(durable)).expect("take-over");
        assert!(
            output.diverged.is_empty(),
            "take-over diverged: {:?}",
            output.diverged
        );
    }

    fn durable(&self) -> DurableShow {
        let bookings = block_on(self.store.load_bookings()).expect("load bookings");
        let blocked = block_on(self.store.load_blocked_seats()).expect("load blocks");
        DurableShow {
            bookings: bookings
                .into_iter()
                .filter(|b| b.booking.show_id == SAMPLE_SHOW_ID)
                .map(|b| (b.booking, b.idempotency_key))
                .collect(),
            blocked: Some(
                blocked
                    .into_iter()
                    .filter(|(show, _)| *show == SAMPLE_SHOW_ID)
                    .map(|(_, seat)| seat)
                    .collect(),
            ),
        }
    }

    /// Commits everything queued and resolves every unknown sale, with no more faults.
    fn quiesce(&mut self) {
        self.store.clear_commit_faults();
        for _ in 0..1_000 {
            if self.queue.is_empty() && self.resolving.is_empty() {
                return;
            }
            self.commit_batch();
            self.resolve_one();
        }
        panic!("did not quiesce");
    }

    fn check(&self) {
        let stored = block_on(self.store.load_bookings()).expect("load bookings");
        let mut store_owner: BTreeMap<u32, String> = BTreeMap::new();
        let mut codes = BTreeSet::new();
        for b in &stored {
            codes.insert(b.booking.code.clone());
            if b.booking.status == BookingStatus::Confirmed {
                for seat in &b.booking.seats {
                    let previous = store_owner.insert(seat.seat_id, b.booking.code.clone());
                    assert!(previous.is_none(), "seat {} stored twice", seat.seat_id);
                }
            }
        }
        let states = self.state.seat_states();
        for (seat, state) in states.iter().enumerate() {
            let stored_sold = store_owner.contains_key(&(seat as u32));
            assert_eq!(
                *state == SeatState::Sold,
                stored_sold,
                "seat {seat}: memory {state:?}, store owner {:?}",
                store_owner.get(&(seat as u32))
            );
        }
        for booking in self.state.bookings() {
            assert!(
                codes.contains(&booking.code),
                "{} in memory only",
                booking.code
            );
        }
        for (code, seats) in &self.acked {
            assert!(
                codes.contains(code),
                "acknowledged sale {code} is not stored"
            );
            for seat in seats {
                assert_eq!(
                    store_owner.get(seat),
                    Some(code),
                    "acknowledged seat {seat}"
                );
            }
        }
        for code in &self.refused {
            assert!(
                !codes.contains(code),
                "sale {code} was refused but is stored"
            );
        }
        assert!(
            self.open_holds(true).is_empty(),
            "pinned holds left after quiescence"
        );
    }
}

fn run(seed: u64) {
    let mut sim = Sim::new(seed);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for _ in 0..STEPS {
            sim.step();
        }
        sim.quiesce();
        sim.check();
        sim.crash();
        sim.check();
    }));
    if let Err(panic) = outcome {
        eprintln!(
            "seed {seed} failed; replay: CINEBOOK_SIM_SEED={seed} cargo test -p cinebook-server --test outcome_sim replay -- --ignored\nlast steps: {:?}",
            sim.log.iter().rev().take(8).collect::<Vec<_>>()
        );
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn seeds() {
    for seed in 0..CI_SEEDS {
        run(seed);
    }
}

#[test]
#[ignore]
fn soak() {
    let seeds: u64 = std::env::var("CINEBOOK_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    for seed in 0..seeds {
        run(seed);
    }
}

#[test]
#[ignore]
fn replay() {
    let seed: u64 = std::env::var("CINEBOOK_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("CINEBOOK_SIM_SEED=N");
    run(seed);
}
