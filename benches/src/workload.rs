//! Workload shapes and seat choices.
//!
//! Every worker (one pipeline slot of one connection) draws its choices from its own generator,
//! seeded from the run's seed and the worker's index. Two systems run with the same seed, shows
//! and connection count therefore see the same sequence of choices.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cinebook_client::types::{SeatId, ShowId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::catalog::{ShowInfo, ROW_WIDTH};

/// What each operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Workload {
    /// Hold N adjacent seats in a random show, then release them.
    Hold,
    /// Hold N adjacent seats in a random show and confirm the sale.
    Sale,
    /// Every connection sells best-available N in one show until it is sold out, then the next.
    Hot,
    /// Seat-map reads of random shows.
    Browse,
    /// Subscribers on one show while one terminal sells: acknowledgement-to-push latency.
    Fanout,
}

impl Workload {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Hold => "hold",
            Workload::Sale => "sale",
            Workload::Hot => "hot",
            Workload::Browse => "browse",
            Workload::Fanout => "fanout",
        }
    }
}

/// A worker's generator: seed and worker index mixed so that neighbours differ.
pub fn worker_rng(seed: u64, worker: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ (worker as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Random adjacent seats in random shows.
#[derive(Debug, Clone)]
pub struct SeatPicker {
    shows: Arc<Vec<ShowInfo>>,
    seats_per_op: u32,
}

impl SeatPicker {
    /// Picks `seats_per_op` adjacent seats (one row) among `shows`.
    pub fn new(shows: Arc<Vec<ShowInfo>>, seats_per_op: u32) -> anyhow::Result<Self> {
        if shows.is_empty() {
            anyhow::bail!("no shows to pick from");
        }
        if seats_per_op == 0 || seats_per_op > ROW_WIDTH {
            anyhow::bail!("--seats-per-op must be in 1..={ROW_WIDTH} (a row's width)");
        }
        if let Some(small) = shows.iter().find(|s| s.seats < seats_per_op) {
            anyhow::bail!(
                "show {} has {} seats, fewer than --seats-per-op {seats_per_op}",
                small.id,
                small.seats
            );
        }
        Ok(Self {
            shows,
            seats_per_op,
        })
    }

    /// The shows.
    pub fn shows(&self) -> &[ShowInfo] {
        &self.shows
    }

    /// Seats per operation.
    pub fn seats_per_op(&self) -> u32 {
        self.seats_per_op
    }

    /// A random show.
    pub fn show(&self, rng: &mut StdRng) -> ShowId {
        self.shows[rng.random_range(0..self.shows.len())].id
    }

    /// A random show and `seats_per_op` adjacent seats in one of its rows.
    pub fn pick(&self, rng: &mut StdRng) -> (ShowId, Vec<SeatId>) {
        let show = self.shows[rng.random_range(0..self.shows.len())];
        let n = self.seats_per_op;
        // Rows that can take n seats: full rows, and the last row if it is wide enough.
        let full_rows = show.seats / ROW_WIDTH;
        let last = show.seats % ROW_WIDTH;
        let rows = full_rows + u32::from(last >= n);
        let row = rng.random_range(0..rows.max(1));
        let width = if row < full_rows { ROW_WIDTH } else { last };
        let start = rng.random_range(0..=width.saturating_sub(n));
        let first = row * ROW_WIDTH + start;
        (show.id, (first..first + n).collect())
    }
}

/// The show the `hot` workload sells right now, shared by all workers of one system.
#[derive(Debug, Default)]
pub struct HotCursor {
    index: AtomicUsize,
}

impl HotCursor {
    /// The current show's index.
    pub fn current(&self) -> usize {
        self.index.load(Ordering::Acquire)
    }

    /// Moves on from `seen` (a worker found that show sold out); other workers that saw the same
    /// show sold out do not skip a second one.
    pub fn sold_out(&self, seen: usize) {
        let _ = self
            .index
            .compare_exchange(seen, seen + 1, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// The first run of `n` consecutive seat ids within one row among `free` (sorted ascending).
pub fn first_adjacent(free: &[SeatId], n: usize) -> Option<Vec<SeatId>> {
    if n == 0 {
        return None;
    }
    let mut run_start = 0;
    for i in 0..free.len() {
        let continues = i > run_start
            && free[i] == free[i - 1] + 1
            && free[i] / ROW_WIDTH == free[run_start] / ROW_WIDTH;
        if i > run_start && !continues {
            run_start = i;
        }
        if i + 1 - run_start >= n {
            return Some(free[i + 1 - n..=i].to_vec());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shows(seats: u32) -> Arc<Vec<ShowInfo>> {
        Arc::new(
            (0..5)
                .map(|i| ShowInfo {
                    id: 10 + i,
                    seats,
                    free: seats,
                })
                .collect(),
        )
    }

    #[test]
    fn picks_are_adjacent_in_one_row_and_reproducible() {
        let picker = SeatPicker::new(shows(45), 3).expect("picker");
        let mut a = worker_rng(7, 1);
        let mut b = worker_rng(7, 1);
        for _ in 0..1000 {
            let (show, seats) = picker.pick(&mut a);
            assert_eq!((show, seats.clone()), picker.pick(&mut b));
            assert_eq!(seats.len(), 3);
            assert!(seats.iter().all(|s| *s < 45));
            assert!(seats.windows(2).all(|w| w[1] == w[0] + 1));
            assert_eq!(seats[0] / ROW_WIDTH, seats[2] / ROW_WIDTH);
        }
    }

    #[test]
    fn first_adjacent_stays_in_a_row() {
        assert_eq!(first_adjacent(&[1, 3, 4, 5], 2), Some(vec![3, 4]));
        assert_eq!(first_adjacent(&[19, 20, 22], 2), None);
        assert_eq!(first_adjacent(&[19, 20, 21], 2), Some(vec![20, 21]));
        assert_eq!(first_adjacent(&[7], 1), Some(vec![7]));
        assert_eq!(first_adjacent(&[], 1), None);
    }

    #[test]
    fn hot_cursor_skips_once_per_show() {
        let c = HotCursor::default();
        c.sold_out(0);
        c.sold_out(0);
        assert_eq!(c.current(), 1);
    }
}
