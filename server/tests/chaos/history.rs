//! What the chaos run records: every operation a kiosk made with its outcome, every successful
//! write (for availability), every fault. Times are ms since the run started.

use std::sync::Arc;

use parking_lot::Mutex;

/// What became of an acknowledged hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldFate {
    /// Its confirm was answered with a booking.
    Confirmed,
    /// Its release was acknowledged.
    Released,
    /// The kiosk walked away: its TTL frees it.
    Abandoned,
    /// A confirm or release before its deadline was told the hold is gone.
    Lost(String),
    /// The kiosk never got a definite answer about it.
    Unknown,
}

/// An acknowledged hold.
#[derive(Debug, Clone)]
pub struct HoldRec {
    /// The kiosk.
    pub client: usize,
    /// The hold.
    pub hold_id: u64,
    /// When it was acknowledged.
    pub acked_ms: u64,
    /// The node whose connection answered it (as the client's last `Welcome` says).
    pub node: u32,
    /// What became of it.
    pub fate: HoldFate,
}

/// How a confirm ended, after the kiosk's retries with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// Acknowledged: this booking.
    Booked {
        /// Its code.
        code: String,
        /// Its seats.
        seats: Vec<u32>,
    },
    /// A definite error: nothing may have been sold.
    Refused(String),
    /// No definite answer before the kiosk gave up.
    Unknown,
}

/// A confirm and its outcome.
#[derive(Debug, Clone)]
pub struct ConfirmRec {
    /// The kiosk (its terminal is `terminals[client]`).
    pub client: usize,
    /// The idempotency key.
    pub key: String,
    /// The outcome.
    pub outcome: ConfirmOutcome,
}

/// How a refund (cancel) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Acknowledged.
    Done,
    /// A definite error (nothing cancelled).
    Refused(String),
    /// No definite answer.
    Unknown,
}

/// A refund and its outcome.
#[derive(Debug, Clone)]
pub struct CancelRec {
    /// The booking.
    pub code: String,
    /// The outcome.
    pub outcome: CancelOutcome,
}

/// One injected fault.
#[derive(Debug, Clone)]
pub struct FaultRec {
    /// What it was.
    pub kind: String,
    /// Whether two things failed at once.
    pub double: bool,
    /// When it started.
    pub at_ms: u64,
    /// When it was healed.
    pub healed_ms: u64,
}

/// Everything recorded.
#[derive(Debug, Default, Clone)]
pub struct History {
    /// Acknowledged holds.
    pub holds: Vec<HoldRec>,
    /// Confirms.
    pub confirms: Vec<ConfirmRec>,
    /// Refunds.
    pub cancels: Vec<CancelRec>,
    /// Acknowledged sales: (sent at, answered at).
    pub sales_ok: Vec<(u64, u64)>,
    /// Acknowledged holds, the probe's included: (sent at, answered at).
    pub holds_ok: Vec<(u64, u64)>,
    /// Faults.
    pub faults: Vec<FaultRec>,
    /// Each kiosk's terminal id.
    pub terminals: Vec<u64>,
    /// When the kiosks were told to stop (no sale is expected after it).
    pub stopped_ms: Option<u64>,
}

/// The history shared by the kiosks, the probe and the nemesis.
pub type Shared = Arc<Mutex<History>>;
