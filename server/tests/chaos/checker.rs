//! The checker: a pure function of the recorded history, the database as read after the run,
//! and every node's seat map. It knows nothing of how the run went.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cinebook_protocol::types::SeatState;

use super::history::{CancelOutcome, ConfirmOutcome, History, HoldFate};

/// A booking as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbBooking {
    /// `bookings.status`.
    pub status: String,
    /// `bookings.terminal_id`.
    pub terminal_id: u64,
    /// `bookings.idempotency_key`.
    pub key: String,
    /// Seats it owns now (`booking_seats`).
    pub live_seats: Vec<u32>,
    /// Seats it gave back (`booking_seats_history`).
    pub released_seats: Vec<u32>,
}

/// The database after the run: bookings of the show by code.
pub type DbState = BTreeMap<String, DbBooking>;

/// One node's seat map (None: the node did not answer).
pub type NodeMap = (u32, Option<Vec<SeatState>>);

/// Availability of one fault.
#[derive(Debug, Clone)]
pub struct FaultFigure {
    /// What it was.
    pub kind: String,
    /// Two at once.
    pub double: bool,
    /// How long it lasted (until healed).
    pub lasted_ms: u64,
    /// The longest stretch without an acknowledged sale from the fault until
    /// [`AFTER_HEAL_MS`] after it was healed, or the next fault (sales sent after the fault
    /// began).
    pub unavailable_ms: u64,
    /// The same for holds (the probe's included).
    pub no_hold_ms: u64,
    /// No sale as measured before the window was cut at the next fault and a stretch at the
    /// window's end was capped (to compare with figures taken before those changes).
    pub unavailable_wide_ms: u64,
}

/// What the checker found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Acknowledged sales.
    pub acked: usize,
    /// Acknowledged sales missing or stored with other seats.
    pub lost: usize,
    /// Seats owned twice.
    pub double: usize,
    /// Bookings in the store whose confirm was refused, or that nobody confirmed.
    pub ghost: usize,
    /// Nodes whose seat map differs from the store.
    pub diverged: usize,
    /// Acknowledged holds lost before their deadline.
    pub holds_lost: usize,
    /// Holds acknowledged.
    pub holds: usize,
    /// Per fault.
    pub faults: Vec<FaultFigure>,
    /// Each violation, in words.
    pub violations: Vec<String>,
}

impl Report {
    /// Whether nothing was violated.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// The longest unavailability of any fault.
    pub fn max_unavailable_ms(&self) -> u64 {
        self.faults
            .iter()
            .map(|f| f.unavailable_ms)
            .max()
            .unwrap_or(0)
    }

    /// The summary line the run ends with.
    pub fn line(&self) -> String {
        let figures = format!(
            "acked={} lost={} double={} ghost={} diverged={} holds_lost={} max_unavailable_ms={}",
            self.acked,
            self.lost,
            self.double,
            self.ghost,
            self.diverged,
            self.holds_lost,
            self.max_unavailable_ms()
        );
        if self.ok() {
            format!("chaos: ok {figures}")
        } else {
            format!("chaos: FAILED {figures}")
        }
    }
}

/// A hold confirmed or released within this much of its deadline may have expired.
pub const DEADLINE_SLACK_MS: u64 = 300;

/// Checks everything.
pub fn check(history: &History, db: &DbState, nodes: &[NodeMap]) -> Report {
    let mut report = Report::default();
    let cancelled = cancels(history);
    check_sales(history, db, &cancelled, &mut report);
    check_double(history, db, &cancelled, &mut report);
    check_ghosts(history, db, &mut report);
    check_nodes(db, nodes, &mut report);
    check_holds(history, &mut report);
    report.faults = availability(history);
    report
}

/// Refunds by code: Some(true) acknowledged, Some(false) attempted without a definite answer.
fn cancels(history: &History) -> HashMap<String, bool> {
    let mut out = HashMap::new();
    for c in &history.cancels {
        match c.outcome {
            CancelOutcome::Done => {
                out.insert(c.code.clone(), true);
            }
            CancelOutcome::Unknown => {
                out.entry(c.code.clone()).or_insert(false);
            }
            CancelOutcome::Refused(_) => {}
        }
    }
    out
}

fn sorted(seats: &[u32]) -> Vec<u32> {
    let mut s = seats.to_vec();
    s.sort_unstable();
    s
}

fn check_sales(
    history: &History,
    db: &DbState,
    cancelled: &HashMap<String, bool>,
    report: &mut Report,
) {
    for c in &history.confirms {
        let ConfirmOutcome::Booked { code, seats } = &c.outcome else {
            continue;
        };
        report.acked += 1;
        let Some(stored) = db.get(code) else {
            report.lost += 1;
            report.violations.push(format!(
                "acknowledged sale {code} ({seats:?}) is not in the store"
            ));
            continue;
        };
        let mut all = stored.live_seats.clone();
        all.extend(&stored.released_seats);
        let want = sorted(seats);
        let live_ok = match cancelled.get(code) {
            Some(true) => stored.live_seats.is_empty() && stored.status != "confirmed",
            Some(false) => true,
            None => stored.status == "confirmed" && sorted(&stored.live_seats) == want,
        };
        if sorted(&all) != want || !live_ok {
            report.lost += 1;
            report.violations.push(format!(
                "acknowledged sale {code} of {want:?} is stored as {} owning {:?} (released {:?})",
                stored.status, stored.live_seats, stored.released_seats
            ));
        }
    }
}

fn check_double(
    history: &History,
    db: &DbState,
    cancelled: &HashMap<String, bool>,
    report: &mut Report,
) {
    // In the store: a seat owned by two bookings, or by one that is not live.
    let mut owner: HashMap<u32, &str> = HashMap::new();
    for (code, b) in db {
        for seat in &b.live_seats {
            if let Some(other) = owner.insert(*seat, code) {
                report.double += 1;
                report.violations.push(format!(
                    "seat {seat} is owned by {other} and {code} in the store"
                ));
            }
            if b.status != "confirmed" {
                report.double += 1;
                report.violations.push(format!(
                    "seat {seat} is still owned by {code}, which is {}",
                    b.status
                ));
            }
        }
    }
    // As the kiosks were told: two acknowledged, never-refunded sales with a seat in common.
    let mut told: HashMap<u32, &str> = HashMap::new();
    for c in &history.confirms {
        let ConfirmOutcome::Booked { code, seats } = &c.outcome else {
            continue;
        };
        if cancelled.contains_key(code) {
            continue;
        }
        for seat in seats {
            if let Some(other) = told.insert(*seat, code) {
                if other != code {
                    report.double += 1;
                    report.violations.push(format!(
                        "seat {seat} was sold to {other} and to {code}, neither refunded"
                    ));
                }
            }
        }
    }
}

fn check_ghosts(history: &History, db: &DbState, report: &mut Report) {
    let mut final_by_key: HashMap<(u64, &str), &ConfirmOutcome> = HashMap::new();
    for c in &history.confirms {
        let terminal = history.terminals.get(c.client).copied().unwrap_or(0);
        final_by_key.insert((terminal, c.key.as_str()), &c.outcome);
    }
    for (code, b) in db {
        match final_by_key.get(&(b.terminal_id, b.key.as_str())) {
            Some(ConfirmOutcome::Refused(why)) => {
                report.ghost += 1;
                report.violations.push(format!(
                    "booking {code} is in the store, but its confirm (key {}) was refused: {why}",
                    b.key
                ));
            }
            None => {
                report.ghost += 1;
                report.violations.push(format!(
                    "booking {code} (key {}) is in the store, but no kiosk confirmed it",
                    b.key
                ));
            }
            Some(_) => {}
        }
    }
}

fn check_nodes(db: &DbState, nodes: &[NodeMap], report: &mut Report) {
    let sold: BTreeSet<u32> = db
        .values()
        .filter(|b| b.status == "confirmed")
        .flat_map(|b| b.live_seats.iter().copied())
        .collect();
    for (id, map) in nodes {
        let Some(states) = map else {
            report.diverged += 1;
            report
                .violations
                .push(format!("node {id} did not answer for its seat map"));
            continue;
        };
        let node_sold: BTreeSet<u32> = states
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == SeatState::Sold)
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        let held = states.iter().filter(|s| **s == SeatState::Held).count();
        if node_sold != sold || held > 0 {
            report.diverged += 1;
            let extra: Vec<_> = node_sold.difference(&sold).collect();
            let missing: Vec<_> = sold.difference(&node_sold).collect();
            report.violations.push(format!(
                "node {id} differs from the store: sold there only {extra:?}, sold only in the \
                 store {missing:?}, {held} seats still held after every TTL"
            ));
        }
    }
}

fn check_holds(history: &History, report: &mut Report) {
    report.holds = history.holds.len();
    for h in &history.holds {
        if let HoldFate::Lost(why) = &h.fate {
            report.holds_lost += 1;
            report.violations.push(format!(
                "hold {} of kiosk {} (acknowledged by node {}, {}) was lost before its deadline: \
                 {why}",
                h.hold_id,
                h.client,
                h.node,
                fault_at(history, h.acked_ms)
            ));
        }
    }
}

/// A fault's window of interest extends this far past its healing (fail-back, hand-over).
pub const AFTER_HEAL_MS: u64 = 3_000;

/// The longest stretch of `[from_ms, to_ms]` without an answer in `oks` (sent at, answered at),
/// counting from `from_ms` ([`u64::MAX`] when nothing at all was answered after `from_ms`).
pub fn gap(oks: &[(u64, u64)], from_ms: u64, to_ms: u64) -> u64 {
    gap_counted(oks, from_ms, to_ms, true)
}

/// [`gap`]; `capped: false` is how it was measured before the cap (a stretch that began inside
/// the window counted in full, to the next answer however late), for comparing with old figures.
fn gap_counted(oks: &[(u64, u64)], from_ms: u64, to_ms: u64, capped: bool) -> u64 {
    let mut answers: Vec<u64> = oks
        .iter()
        .filter(|(sent, _)| *sent >= from_ms)
        .map(|(_, answered)| *answered)
        .collect();
    if answers.is_empty() {
        return u64::MAX;
    }
    answers.sort_unstable();
    let mut longest = 0;
    let mut last = from_ms;
    for answered in answers {
        if last >= to_ms {
            break;
        }
        // A stretch is counted within the window only (the next answer may come long after it,
        // in the next fault: that stretch was the next fault's).
        let end = if capped {
            answered.min(to_ms)
        } else {
            answered
        };
        longest = longest.max(end.saturating_sub(last));
        last = last.max(answered);
    }
    longest
}

/// For each fault: from its start to the first sale (and hold) sent after it that succeeded.
/// A fault's window ends [`AFTER_HEAL_MS`] after its heal, or when the next fault begins if
/// that is sooner (a stall of MySQL 1.7 s after a paused leader was healed was counted as the
/// paused leader's).
fn availability(history: &History) -> Vec<FaultFigure> {
    history
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let wide = f.healed_ms + AFTER_HEAL_MS;
            let next = history.faults.get(i + 1).map_or(u64::MAX, |n| n.at_ms);
            let until = wide.min(next);
            FaultFigure {
                kind: f.kind.clone(),
                double: f.double,
                lasted_ms: f.healed_ms.saturating_sub(f.at_ms),
                unavailable_ms: gap(&history.sales_ok, f.at_ms, until),
                no_hold_ms: gap(&history.holds_ok, f.at_ms, until),
                unavailable_wide_ms: gap_counted(&history.sales_ok, f.at_ms, wide, false),
            }
        })
        .collect()
}

/// The fault in force (or the last one before) at `t_ms`.
fn fault_at(history: &History, t_ms: u64) -> String {
    history
        .faults
        .iter()
        .rev()
        .find(|f| f.at_ms <= t_ms)
        .map_or_else(
            || "before any fault".to_owned(),
            |f| format!("{} ms after {} began", t_ms - f.at_ms, f.kind),
        )
}

/// The p-th percentile (0..=100) of `values`, by nearest rank.
pub fn percentile(values: &[u64], p: u64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let len = v.len() as u64;
    let rank = (p * len).div_ceil(100).clamp(1, len);
    v.get(usize::try_from(rank - 1).ok()?).copied()
}
