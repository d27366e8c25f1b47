//! Model-based property tests of the seat-map state machine: random command sequences run
//! against `ShowState` and against a deliberately simple reference model; after every step the
//! two agree and the invariants hold.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cinebook_protocol::types::{
    BookingStatus, Category, Money, Payment, PaymentMethod, Price, Screen, Seat, SeatId, Show,
};
use cinebook_server::domain::{
    CodeGenerator, Command, DomainError, HoldLimits, HoldSpec, Layout, Pricing, SeededCodes,
    ShowState, SlotState, SALES_NEVER_CLOSE,
};
use proptest::prelude::*;

const ROWS: u16 = 5;
const COLS: u16 = 8;
const TTL_MS: u64 = 1_000;

fn screen() -> Screen {
    let mut seats = Vec::new();
    for y in 0..ROWS {
        for x in 0..COLS {
            // An aisle after the third seat; the back row is premium, one wheelchair place.
            let x_pos = if x >= 3 { x + 1 } else { x };
            let category = match (y, x) {
                (0, 0) => Category::Wheelchair,
                (y, _) if y == ROWS - 1 => Category::Premium,
                _ => Category::Standard,
            };
            let row = char::from(b'A' + y as u8).to_string();
            seats.push(Seat {
                id: seats.len() as SeatId,
                label: format!("{row}{}", x + 1),
                row,
                category,
                x: x_pos,
                y,
            });
        }
    }
    Screen {
        id: 1,
        theater_id: 1,
        name: "One".into(),
        seats,
    }
}

fn show() -> Show {
    let prices = [
        (Category::Standard, 900),
        (Category::Premium, 1400),
        (Category::Wheelchair, 900),
    ]
    .into_iter()
    .map(|(category, amount_minor)| Price {
        category,
        amount_minor,
    })
    .collect();
    Show {
        id: 7,
        movie_id: 1,
        screen_id: 1,
        starts_at_ms: 0,
        currency: "EUR".into(),
        prices,
    }
}

fn new_state() -> ShowState {
    let layout = Arc::new(Layout::new(&screen()).expect("layout"));
    let pricing = Pricing::new(&show()).expect("pricing");
    let limits = HoldLimits {
        hold_ttl_ms: TTL_MS,
        hold_lifetime_max_ms: 3 * TTL_MS,
        hold_seats_max: 6,
        holds_per_terminal_max: 4,
    };
    ShowState::new(7, layout, pricing, limits)
}

#[derive(Debug, Clone)]
enum Step {
    HoldSeats {
        terminal: u64,
        seats: Vec<SeatId>,
    },
    HoldBest {
        terminal: u64,
        count: u32,
        premium: bool,
    },
    Release {
        pick: usize,
        terminal: u64,
    },
    Renew {
        pick: usize,
    },
    Confirm {
        pick: usize,
        commit_ok: bool,
    },
    Cancel {
        pick: usize,
        refund: bool,
    },
    /// Admit a booking at the door: it keeps its seats and can no longer be cancelled.
    Admit {
        pick: usize,
    },
    Block {
        seat: SeatId,
        blocked: bool,
    },
    Tick {
        ms: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let seats = (ROWS * COLS) as SeatId;
    prop_oneof![
        4 => (1u64..4, prop::collection::vec(0..seats, 1..5)).prop_map(|(terminal, seats)| Step::HoldSeats { terminal, seats }),
        4 => (1u64..4, 1u32..5, any::<bool>()).prop_map(|(terminal, count, premium)| Step::HoldBest { terminal, count, premium }),
        2 => (any::<usize>(), 1u64..4).prop_map(|(pick, terminal)| Step::Release { pick, terminal }),
        1 => any::<usize>().prop_map(|pick| Step::Renew { pick }),
        4 => (any::<usize>(), prop::bool::weighted(0.8)).prop_map(|(pick, commit_ok)| Step::Confirm { pick, commit_ok }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, refund)| Step::Cancel { pick, refund }),
        1 => any::<usize>().prop_map(|pick| Step::Admit { pick }),
        1 => (0..seats, any::<bool>()).prop_map(|(seat, blocked)| Step::Block { seat, blocked }),
        3 => (1u64..700).prop_map(|ms| Step::Tick { ms }),
    ]
}

/// The reference model: who owns each seat, nothing more.
#[derive(Debug, Default)]
struct Model {
    owner: BTreeMap<SeatId, Owner>,
    holds: BTreeMap<u64, (u64, Vec<SeatId>, u64)>, // id -> (terminal, seats, expires_at_ms)
    bookings: Vec<(String, Vec<SeatId>, bool)>,    // (code, seats, confirmed)
    admitted: std::collections::BTreeSet<String>,  // confirmed bookings admitted at the door
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Hold(u64),
    Booking(String),
    Blocked,
}

impl Model {
    fn is_free(&self, seat: SeatId) -> bool {
        !self.owner.contains_key(&seat)
    }
    fn expire(&mut self, now_ms: u64) {
        let due: Vec<u64> = self
            .holds
            .iter()
            .filter(|(_, h)| h.2 <= now_ms)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.drop_hold(id);
        }
    }
    fn drop_hold(&mut self, id: u64) {
        if let Some((_, seats, _)) = self.holds.remove(&id) {
            for s in seats {
                self.owner.remove(&s);
            }
        }
    }
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut state = new_state();
    let mut model = Model::default();
    let mut now_ms = 1_000_000u64;
    let mut lamport = 0u64;
    let mut next_hold = 1u64;
    let mut entropy = 1u64;
    for step in steps {
        lamport += 1;
        // The plumbing runs expiry before every command; so does the model.
        state
            .apply(Command::Expire, now_ms, lamport)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        model.expire(now_ms);
        match step {
            Step::HoldSeats { terminal, seats } => {
                let id = next_hold;
                next_hold += 1;
                let result = state.apply(
                    Command::Hold {
                        hold_id: id,
                        terminal_id: terminal,
                        spec: HoldSpec::Seats(seats.clone()),
                        idempotency_key: None,
                        sales_close_at_ms: SALES_NEVER_CLOSE,
                    },
                    now_ms,
                    lamport,
                );
                let distinct: BTreeSet<_> = seats.iter().collect();
                let all_free = seats.iter().all(|s| model.is_free(*s));
                let open = model.holds.values().filter(|h| h.0 == terminal).count();
                let expect_ok = all_free && distinct.len() == seats.len() && open < 4;
                prop_assert_eq!(result.is_ok(), expect_ok, "hold {:?}: {:?}", seats, result);
                if let Err(DomainError::SeatUnavailable { seats: named }) = &result {
                    prop_assert!(
                        named.iter().all(|s| !model.is_free(*s)),
                        "error names free seats"
                    );
                }
                if result.is_ok() {
                    for s in &seats {
                        model.owner.insert(*s, Owner::Hold(id));
                    }
                    model.holds.insert(id, (terminal, seats, now_ms + TTL_MS));
                }
            }
            Step::HoldBest {
                terminal,
                count,
                premium,
            } => {
                let id = next_hold;
                next_hold += 1;
                let category = if premium {
                    Category::Premium
                } else {
                    Category::Standard
                };
                let result = state.apply(
                    Command::Hold {
                        hold_id: id,
                        terminal_id: terminal,
                        spec: HoldSpec::Best {
                            count,
                            category: Some(category),
                        },
                        idempotency_key: None,
                        sales_close_at_ms: SALES_NEVER_CLOSE,
                    },
                    now_ms,
                    lamport,
                );
                if let Ok(records) = &result {
                    let hold = state.hold(id).expect("held");
                    prop_assert_eq!(records.len(), 1);
                    prop_assert_eq!(hold.seats.len(), count as usize);
                    let layout = state.layout();
                    let row = layout.seat(hold.seats[0]).expect("seat").y;
                    for pair in hold.seats.windows(2) {
                        let (a, b) = (
                            layout.seat(pair[0]).expect("a"),
                            layout.seat(pair[1]).expect("b"),
                        );
                        prop_assert!(
                            a.y == row && b.y == row && a.x + 1 == b.x,
                            "not adjacent: {:?}",
                            hold.seats
                        );
                    }
                    for s in &hold.seats {
                        prop_assert!(model.is_free(*s));
                        prop_assert_eq!(
                            layout.seat(*s).expect("seat").category,
                            category,
                            "wrong category"
                        );
                        model.owner.insert(*s, Owner::Hold(id));
                    }
                    model
                        .holds
                        .insert(id, (terminal, hold.seats.clone(), now_ms + TTL_MS));
                }
            }
            Step::Release { pick, terminal } => {
                let Some((&id, h)) = nth(&model.holds, pick) else {
                    continue;
                };
                let owner = h.0;
                let result = state.apply(
                    Command::Release {
                        hold_id: id,
                        terminal_id: terminal,
                    },
                    now_ms,
                    lamport,
                );
                prop_assert_eq!(result.is_ok(), owner == terminal);
                if result.is_ok() {
                    model.drop_hold(id);
                }
            }
            Step::Renew { pick } => {
                let Some((&id, h)) = nth(&model.holds, pick) else {
                    continue;
                };
                let terminal = h.0;
                if state
                    .apply(
                        Command::Renew {
                            hold_id: id,
                            terminal_id: terminal,
                        },
                        now_ms,
                        lamport,
                    )
                    .is_ok()
                {
                    let expires = state.hold(id).expect("renewed").expires_at_ms;
                    prop_assert!(expires > now_ms);
                    if let Some(h) = model.holds.get_mut(&id) {
                        h.2 = expires;
                    }
                }
            }
            Step::Confirm { pick, commit_ok } => {
                let Some((&id, h)) = nth(&model.holds, pick) else {
                    continue;
                };
                let (terminal, seats) = (h.0, h.1.clone());
                let due = state.hold_info(state.hold(id).expect("hold")).total;
                entropy += 1;
                let payment = Payment {
                    method: PaymentMethod::Card,
                    amount: due,
                    reference: None,
                };
                let intent = state.begin_sale(
                    id,
                    terminal,
                    payment,
                    format!("k{id}"),
                    &mut SeededCodes::new(entropy),
                    SALES_NEVER_CLOSE,
                    now_ms,
                    lamport,
                    1,
                );
                let intent = intent.map_err(|e| TestCaseError::fail(format!("begin_sale: {e}")))?;
                // While the commit is in flight the hold is pinned.
                let pinned = state.apply(
                    Command::Release {
                        hold_id: id,
                        terminal_id: terminal,
                    },
                    now_ms,
                    lamport,
                );
                prop_assert!(pinned.is_err(), "a pinned hold was released");
                if commit_ok {
                    state
                        .apply(Command::Sell { hold_id: id }, now_ms, lamport)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    model.holds.remove(&id);
                    for s in &seats {
                        model
                            .owner
                            .insert(*s, Owner::Booking(intent.booking.code.clone()));
                    }
                    model
                        .bookings
                        .push((intent.booking.code.clone(), seats, true));
                    // A retried confirm finds the same booking by its key.
                    let again = state
                        .booking_for_key(terminal, &format!("k{id}"))
                        .expect("by key");
                    prop_assert_eq!(&again.code, &intent.booking.code);
                } else {
                    state.abort_sale(id);
                }
            }
            Step::Admit { pick } => {
                if model.bookings.is_empty() {
                    continue;
                }
                let index = pick % model.bookings.len();
                let (code, _, confirmed) = model.bookings[index].clone();
                let admissible = confirmed && !model.admitted.contains(&code);
                let result = state.apply(Command::Admit { code: code.clone() }, now_ms, lamport);
                prop_assert_eq!(result.is_ok(), admissible, "{:?}", result);
                if admissible {
                    model.admitted.insert(code.clone());
                    let status = state.booking(&code).expect("booking").status;
                    prop_assert_eq!(status, BookingStatus::Admitted);
                }
            }
            Step::Cancel { pick, refund } => {
                if model.bookings.is_empty() {
                    continue;
                }
                let index = pick % model.bookings.len();
                let (code, seats, confirmed) = model.bookings[index].clone();
                let confirmed = confirmed && !model.admitted.contains(&code);
                let result = state.apply(
                    Command::Cancel {
                        code: code.clone(),
                        refund,
                    },
                    now_ms,
                    lamport,
                );
                prop_assert_eq!(result.is_ok(), confirmed);
                if confirmed {
                    model.bookings[index].2 = false;
                    for s in seats {
                        model.owner.remove(&s);
                    }
                    let status = state.booking(&code).expect("booking").status;
                    prop_assert_eq!(
                        status,
                        if refund {
                            BookingStatus::Refunded
                        } else {
                            BookingStatus::Cancelled
                        }
                    );
                }
            }
            Step::Block { seat, blocked } => {
                let result = state.apply(
                    Command::Block {
                        seats: vec![seat],
                        blocked,
                    },
                    now_ms,
                    lamport,
                );
                let expect_ok = if blocked {
                    model.is_free(seat)
                } else {
                    model.owner.get(&seat) == Some(&Owner::Blocked)
                };
                prop_assert_eq!(result.is_ok(), expect_ok);
                if result.is_ok() {
                    if blocked {
                        model.owner.insert(seat, Owner::Blocked);
                    } else {
                        model.owner.remove(&seat);
                    }
                }
            }
            Step::Tick { ms } => now_ms += ms,
        }
        // The sweeper: holds whose deadline has passed free their seats.
        state
            .apply(Command::Expire, now_ms, lamport)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        model.expire(now_ms);
        check_invariants(&state, &model, now_ms)?;
        check_snapshot_round_trip(&state)?;
    }
    Ok(())
}

/// A follower installing this state's snapshot gets the same seats and the same snapshot back.
fn check_snapshot_round_trip(state: &ShowState) -> Result<(), TestCaseError> {
    let snapshot = state.snapshot();
    let copy = ShowState::from_snapshot(
        state.layout().clone(),
        state.pricing().clone(),
        HoldLimits::default(),
        &snapshot,
    )
    .map_err(|e| TestCaseError::fail(format!("snapshot does not install: {e}")))?;
    prop_assert_eq!(copy.slots(), state.slots());
    prop_assert_eq!(copy.snapshot(), snapshot);
    Ok(())
}

fn nth<K, V>(map: &BTreeMap<K, V>, pick: usize) -> Option<(&K, &V)> {
    if map.is_empty() {
        None
    } else {
        map.iter().nth(pick % map.len())
    }
}

fn check_invariants(state: &ShowState, model: &Model, now_ms: u64) -> Result<(), TestCaseError> {
    let slots = state.slots();
    let capacity = slots.len();
    let count = |f: fn(&SlotState) -> bool| slots.iter().filter(|s| f(s)).count();
    let (free, held, sold, blocked) = (
        count(|s| matches!(s, SlotState::Free)),
        count(|s| matches!(s, SlotState::Held(_))),
        count(|s| matches!(s, SlotState::Sold(_))),
        count(|s| matches!(s, SlotState::Blocked)),
    );
    prop_assert_eq!(free + held + sold + blocked, capacity);
    prop_assert_eq!(state.free_total() as usize, free, "free counter");
    // No seat is in two holds or two bookings, and every slot agrees with its owner.
    let mut owners: BTreeMap<SeatId, usize> = BTreeMap::new();
    for hold in state.holds() {
        prop_assert!(
            hold.expires_at_ms > now_ms || hold.sale.is_some(),
            "expired hold {} still open",
            hold.id
        );
        for s in &hold.seats {
            *owners.entry(*s).or_default() += 1;
            prop_assert_eq!(slots[*s as usize], SlotState::Held(hold.id));
        }
    }
    for booking in state.bookings().filter(|b| b.status.is_live()) {
        for s in &booking.seats {
            *owners.entry(s.seat_id).or_default() += 1;
            prop_assert!(matches!(slots[s.seat_id as usize], SlotState::Sold(_)));
        }
    }
    prop_assert!(owners.values().all(|n| *n == 1), "a seat has two owners");
    prop_assert_eq!(owners.len(), held + sold);
    // The implementation agrees with the model seat by seat.
    for (i, slot) in slots.iter().enumerate() {
        let expected = model.owner.get(&(i as SeatId));
        let agrees = match (slot, expected) {
            (SlotState::Free, None) => true,
            (SlotState::Held(h), Some(Owner::Hold(m))) => h == m,
            (SlotState::Sold(_), Some(Owner::Booking(_))) => true,
            (SlotState::Blocked, Some(Owner::Blocked)) => true,
            _ => false,
        };
        prop_assert!(
            agrees,
            "seat {} is {:?}, model says {:?}",
            i,
            slot,
            expected
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn seat_map_matches_the_reference_model(steps in prop::collection::vec(step(), 1..80)) {
        run(steps)?;
    }
}

#[test]
fn best_available_avoids_orphans_and_prefers_the_centre() {
    let mut state = new_state();
    // Row C (y = 2) is the ideal row; its right block is 5 seats (x 4..=8).
    let result = state
        .apply(
            Command::Hold {
                hold_id: 1,
                terminal_id: 1,
                spec: HoldSpec::Best {
                    count: 2,
                    category: None,
                },
                idempotency_key: None,
                sales_close_at_ms: SALES_NEVER_CLOSE,
            },
            0,
            1,
        )
        .expect("hold");
    let hold = state.hold(1).expect("hold");
    assert_eq!(result.len(), 1);
    let layout = state.layout().clone();
    let labels: Vec<&str> = hold
        .seats
        .iter()
        .map(|s| layout.seat(*s).expect("seat").label.as_str())
        .collect();
    // Never a window that leaves one seat alone between it and the aisle or wall.
    let block = layout
        .blocks()
        .iter()
        .find(|b| b.contains(&hold.seats[0]))
        .expect("block");
    let start = block.iter().position(|s| *s == hold.seats[0]).expect("pos");
    assert_ne!(start, 1, "left an orphan at the block's start: {labels:?}");
    assert_ne!(
        block.len() - (start + 2),
        1,
        "left an orphan at the block's end: {labels:?}"
    );
}

#[test]
fn wheelchair_places_only_when_asked() {
    let mut state = new_state();
    for hold_id in 1..=4 {
        let _ = state.apply(
            Command::Hold {
                hold_id,
                terminal_id: hold_id,
                spec: HoldSpec::Best {
                    count: 1,
                    category: None,
                },
                idempotency_key: None,
                sales_close_at_ms: SALES_NEVER_CLOSE,
            },
            0,
            1,
        );
    }
    assert!(
        state.holds().all(|h| h.seats != vec![0]),
        "a wheelchair place was given to a standard request"
    );
    state
        .apply(
            Command::Hold {
                hold_id: 9,
                terminal_id: 9,
                spec: HoldSpec::Best {
                    count: 1,
                    category: Some(Category::Wheelchair),
                },
                idempotency_key: None,
                sales_close_at_ms: SALES_NEVER_CLOSE,
            },
            0,
            1,
        )
        .expect("wheelchair");
    assert_eq!(state.hold(9).expect("hold").seats, vec![0]);
}

#[test]
fn no_adjacent_block_says_why() {
    let mut state = new_state();
    // Block every other seat of every standard row: plenty free, nothing adjacent.
    let seats: Vec<SeatId> = (0..(ROWS - 1) * COLS)
        .map(SeatId::from)
        .filter(|s| s % 2 == 1)
        .collect();
    state
        .apply(
            Command::Block {
                seats,
                blocked: true,
            },
            0,
            1,
        )
        .expect("block");
    let err = state
        .apply(
            Command::Hold {
                hold_id: 1,
                terminal_id: 1,
                spec: HoldSpec::Best {
                    count: 2,
                    category: None,
                },
                idempotency_key: None,
                sales_close_at_ms: SALES_NEVER_CLOSE,
            },
            0,
            2,
        )
        .expect_err("no block");
    assert!(
        matches!(
            err,
            DomainError::NoAdjacentBlock {
                largest_block: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("largest free block is 1"));
}

#[test]
fn a_wrong_payment_is_refused_and_comp_is_free() {
    let mut state = new_state();
    state
        .apply(
            Command::Hold {
                hold_id: 1,
                terminal_id: 1,
                spec: HoldSpec::Seats(vec![9, 10]),
                idempotency_key: None,
                sales_close_at_ms: SALES_NEVER_CLOSE,
            },
            0,
            1,
        )
        .expect("hold");
    let wrong = Payment {
        method: PaymentMethod::Cash,
        amount: Money {
            amount_minor: 1,
            currency: "EUR".into(),
        },
        reference: None,
    };
    assert!(matches!(
        state.begin_sale(
            1,
            1,
            wrong,
            "k".into(),
            &mut SeededCodes::new(1),
            SALES_NEVER_CLOSE,
            0,
            2,
            1
        ),
        Err(DomainError::InvalidArgument(_))
    ));
    let comp = Payment {
        method: PaymentMethod::Comp,
        amount: Money {
            amount_minor: 0,
            currency: "EUR".into(),
        },
        reference: None,
    };
    let intent = state
        .begin_sale(
            1,
            1,
            comp,
            "k".into(),
            &mut SeededCodes::new(1),
            SALES_NEVER_CLOSE,
            0,
            2,
            1,
        )
        .expect("comp");
    assert_eq!(intent.booking.total.amount_minor, 0);
    assert_eq!(
        intent
            .booking
            .seats
            .iter()
            .map(|s| s.price_minor)
            .sum::<i64>(),
        1800,
        "prices are still recorded"
    );
}

#[test]
fn replay_rebuilds_the_same_state() {
    let mut leader = new_state();
    let mut log = Vec::new();
    log.extend(
        leader
            .apply(
                Command::Hold {
                    hold_id: 1,
                    terminal_id: 1,
                    spec: HoldSpec::Best {
                        count: 3,
                        category: None,
                    },
                    idempotency_key: Some("a".into()),
                    sales_close_at_ms: SALES_NEVER_CLOSE,
                },
                0,
                1,
            )
            .expect("hold"),
    );
    log.extend(
        leader
            .apply(
                Command::Hold {
                    hold_id: 2,
                    terminal_id: 2,
                    spec: HoldSpec::Seats(vec![30, 31]),
                    idempotency_key: None,
                    sales_close_at_ms: SALES_NEVER_CLOSE,
                },
                0,
                2,
            )
            .expect("hold"),
    );
    let due = leader.hold_info(leader.hold(2).expect("hold")).total;
    leader
        .begin_sale(
            2,
            2,
            Payment {
                method: PaymentMethod::Card,
                amount: due,
                reference: None,
            },
            "k".into(),
            &mut SeededCodes::new(5),
            SALES_NEVER_CLOSE,
            0,
            3,
            1,
        )
        .expect("begin");
    log.extend(
        leader
            .apply(Command::Sell { hold_id: 2 }, 0, 4)
            .expect("sell"),
    );
    log.extend(
        leader
            .apply(Command::Expire, TTL_MS + 1, 5)
            .expect("expire"),
    );
    let mut follower = new_state();
    for record in &log {
        follower.replay(record).expect("replay");
    }
    assert_eq!(follower.slots(), leader.slots());
    assert_eq!(follower.seq(), leader.seq());
    assert!(
        follower.replay(&log[0]).is_err(),
        "an old seq must be refused"
    );
}

#[test]
fn a_pinned_sale_blocks_release_expiry_and_retries_until_its_outcome_is_known() {
    let mut state = new_state();
    state
        .apply(
            Command::Hold {
                hold_id: 1,
                terminal_id: 1,
                spec: HoldSpec::Seats(vec![12, 13]),
                idempotency_key: None,
                sales_close_at_ms: SALES_NEVER_CLOSE,
            },
            0,
            1,
        )
        .expect("hold");
    let due = state.hold_info(state.hold(1).expect("hold")).total;
    let payment = Payment {
        method: PaymentMethod::Card,
        amount: due,
        reference: None,
    };
    let first = state
        .begin_sale(
            1,
            1,
            payment.clone(),
            "k".into(),
            &mut SeededCodes::new(1),
            SALES_NEVER_CLOSE,
            10,
            2,
            1,
        )
        .expect("first");
    // While the commit is in flight (or its outcome unknown) the hold is pinned: no expiry, no
    // release, no second attempt.
    assert!(matches!(
        state.apply(
            Command::Release {
                hold_id: 1,
                terminal_id: 1
            },
            11,
            3
        ),
        Err(DomainError::SaleInProgress(1))
    ));
    assert!(state
        .apply(Command::Expire, u64::MAX, 3)
        .expect("expire")
        .is_empty());
    assert!(matches!(
        state.begin_sale(
            1,
            1,
            payment.clone(),
            "k".into(),
            &mut SeededCodes::new(2),
            SALES_NEVER_CLOSE,
            12,
            3,
            1
        ),
        Err(DomainError::SaleInProgress(1))
    ));
    // Definitely not committed: the hold is unpinned, its seats stay held, and a retry is a new
    // attempt with a fresh code.
    state.abort_sale(1);
    assert!(state.hold(1).expect("still held").sale.is_none());
    let retry = state
        .begin_sale(
            1,
            1,
            payment,
            "k".into(),
            &mut SeededCodes::new(2),
            SALES_NEVER_CLOSE,
            20,
            4,
            1,
        )
        .expect("retry");
    assert_eq!(retry.booking.seats, first.booking.seats);
    assert_ne!(retry.booking.code, first.booking.code);
}

#[test]
fn a_snapshot_rebuilds_the_same_seats() {
    let mut leader = new_state();
    leader
        .apply(
            Command::Hold {
                hold_id: 1,
                terminal_id: 1,
                spec: HoldSpec::Seats(vec![3, 4]),
                idempotency_key: Some("h".into()),
                sales_close_at_ms: SALES_NEVER_CLOSE,
            },
            0,
            1,
        )
        .expect("hold");
    leader
        .apply(
            Command::Hold {
                hold_id: 2,
                terminal_id: 2,
                spec: HoldSpec::Seats(vec![20]),
                idempotency_key: None,
                sales_close_at_ms: SALES_NEVER_CLOSE,
            },
            0,
            2,
        )
        .expect("hold");
    let due = leader.hold_info(leader.hold(2).expect("hold")).total;
    leader
        .begin_sale(
            2,
            2,
            Payment {
                method: PaymentMethod::Card,
                amount: due,
                reference: None,
            },
            "k".into(),
            &mut SeededCodes::new(9),
            SALES_NEVER_CLOSE,
            0,
            3,
            1,
        )
        .expect("begin");
    leader
        .apply(Command::Sell { hold_id: 2 }, 0, 4)
        .expect("sell");
    leader
        .apply(
            Command::Block {
                seats: vec![30],
                blocked: true,
            },
            0,
            5,
        )
        .expect("block");
    let code = leader.bookings().next().expect("booking").code.clone();
    leader
        .apply(
            Command::Cancel {
                code: code.clone(),
                refund: true,
            },
            0,
            6,
        )
        .expect("cancel");
    let snapshot = leader.snapshot();
    let layout = leader.layout().clone();
    let copy = ShowState::from_snapshot(
        layout,
        leader.pricing().clone(),
        HoldLimits::default(),
        &snapshot,
    )
    .expect("rebuild");
    assert_eq!(copy.slots(), leader.slots());
    assert_eq!(copy.seq(), leader.seq());
    assert_eq!(
        copy.booking(&code).map(|b| b.status),
        Some(BookingStatus::Refunded)
    );
    assert_eq!(copy.hold_for_key(1, "h").map(|h| h.id), Some(1));
    assert_eq!(copy.snapshot(), snapshot);
}

fn hold_seats(
    state: &mut ShowState,
    hold_id: u64,
    terminal: u64,
    seats: Vec<SeatId>,
    key: Option<&str>,
) -> Result<Vec<cinebook_server::domain::EventRecord>, DomainError> {
    state.apply(
        Command::Hold {
            hold_id,
            terminal_id: terminal,
            spec: HoldSpec::Seats(seats),
            idempotency_key: key.map(str::to_owned),
            sales_close_at_ms: SALES_NEVER_CLOSE,
        },
        0,
        hold_id,
    )
}

fn sell(
    state: &mut ShowState,
    hold_id: u64,
    terminal: u64,
    codes: &mut dyn CodeGenerator,
) -> String {
    let due = state.hold_info(state.hold(hold_id).expect("hold")).total;
    let payment = Payment {
        method: PaymentMethod::Card,
        amount: due,
        reference: None,
    };
    let intent = state
        .begin_sale(
            hold_id,
            terminal,
            payment,
            format!("k{hold_id}"),
            codes,
            SALES_NEVER_CLOSE,
            0,
            1,
            1,
        )
        .expect("begin");
    state.apply(Command::Sell { hold_id }, 0, 2).expect("sell");
    intent.booking.code
}

#[test]
fn a_snapshot_with_a_seat_sold_cancelled_then_blocked_installs() {
    let mut leader = new_state();
    hold_seats(&mut leader, 1, 1, vec![5], None).expect("hold");
    let code = sell(&mut leader, 1, 1, &mut SeededCodes::new(1));
    leader
        .apply(
            Command::Cancel {
                code: code.clone(),
                refund: false,
            },
            0,
            3,
        )
        .expect("cancel");
    leader
        .apply(
            Command::Block {
                seats: vec![5],
                blocked: true,
            },
            0,
            4,
        )
        .expect("block");
    let snapshot = leader.snapshot();
    let copy = ShowState::from_snapshot(
        leader.layout().clone(),
        leader.pricing().clone(),
        HoldLimits::default(),
        &snapshot,
    )
    .expect("a sold, cancelled, then blocked seat must install");
    assert_eq!(copy.slots(), leader.slots());
    assert_eq!(copy.slots()[5], SlotState::Blocked);
    assert_eq!(copy.snapshot(), snapshot);
}

#[test]
fn a_hold_key_retried_gets_its_hold_and_reused_for_other_seats_is_refused() {
    let mut state = new_state();
    hold_seats(&mut state, 1, 1, vec![10, 11], Some("cart")).expect("first hold");
    // The same request again (a retry after a lost answer): the original hold, nothing new.
    let retry =
        hold_seats(&mut state, 2, 1, vec![11, 10], Some("cart")).expect("a retry is idempotent");
    assert!(retry.is_empty(), "a retry changes nothing: {retry:?}");
    assert_eq!(state.hold_for_key(1, "cart").map(|h| h.id), Some(1));
    assert!(state.hold(2).is_none());
    // The same key for other seats is a different request.
    assert_eq!(
        hold_seats(&mut state, 3, 1, vec![12], Some("cart")),
        Err(DomainError::KeyReused("cart".into()))
    );
    assert!(state.hold(3).is_none());
    // Another terminal's key space is its own.
    hold_seats(&mut state, 4, 2, vec![12], Some("cart")).expect("another terminal");
}

#[test]
fn a_booking_code_in_use_on_the_show_is_never_answered() {
    let mut state = new_state();
    hold_seats(&mut state, 1, 1, vec![1], None).expect("hold");
    let first = sell(&mut state, 1, 1, &mut SeededCodes::new(42));
    hold_seats(&mut state, 2, 1, vec![2], None).expect("hold");
    let due = state.hold_info(state.hold(2).expect("hold")).total;
    let payment = Payment {
        method: PaymentMethod::Card,
        amount: due,
        reference: None,
    };
    // The same seed: the first candidate is the code booking 1 already has.
    let mut repeating = SeededCodes::new(42);
    let mut expected = SeededCodes::new(42);
    assert_eq!(expected.next_code(), first, "the seed repeats the code");
    let intent = state
        .begin_sale(
            2,
            1,
            payment,
            "k2".into(),
            &mut repeating,
            SALES_NEVER_CLOSE,
            0,
            3,
            1,
        )
        .expect("a colliding code must not reach the customer");
    assert_ne!(intent.booking.code, first);
    assert_eq!(
        intent.booking.code,
        expected.next_code(),
        "the next candidate"
    );
    state
        .apply(Command::Sell { hold_id: 2 }, 0, 4)
        .expect("sold");
    assert_eq!(state.bookings().count(), 2);
}

/// A generator that only ever proposes one code.
struct Stuck(String);

impl CodeGenerator for Stuck {
    fn next_code(&mut self) -> String {
        self.0.clone()
    }
}

#[test]
fn a_generator_that_only_repeats_is_an_error_not_a_loop() {
    let mut state = new_state();
    hold_seats(&mut state, 1, 1, vec![1], None).expect("hold");
    let first = sell(&mut state, 1, 1, &mut SeededCodes::new(3));
    hold_seats(&mut state, 2, 1, vec![2], None).expect("hold");
    let due = state.hold_info(state.hold(2).expect("hold")).total;
    let payment = Payment {
        method: PaymentMethod::Card,
        amount: due,
        reference: None,
    };
    let result = state.begin_sale(
        2,
        1,
        payment,
        "k2".into(),
        &mut Stuck(first),
        SALES_NEVER_CLOSE,
        0,
        3,
        1,
    );
    assert!(
        matches!(result, Err(DomainError::CodesExhausted(_))),
        "{result:?}"
    );
    assert!(
        state.hold(2).expect("hold").sale.is_none(),
        "nothing pinned"
    );
}

#[test]
fn holds_and_new_sales_stop_when_the_window_closes_but_a_pinned_sale_stays_pinned() {
    let mut state = new_state();
    let hold = |state: &mut ShowState, hold_id, close| {
        state.apply(
            Command::Hold {
                hold_id,
                terminal_id: 1,
                spec: HoldSpec::Seats(vec![hold_id as SeatId]),
                idempotency_key: None,
                sales_close_at_ms: close,
            },
            1_000,
            hold_id,
        )
    };
    assert_eq!(
        hold(&mut state, 1, 1_000),
        Err(DomainError::SalesClosed {
            closes_at_ms: 1_000
        })
    );
    assert_eq!(
        state.free_total() as usize,
        state.layout().len(),
        "nothing held"
    );
    hold(&mut state, 2, 1_001).expect("open until 1,001");
    let due = state.hold_info(state.hold(2).expect("hold")).total;
    let payment = Payment {
        method: PaymentMethod::Card,
        amount: due,
        reference: None,
    };
    let mut codes = SeededCodes::new(1);
    let first = state
        .begin_sale(
            2,
            1,
            payment.clone(),
            "k".into(),
            &mut codes,
            1_001,
            1_000,
            3,
            1,
        )
        .expect("open");
    // While its outcome is unknown the sale stays pinned whatever the window says: the store,
    // not the clock, decides it (the node's resolver sends `SaleResult`).
    assert_eq!(state.hold(2).and_then(|h| h.sale.as_deref()), Some(&first));
    // Definitely not committed, and the window closed meanwhile: a retry is a new sale, refused.
    state.abort_sale(2);
    assert_eq!(
        state.begin_sale(2, 1, payment, "k".into(), &mut codes, 1_001, 1_001, 5, 1),
        Err(DomainError::SalesClosed {
            closes_at_ms: 1_001
        })
    );
}
