//! Criterion benchmarks of the seat-map state machine (pure, no I/O):
//! - `show_state/hold_confirm_2_seats`: hold two seats by id, begin the sale, and apply `Sell`,
//!   on the 400-seat sample show (a fresh copy of the empty show every 200 sales, not timed);
//! - `best_available/400_seats/{0,50,95}pct`: `pick_best` for two adjacent standard seats on the
//!   same show with 0 %, 50 % and 95 % of its seats taken (a seeded random pattern).
//!
//! Protocol encode/decode is benchmarked in `protocol/benches/codec.rs`
//! (`cargo bench -p cinebook-protocol --bench codec`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cinebook_protocol::types::{Category, Payment, PaymentMethod, SeatId};
use cinebook_server::domain::{
    pick_best, Command, HoldLimits, HoldSpec, Layout, Pricing, SeededCodes, ShowState,
    SALES_NEVER_CLOSE,
};
use cinebook_server::testing::sample_catalog;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

fn empty_show() -> ShowState {
    let catalog = sample_catalog();
    let layout = Arc::new(Layout::new(&catalog.screens[0]).expect("sample layout is valid"));
    let pricing = Pricing::new(&catalog.shows[0]).expect("sample prices are valid");
    let limits = HoldLimits {
        holds_per_terminal_max: u32::MAX,
        ..HoldLimits::default()
    };
    ShowState::new(catalog.shows[0].id, layout, pricing, limits)
}

/// Pairs of adjacent seats in one block of the sample layout, in order.
fn seat_pairs(state: &ShowState) -> Vec<[SeatId; 2]> {
    state
        .layout()
        .blocks()
        .iter()
        .flat_map(|block| block.chunks_exact(2).map(|p| [p[0], p[1]]))
        .collect()
}

fn hold_confirm(c: &mut Criterion) {
    let template = empty_show();
    let pairs = seat_pairs(&template);
    let mut group = c.benchmark_group("show_state");
    group.throughput(Throughput::Elements(1));
    group.bench_function("hold_confirm_2_seats", |b| {
        b.iter_custom(|iters| {
            let mut state = template.clone();
            let mut next = 0usize;
            let mut total = Duration::ZERO;
            let mut codes = SeededCodes::new(1);
            for i in 0..iters {
                if next == pairs.len() {
                    state = template.clone();
                    next = 0;
                }
                let seats = pairs[next].to_vec();
                next += 1;
                let hold_id = i + 1;
                let started = Instant::now();
                state
                    .apply(
                        Command::Hold {
                            hold_id,
                            terminal_id: 1,
                            spec: HoldSpec::Seats(seats),
                            idempotency_key: None,
                            sales_close_at_ms: SALES_NEVER_CLOSE,
                        },
                        1_000,
                        i * 3,
                    )
                    .expect("the pair is free");
                let due = state
                    .hold(hold_id)
                    .map(|h| state.hold_info(h).total)
                    .expect("just held");
                let payment = Payment {
                    method: PaymentMethod::Card,
                    amount: due,
                    reference: None,
                };
                state
                    .begin_sale(
                        hold_id,
                        1,
                        payment,
                        format!("k{i}"),
                        &mut codes,
                        SALES_NEVER_CLOSE,
                        1_001,
                        i * 3 + 1,
                        1,
                    )
                    .expect("sale begins");
                let records = state
                    .apply(Command::Sell { hold_id }, 1_002, i * 3 + 2)
                    .expect("sold");
                total += started.elapsed();
                black_box(records);
            }
            total
        })
    });
    group.finish();
}

fn best_available(c: &mut Criterion) {
    let mut group = c.benchmark_group("best_available/400_seats");
    for pct in [0usize, 50, 95] {
        let mut state = empty_show();
        let mut ids: Vec<SeatId> = (0..state.layout().len() as SeatId).collect();
        ids.shuffle(&mut StdRng::seed_from_u64(42));
        let taken: Vec<SeatId> = ids[..ids.len() * pct / 100].to_vec();
        if !taken.is_empty() {
            state
                .apply(
                    Command::Block {
                        seats: taken,
                        blocked: true,
                    },
                    0,
                    1,
                )
                .expect("free seats can be blocked");
        }
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{pct}pct")),
            &pct,
            |b, _| {
                b.iter(|| {
                    black_box(pick_best(
                        state.layout(),
                        &|id| state.is_free(id),
                        black_box(2),
                        Category::Standard,
                    ))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, hold_confirm, best_available);
criterion_main!(benches);
