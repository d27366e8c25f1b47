//! The hold sweeper: every `sweep_interval_ms`, shows with a due deadline get an expiry job, so
//! holds expire within that interval of their deadline and the release is pushed like any change.
//! Every [`PIN_AUDIT_INTERVAL_MS`] it also runs the pin audit ([`super::resolver::audit`]): a
//! pinned hold that nobody is settling is resolved from the store.

use std::sync::Arc;
use std::time::Duration;

use super::{now_ms, Node};
use crate::domain::ShowInput;

/// How often the sweeper looks for pinned holds nobody is settling.
pub const PIN_AUDIT_INTERVAL_MS: u64 = 1_000;

/// Runs until shutdown.
pub async fn run(node: Arc<Node>) {
    let mut tick =
        tokio::time::interval(Duration::from_millis(node.config.sweep_interval_ms.max(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_audit = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if !node.accepts_writes() {
            continue;
        }
        if last_audit.elapsed() >= Duration::from_millis(PIN_AUDIT_INTERVAL_MS) {
            last_audit = std::time::Instant::now();
            super::resolver::audit(&node);
        }
        let now = now_ms();
        for slot in node.show_slots() {
            if slot.next_deadline_ms() > now {
                continue;
            }
            match node.submit(slot, ShowInput::Tick).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "expiry refused"),
                Err(e) => tracing::warn!(error = %e, "expiry sweep postponed"),
            }
        }
    }
}
