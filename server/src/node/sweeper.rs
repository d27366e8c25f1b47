//! The hold sweeper: every `sweep_interval_ms`, shows with a due deadline get an expiry job, so
//! holds expire within that interval of their deadline and the release is pushed like any change.

use std::sync::Arc;
use std::time::Duration;

use super::{now_ms, Node};

/// Runs until shutdown.
pub async fn run(node: Arc<Node>) {
    let mut tick =
        tokio::time::interval(Duration::from_millis(node.config.sweep_interval_ms.max(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if !node.accepts_writes() {
            continue;
        }
        let now = now_ms();
        for slot in node.show_slots() {
            if slot.next_deadline_ms() > now {
                continue;
            }
            // The expiry itself happens in on_show before the (empty) closure runs.
            if let Err(e) = node.on_show(slot, |_, _, _| ((), Vec::new())).await {
                tracing::warn!(error = %e, "expiry sweep postponed");
            }
        }
    }
}
