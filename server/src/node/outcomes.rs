//! Sales whose outcome is not settled yet, by (terminal, confirm idempotency key).
//!
//! A confirm registers its sale here before it reaches the writer and holds a [`SaleTicket`]
//! for it. The ticket moves through [`Phase`]s: `Committing` while the writer has it,
//! `Resolving` when the store gave no definite answer (the node is reading the store), `Done`
//! with the answer every waiter gets. A retried confirm with the same key finds the entry and
//! waits for that answer instead of starting a second attempt.
//!
//! A ticket dropped without an answer (a panic in the writer, a dropped job) leaves its entry
//! *orphaned*: its hold stays pinned, and the sweeper's pin audit ([`super::resolver::audit`])
//! adopts it and resolves it from the store. So no pin outlives the node's knowledge of it.

use std::collections::HashMap;
use std::sync::Arc;

use cinebook_protocol::types::{Booking, HoldId, ShowId, TerminalId};
use cinebook_protocol::{ErrorBody, ErrorCode};
use parking_lot::Mutex;
use tokio::sync::watch;

/// Where a sale is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The writer is committing it.
    Committing,
    /// `COMMIT` got no definite answer; the node is reading the store.
    Resolving,
    /// Settled: the booking, or why there is none.
    Done(Result<Booking, ErrorBody>),
}

/// (terminal, confirm idempotency key).
pub type SaleKey = (TerminalId, String);

#[derive(Debug)]
struct Entry {
    hold_id: HoldId,
    show_id: ShowId,
    phase: watch::Sender<Phase>,
    /// Someone (the writer, a resolver) will settle it.
    owned: bool,
}

/// The registry of unsettled sales.
#[derive(Debug, Default)]
pub struct Outcomes {
    sales: Mutex<HashMap<SaleKey, Entry>>,
}

/// A sale in progress, registered under its key.
#[derive(Debug)]
pub enum Registration {
    /// New: the caller owns the ticket and must settle it.
    New(SaleTicket),
    /// Already in progress for `hold_id` on `show_id`: wait on `phase`.
    InProgress {
        /// The hold being sold.
        hold_id: HoldId,
        /// Its show.
        show_id: ShowId,
        /// Its phase.
        phase: watch::Receiver<Phase>,
    },
}

impl Outcomes {
    /// Registers a sale of `hold_id` under `key`, or returns the one in progress.
    pub fn register(
        self: &Arc<Self>,
        key: SaleKey,
        hold_id: HoldId,
        show_id: ShowId,
    ) -> Registration {
        let mut sales = self.sales.lock();
        if let Some(entry) = sales.get(&key) {
            return Registration::InProgress {
                hold_id: entry.hold_id,
                show_id: entry.show_id,
                phase: entry.phase.subscribe(),
            };
        }
        let (phase, _) = watch::channel(Phase::Committing);
        sales.insert(
            key.clone(),
            Entry {
                hold_id,
                show_id,
                phase,
                owned: true,
            },
        );
        Registration::New(SaleTicket {
            outcomes: self.clone(),
            key,
            settled: false,
        })
    }

    /// The phase of the sale under `key`, if one is unsettled.
    pub fn watch(&self, key: &SaleKey) -> Option<(HoldId, watch::Receiver<Phase>)> {
        self.sales
            .lock()
            .get(key)
            .map(|e| (e.hold_id, e.phase.subscribe()))
    }

    /// Takes ownership of the sale pinned on `hold_id` under `key` if nobody owns it (an orphan,
    /// or a pin the node has no entry for at all).
    pub fn adopt(
        self: &Arc<Self>,
        key: SaleKey,
        hold_id: HoldId,
        show_id: ShowId,
    ) -> Option<SaleTicket> {
        let mut sales = self.sales.lock();
        match sales.get_mut(&key) {
            Some(entry) if entry.owned => return None,
            Some(entry) => {
                entry.owned = true;
                entry.phase.send_replace(Phase::Resolving);
            }
            None => {
                let (phase, _) = watch::channel(Phase::Resolving);
                sales.insert(
                    key.clone(),
                    Entry {
                        hold_id,
                        show_id,
                        phase,
                        owned: true,
                    },
                );
            }
        }
        Some(SaleTicket {
            outcomes: self.clone(),
            key,
            settled: false,
        })
    }

    /// Sales not settled yet.
    pub fn len(&self) -> usize {
        self.sales.lock().len()
    }

    /// Whether every sale is settled.
    pub fn is_empty(&self) -> bool {
        self.sales.lock().is_empty()
    }

    fn set(&self, key: &SaleKey, phase: Phase) {
        if let Some(entry) = self.sales.lock().get(key) {
            entry.phase.send_replace(phase);
        }
    }

    fn settle(&self, key: &SaleKey, result: Result<Booking, ErrorBody>) {
        if let Some(entry) = self.sales.lock().remove(key) {
            entry.phase.send_replace(Phase::Done(result));
        }
    }

    fn orphan(&self, key: &SaleKey) {
        if let Some(entry) = self.sales.lock().get_mut(key) {
            entry.owned = false;
        }
    }
}

/// The duty to settle one sale. Dropping it unsettled orphans the sale (see the module doc).
#[derive(Debug)]
pub struct SaleTicket {
    outcomes: Arc<Outcomes>,
    key: SaleKey,
    settled: bool,
}

impl SaleTicket {
    /// The sale's key.
    pub fn key(&self) -> &SaleKey {
        &self.key
    }

    /// The store gave no definite answer: waiters learn that the node is finding out.
    pub fn resolving(&self) {
        self.outcomes.set(&self.key, Phase::Resolving);
    }

    /// Settles the sale: every waiter gets `result`, and the key is free for a new attempt
    /// (after a failure) or answered from the booking index (after a success).
    pub fn settle(mut self, result: Result<Booking, ErrorBody>) {
        self.settled = true;
        self.outcomes.settle(&self.key, result);
    }
}

impl Drop for SaleTicket {
    fn drop(&mut self) {
        if !self.settled {
            tracing::error!(
                terminal_id = self.key.0,
                "a sale's ticket was dropped unsettled; the pin audit will resolve it"
            );
            self.outcomes.orphan(&self.key);
        }
    }
}

/// Waits for `phase` to leave `Committing` (or, with `settled_only`, to be `Done`), at most
/// `wait_ms`. What a confirm answers while the outcome is not known: `OutcomeUnknown`.
pub async fn wait(
    mut phase: watch::Receiver<Phase>,
    wait_ms: u64,
    settled_only: bool,
) -> Result<Booking, ErrorBody> {
    let ready = |p: &Phase| match p {
        Phase::Committing => false,
        Phase::Resolving => !settled_only,
        Phase::Done(_) => true,
    };
    let waited = tokio::time::timeout(
        std::time::Duration::from_millis(wait_ms),
        phase.wait_for(ready),
    )
    .await;
    match waited {
        Ok(Ok(now)) => match &*now {
            Phase::Done(result) => result.clone(),
            _ => Err(unknown()),
        },
        // The sender is gone only once the entry was settled and dropped: the watch keeps its
        // last value, which `wait_for` would have returned; treat a closed channel as unknown.
        Ok(Err(_)) | Err(_) => Err(unknown()),
    }
}

/// The answer for a sale whose outcome the node does not know yet.
pub fn unknown() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::OutcomeUnknown,
        "the database did not confirm this sale in time; its seats stay reserved while the node \
         finds out; retry with the same idempotency key to get the booking or a definite answer",
    )
}
