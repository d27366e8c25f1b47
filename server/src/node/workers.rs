//! The worker pool: OS threads that apply writes to shows under each show's mutex.
//!
//! Connections never lock a show for a write themselves: they put a job on a bounded crossbeam
//! channel and await its answer. When the channel is full the answer is `Overloaded` at once,
//! never an unbounded wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use cinebook_protocol::{ErrorBody, ErrorCode};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use tokio::sync::oneshot;

use super::{Node, ShowSlot};
use crate::domain::{EventRecord, ShowState};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The sending side of the work queue.
#[derive(Debug, Clone)]
pub struct WorkQueue {
    tx: Sender<Job>,
}

impl WorkQueue {
    /// Jobs waiting for a worker.
    pub fn len(&self) -> usize {
        self.tx.len()
    }

    /// Whether no job is waiting.
    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }
}

/// A bounded queue and its receiving end.
pub fn queue(work_queue_max: usize) -> (WorkQueue, Receiver<Job>) {
    let (tx, rx) = crossbeam_channel::bounded(work_queue_max.max(1));
    (WorkQueue { tx }, rx)
}

/// The worker threads.
#[derive(Debug)]
pub struct WorkerPool {
    threads: Vec<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
}

impl WorkerPool {
    /// Starts `workers` threads (at least one) draining `rx`.
    pub fn start(workers: usize, rx: Receiver<Job>) -> Self {
        let stopping = Arc::new(AtomicBool::new(false));
        let threads = (0..workers.max(1))
            .map(|i| {
                let (rx, stopping) = (rx.clone(), stopping.clone());
                std::thread::Builder::new()
                    .name(format!("cinebook-worker-{i}"))
                    .spawn(move || {
                        // Wake up now and then to notice a stop even when idle.
                        let wake = std::time::Duration::from_millis(100);
                        loop {
                            match rx.recv_timeout(wake) {
                                Ok(job) => job(),
                                Err(RecvTimeoutError::Timeout)
                                    if stopping.load(Ordering::Acquire) =>
                                {
                                    return
                                }
                                Err(RecvTimeoutError::Timeout) => {}
                                Err(RecvTimeoutError::Disconnected) => return,
                            }
                        }
                    })
                    .map_err(|e| tracing::error!(error = %e, "cannot start a worker thread"))
            })
            .filter_map(Result::ok)
            .collect();
        Self { threads, stopping }
    }

    /// Lets the threads finish the queued jobs, then stops and joins them.
    pub fn stop(self, queue: &WorkQueue) {
        self.stopping.store(true, Ordering::Release);
        // Workers finish what is queued, then notice the flag at their next idle wake-up.
        let _ = queue;
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

impl Node {
    /// Runs `f` on a worker with the show locked, after expiring its due holds, and publishes the
    /// events `f` returns (plus the expiries) to the show's subscribers before unlocking.
    pub async fn on_show<R: Send + 'static>(
        self: &Arc<Self>,
        slot: Arc<ShowSlot>,
        f: impl FnOnce(&mut ShowState, u64, u64) -> (R, Vec<EventRecord>) + Send + 'static,
    ) -> Result<R, ErrorBody> {
        let (tx, rx) = oneshot::channel();
        let node = self.clone();
        let job: Job = Box::new(move || {
            let now_ms = super::now_ms();
            let mut state = slot.state.lock();
            // Only the leader expires holds; followers apply the leader's expiries.
            let expired = if node.accepts_writes() {
                expire_due(&node, &mut state, now_ms)
            } else {
                Vec::new()
            };
            if !expired.is_empty() {
                node.after_apply(&slot, &state, &expired);
            }
            let lamport = node.lamport.tick();
            let (result, records) = f(&mut state, now_ms, lamport);
            node.after_apply(&slot, &state, &records);
            drop(state);
            let _ = tx.send(result);
        });
        self.work.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => ErrorBody::new(
                ErrorCode::Overloaded,
                "the node's work queue is full; retry shortly",
            ),
            TrySendError::Disconnected(_) => {
                ErrorBody::new(ErrorCode::Unavailable, "the node is shutting down")
            }
        })?;
        rx.await
            .map_err(|_| ErrorBody::new(ErrorCode::Internal, "a worker dropped the request"))
    }
}

/// Applies the show's due expiries; the sweeper and every command go through here.
pub fn expire_due(node: &Node, state: &mut ShowState, now_ms: u64) -> Vec<EventRecord> {
    if state.next_deadline_ms().is_none_or(|at| at > now_ms) {
        return Vec::new();
    }
    match state.apply(crate::domain::Command::Expire, now_ms, node.lamport.tick()) {
        Ok(records) => records,
        Err(e) => {
            tracing::error!(show_id = state.show_id(), error = %e, "expiry refused");
            Vec::new()
        }
    }
}
