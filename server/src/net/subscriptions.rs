//! A connection's subscriptions: one forwarder task per show, from the show's bounded broadcast
//! to the connection's bounded outbound queue, as the frame encoded once for all of them. A forwarder that falls behind loses pushes (the
//! show never waits for it) and sends `Resync` instead.

use std::collections::HashMap;
use std::sync::Arc;

use cinebook_protocol::types::ShowId;
use cinebook_protocol::Push;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::outbound::Outbound;
use crate::node::shared_push::SharedPush;
use crate::node::Node;

/// The subscriptions of one connection.
#[derive(Debug, Default)]
pub struct Subscriptions {
    forwarders: HashMap<ShowId, JoinHandle<()>>,
}

impl Subscriptions {
    /// Number of shows subscribed.
    pub fn len(&self) -> usize {
        self.forwarders.len()
    }

    /// Whether none.
    pub fn is_empty(&self) -> bool {
        self.forwarders.is_empty()
    }

    /// Whether this show is subscribed.
    pub fn contains(&self, show_id: ShowId) -> bool {
        self.forwarders.contains_key(&show_id)
    }

    /// Starts forwarding `rx` to `out`.
    pub(super) fn start(
        &mut self,
        node: Arc<Node>,
        show_id: ShowId,
        rx: broadcast::Receiver<Arc<SharedPush>>,
        out: Outbound,
    ) {
        let task = tokio::spawn(forward(node, show_id, rx, out));
        if let Some(old) = self.forwarders.insert(show_id, task) {
            old.abort();
        }
    }

    /// Stops forwarding a show; whether it was subscribed.
    pub fn stop(&mut self, show_id: ShowId) -> bool {
        self.forwarders
            .remove(&show_id)
            .map(|t| t.abort())
            .is_some()
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        for task in self.forwarders.values() {
            task.abort();
        }
    }
}

async fn forward(
    node: Arc<Node>,
    show_id: ShowId,
    mut rx: broadcast::Receiver<Arc<SharedPush>>,
    out: Outbound,
) {
    let frame_max_bytes = node.config.frame_max_bytes;
    loop {
        let frame = match rx.recv().await {
            // Encoded once for every subscriber of the show (node/shared_push.rs).
            Ok(push) => push.frame(&node.lamport, frame_max_bytes),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(show_id, missed, "subscriber fell behind; resync");
                SharedPush::new(Push::Resync { show_id }).frame(&node.lamport, frame_max_bytes)
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(frame) = frame else {
            continue;
        };
        // A subscriber that does not read is waited for here; the show's broadcast then laps
        // it and it gets `Resync` (the show never waits).
        if !out.send_frame_when_room(frame).await {
            return;
        }
    }
}
