//! A connection's subscriptions: one forwarder task per show, from the show's bounded broadcast
//! to the connection's bounded outbound queue. A forwarder that falls behind loses pushes (the
//! show never waits for it) and sends `Resync` instead.

use std::collections::HashMap;
use std::sync::Arc;

use cinebook_protocol::types::ShowId;
use cinebook_protocol::{Envelope, Push};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::outbound::Outbound;
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
        rx: broadcast::Receiver<Arc<Push>>,
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
    mut rx: broadcast::Receiver<Arc<Push>>,
    out: Outbound,
) {
    loop {
        let push = match rx.recv().await {
            Ok(push) => (*push).clone(),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(show_id, missed, "subscriber fell behind; resync");
                Push::Resync { show_id }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        // A subscriber that does not read is waited for here; the show's broadcast then laps
        // it and it gets `Resync` (the show never waits).
        if !out
            .send_when_room(Envelope::push(node.lamport.tick(), push))
            .await
        {
            return;
        }
    }
}
