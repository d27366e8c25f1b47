//! One request of a connection from the moment it is read to its queued reply.
//!
//! It first waits for the previous request of its connection on the same show (lanes, PROTOCOL.md
//! 11.3). A read then waits for the connection's read slot and for room in its outbound queue, and
//! only then builds its reply: one read at a time per connection, and never while the client has
//! `outbound_queue_max_bytes` unread, so what a client that does not read costs is its budget and
//! one reply, whatever the replies weigh. A read is dropped as soon as its connection is gone,
//! waiting or running. A write neither waits for the slot nor for room (its reply is small, and a
//! sale must not wait on another request's reading) and runs to its end once read: its effect
//! must not be cut in half.

use std::sync::Arc;

use cinebook_protocol::{Envelope, ErrorBody, Reply, Request};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::limits::log_field;
use super::outbound::Outbound;
use crate::metrics::RequestTimer;
use crate::node::handlers::{self, Caller};
use crate::node::{auth, Node};

/// Read requests of one connection that build their replies at once.
pub const READS_RUNNING_PER_CONNECTION_MAX: usize = 1;

/// A request read and not yet answered. The handler's future is boxed when it starts: a request
/// still waiting for its turn then costs its task a few hundred bytes, not the largest handler's
/// state.
pub(super) struct Pending {
    pub(super) node: Arc<Node>,
    pub(super) out: Outbound,
    /// The connection's read slots ([`READS_RUNNING_PER_CONNECTION_MAX`]).
    pub(super) reads: Arc<Semaphore>,
    pub(super) caller: Caller,
    pub(super) request_id: u64,
    pub(super) timer: RequestTimer,
    pub(super) name: &'static str,
}

impl Pending {
    /// Waits its turn, runs `request` and queues the answer.
    pub(super) async fn run(self, request: Request, after: Option<oneshot::Receiver<()>>) {
        if auth::is_write(&request) {
            if let Some(previous) = after {
                let _ = previous.await;
            }
            let answer = Box::pin(handlers::handle(&self.node, &self.caller, request)).await;
            return self.answer(answer).await;
        }
        let read = async {
            if let Some(previous) = after {
                let _ = previous.await;
            }
            let slot = self.reads.clone().acquire_owned().await.ok()?;
            self.out.room().await;
            if self.out.closed().is_cancelled() {
                return None;
            }
            let answer = Box::pin(handlers::handle(&self.node, &self.caller, request)).await;
            Some((slot, answer))
        };
        let (slot, answer) = tokio::select! {
            biased;
            _ = self.out.closed().cancelled() => return,
            done = read => match done {
                Some(done) => done,
                None => return,
            },
        };
        // The slot is held until the reply is queued, so the next read sees its bytes.
        self.answer(answer).await;
        drop::<OwnedSemaphorePermit>(slot);
    }

    /// Counts the request in the metrics and queues its answer.
    async fn answer(self, answer: Result<Reply, ErrorBody>) {
        let Pending {
            node,
            out,
            request_id,
            timer,
            name,
            ..
        } = self;
        timer.finish(&node.metrics, name, &answer);
        if let Err(e) = &answer {
            tracing::debug!(code = e.code.name(), message = %log_field(&e.message), "request refused");
        }
        let lamport = node.lamport.tick();
        let envelope = match answer {
            Ok(reply) => Envelope::reply(request_id, lamport, reply),
            Err(error) => Envelope::error(request_id, lamport, error),
        };
        let _ = out.send(envelope).await;
    }
}
