//! `--inject`: corrupt the database or the history on purpose (the run must then report
//! FAILED), and the self-test every clean run ends with: each corruption, applied to a copy of
//! the run's own data, must be caught.

use super::checker::{check, DbState, NodeMap};
use super::history::{ConfirmOutcome, ConfirmRec, History, HoldFate, HoldRec};
use super::read_db;
use cinebook_server::testing::TestDatabase;
use mysql_async::prelude::Queryable;

/// What `--inject` corrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inject {
    /// Delete an acknowledged sale's seats from the database.
    Lost,
    /// Record a second acknowledged sale of a sold seat in the history.
    Double,
    /// Record a committed sale's confirm as refused in the history.
    Ghost,
    /// Mark a free seat sold in one node's seat map as read.
    Diverged,
    /// Record a hold lost before its deadline in the history.
    Holds,
}

const INJECTIONS: [Inject; 5] = [
    Inject::Lost,
    Inject::Double,
    Inject::Ghost,
    Inject::Diverged,
    Inject::Holds,
];

impl Inject {
    pub fn parse(text: &str) -> Option<Inject> {
        INJECTIONS.into_iter().find(|i| i.name() == text)
    }

    pub fn name(self) -> &'static str {
        match self {
            Inject::Lost => "lost",
            Inject::Double => "double",
            Inject::Ghost => "ghost",
            Inject::Diverged => "diverged",
            Inject::Holds => "holds",
        }
    }
}

pub type State = (DbState, Vec<NodeMap>, History);

/// Corrupts the database (lost: an acknowledged sale's seats are deleted) or the history or a
/// node's map as read (the other kinds) on purpose.
pub async fn inject(what: Inject, state: State, db: &TestDatabase) -> State {
    if what != Inject::Lost {
        return inject_offline(what, state).await;
    }
    let (db_state, nodes, history) = state;
    let live_sale = db_state
        .iter()
        .find(|(_, b)| b.status == "confirmed" && !b.live_seats.is_empty())
        .map(|(code, _)| code.clone());
    let Some(code) = live_sale else {
        return (db_state, nodes, history);
    };
    let mut conn = mysql_async::Conn::from_url(db.url.as_str())
        .await
        .expect("mysql");
    conn.exec_drop("DELETE FROM booking_seats WHERE code = ?", (code,))
        .await
        .expect("corrupt booking_seats");
    let _ = conn.disconnect().await;
    (read_db(db).await, nodes, history)
}

/// The checker proves itself on this run's own data: each corruption must be reported.
pub fn self_test(history: &History, db_state: &DbState, nodes: &[NodeMap]) -> bool {
    let mut ok = true;
    for what in [
        Inject::Double,
        Inject::Ghost,
        Inject::Diverged,
        Inject::Holds,
    ] {
        let state = (db_state.clone(), nodes.to_vec(), history.clone());
        let (d, n, h) = futures::executor::block_on(inject_offline(what, state));
        let report = check(&h, &d, &n);
        let caught = match what {
            Inject::Double => report.double > 0,
            Inject::Ghost => report.ghost > 0,
            Inject::Diverged => report.diverged > 0,
            Inject::Holds => report.holds_lost > 0,
            Inject::Lost => report.lost > 0,
        };
        if !caught {
            println!("chaos: checker self-test: {} NOT caught", what.name());
            ok = false;
        }
    }
    // A lost sale, corrupted in a copy of the store as read.
    let mut lost = db_state.clone();
    if let Some(b) = lost
        .values_mut()
        .find(|b| b.status == "confirmed" && !b.live_seats.is_empty())
    {
        b.live_seats.pop();
    }
    if check(history, &lost, nodes).lost == 0 {
        println!("chaos: checker self-test: lost NOT caught");
        ok = false;
    }
    // The availability figure counts only its own window: a sale at 100 ms and the next one at
    // 5,000 ms is a 900 ms stretch in a window ending at 1,000 ms (it was 4,900, the next
    // fault's outage counted as this one's).
    let figure = super::checker::gap(&[(0, 100), (50, 5_000)], 0, 1_000);
    if figure != 900 {
        println!("chaos: checker self-test: availability window NOT kept ({figure} ms)");
        ok = false;
    }
    if ok {
        println!(
            "chaos: checker self-test: lost, double, ghost, diverged, holds each caught; \
             availability window kept"
        );
    }
    ok
}

/// [`inject`] for the kinds that touch only the history or the maps (no database needed).
async fn inject_offline(what: Inject, state: State) -> State {
    debug_assert!(what != Inject::Lost);
    let (db_state, mut nodes, mut history) = state;
    let live_sale = db_state
        .values()
        .find(|b| b.status == "confirmed" && !b.live_seats.is_empty())
        .cloned();
    match what {
        Inject::Double => history.confirms.push(ConfirmRec {
            client: 0,
            key: "injected-double".into(),
            outcome: ConfirmOutcome::Booked {
                code: "INJECTED-DOUBLE".into(),
                seats: live_sale.map(|b| b.live_seats).unwrap_or_default(),
            },
        }),
        Inject::Ghost => {
            if let Some(c) = history
                .confirms
                .iter_mut()
                .find(|c| matches!(c.outcome, ConfirmOutcome::Booked { .. }))
            {
                c.outcome = ConfirmOutcome::Refused("injected".into());
            }
        }
        Inject::Diverged => {
            if let Some((_, Some(states))) = nodes.first_mut() {
                if let Some(s) = states.first_mut() {
                    *s = match s {
                        cinebook_protocol::types::SeatState::Sold => {
                            cinebook_protocol::types::SeatState::Free
                        }
                        _ => cinebook_protocol::types::SeatState::Sold,
                    };
                }
            }
        }
        Inject::Holds | Inject::Lost => history.holds.push(HoldRec {
            client: 0,
            hold_id: 0,
            acked_ms: 0,
            node: 0,
            fate: HoldFate::Lost("injected".into()),
        }),
    }
    (db_state, nodes, history)
}
