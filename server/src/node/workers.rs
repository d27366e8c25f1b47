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
use crate::domain::{DomainError, ShowInput, ShowOutput};

/// One input for one show, and where its output goes.
struct Job {
    node: Arc<Node>,
    slot: Arc<ShowSlot>,
    input: ShowInput,
    reply: oneshot::Sender<Result<ShowOutput, DomainError>>,
}

impl Job {
    /// Applies the input. A panic (a bug) is caught so the worker thread lives on; the caller's
    /// answer channel is dropped, which it reports as `Internal`. A pinned sale whose input was
    /// lost this way is found by the sweeper's pin audit and resolved from the store.
    fn run(self) {
        let Job {
            node,
            slot,
            input,
            reply,
        } = self;
        let show_id = slot.show_id;
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            node.apply_input(&slot, input)
        }));
        match applied {
            Ok(output) => {
                let _ = reply.send(output);
            }
            Err(_) => {
                node.metrics.worker_panicked();
                tracing::error!(
                    show_id,
                    "WORKER PANICKED applying an input; the request fails"
                );
            }
        }
    }
}

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
pub(crate) fn queue(work_queue_max: usize) -> (WorkQueue, JobReceiver) {
    let (tx, rx) = crossbeam_channel::bounded(work_queue_max.max(1));
    (WorkQueue { tx }, JobReceiver(rx))
}

/// The receiving end of the work queue, handed to [`WorkerPool::start`].
#[derive(Debug)]
pub struct JobReceiver(Receiver<Job>);

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("show_id", &self.slot.show_id)
            .finish_non_exhaustive()
    }
}

/// The worker threads.
#[derive(Debug)]
pub struct WorkerPool {
    threads: Vec<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
}

impl WorkerPool {
    /// Starts `workers` threads (at least one) draining `rx`.
    pub fn start(workers: usize, rx: JobReceiver) -> Self {
        let rx = rx.0;
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
                                Ok(job) => job.run(),
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
    /// Applies `input` on the calling thread when the show's mutex is free at this instant (no
    /// task, no thread hop: the work is microseconds and `try_lock` never waits), otherwise
    /// through the worker pool as [`Node::submit`] does. Errors as `submit`'s.
    pub async fn run_input(
        self: &Arc<Self>,
        slot: Arc<ShowSlot>,
        input: ShowInput,
    ) -> Result<Result<ShowOutput, DomainError>, ErrorBody> {
        if let Some(state) = slot.try_lock_for_input() {
            return self.apply_caught(&slot, state, input);
        }
        self.submit(slot, input).await
    }

    /// Applies `input` with the show already locked, on the calling thread. A panic (a bug) is
    /// caught and counted as a worker's is, and answers `Internal`.
    pub(crate) fn apply_caught(
        &self,
        slot: &ShowSlot,
        state: parking_lot::MutexGuard<'_, crate::domain::ShowState>,
        input: ShowInput,
    ) -> Result<Result<ShowOutput, DomainError>, ErrorBody> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.apply_locked(slot, state, input)
        }))
        .map_err(|_| self.panicked(slot.show_id))
    }

    /// Counts and logs a panic while applying an input; the request's answer.
    pub(crate) fn panicked(&self, show_id: u64) -> ErrorBody {
        self.metrics.worker_panicked();
        tracing::error!(
            show_id,
            "WORKER PANICKED applying an input; the request fails"
        );
        ErrorBody::new(ErrorCode::Internal, "a worker dropped the request")
    }

    /// Queues `input` for `slot` on the worker pool and waits for its output. The outer error is
    /// the queue's (full: `Overloaded`; stopped: `Unavailable`; a worker panicked: `Internal`),
    /// the inner one the show core's refusal.
    pub async fn submit(
        self: &Arc<Self>,
        slot: Arc<ShowSlot>,
        input: ShowInput,
    ) -> Result<Result<ShowOutput, DomainError>, ErrorBody> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            node: self.clone(),
            slot,
            input,
            reply,
        };
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
