//! Fault injection for tests (feature `fault-injection`): make a worker or the writer panic at a
//! named point, to check that a panic frees nothing it should not and leaks no pinned hold.
//! Not compiled into a normal build.

use std::sync::atomic::{AtomicU32, Ordering};

/// Where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// A worker, before it applies an input (the show's state is untouched).
    Worker,
    /// The writer, before a batch is sent to the store.
    WriterCommit,
    /// The writer, after the store answered a batch and before the shows hear of it.
    WriterAfterCommit,
    /// The payment path, after a captured payment was recorded on its order and before the
    /// sale is begun: a node that dies here has the money and no booking yet.
    PaymentCaptured,
}

const POINTS: usize = 4;

/// Armed faults: each point panics as many times as armed.
#[derive(Debug, Default)]
pub struct Faults {
    armed: [AtomicU32; POINTS],
}

impl Faults {
    /// Makes the next `times` passes through `point` panic.
    pub fn arm(&self, point: FaultPoint, times: u32) {
        self.armed[point as usize].store(times, Ordering::SeqCst);
    }

    /// Panics if `point` is armed (and disarms it by one).
    pub fn hit(&self, point: FaultPoint) {
        let armed = &self.armed[point as usize];
        let fire = armed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fire {
            panic!("injected fault at {point:?}");
        }
    }
}
