//! A connection's outbound queue, bounded by bytes as well as by frames, and the writer task that
//! drains it to the socket.
//!
//! Frames are encoded when queued, so a reply counts by its size. Replies are always queued
//! (their request already ran; each has a reservation of `in_flight_reply_reserve_bytes` taken
//! when it was read); pushes wait for room. The connection reads no further frame while the
//! queued bytes plus reservations are at `outbound_queue_max_bytes`: a client that does not read
//! stops being read, and its requests stop running.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cinebook_protocol::{Envelope, ErrorBody, ErrorCode};
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::node::Node;

/// Bytes the writer gathers into one socket write at most.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// One encoded frame and what it counts against the byte budget.
#[derive(Debug)]
pub(super) struct Frame {
    bytes: Vec<u8>,
}

#[derive(Debug)]
struct Budget {
    queued: AtomicUsize,
    max: usize,
    room: Notify,
}

impl Budget {
    fn add(&self, bytes: usize) {
        self.queued.fetch_add(bytes, Ordering::AcqRel);
    }

    fn release(&self, bytes: usize) {
        let before = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(bytes))
            })
            .unwrap_or_else(|q| q);
        debug_assert!(before >= bytes, "released more bytes than were queued");
        self.room.notify_waiters();
    }

    fn has_room(&self) -> bool {
        self.queued.load(Ordering::Acquire) < self.max
    }
}

/// The sending side, cloned into every task that answers or pushes on the connection.
#[derive(Debug, Clone)]
pub(super) struct Outbound {
    tx: mpsc::Sender<Frame>,
    budget: Arc<Budget>,
    node: Arc<Node>,
    /// Cancelled when the socket is gone (a write failed) or the connection ended.
    closed: CancellationToken,
}

/// Bytes counted for a request still running; released when dropped.
#[derive(Debug)]
pub(super) struct Reservation {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

impl Outbound {
    /// A queue for one connection and the receiver its writer drains.
    pub(super) fn new(node: Arc<Node>) -> (Outbound, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(node.config.outbound_queue_max.max(1));
        let budget = Arc::new(Budget {
            queued: AtomicUsize::new(0),
            max: node.config.limits.outbound_queue_max_bytes.max(1),
            room: Notify::new(),
        });
        let out = Outbound {
            tx,
            budget,
            node,
            closed: CancellationToken::new(),
        };
        (out, rx)
    }

    /// Cancelled once the socket is gone or the connection ended.
    pub(super) fn closed(&self) -> &CancellationToken {
        &self.closed
    }

    /// Whether the connection may read another frame.
    pub(super) fn has_room(&self) -> bool {
        self.budget.has_room()
    }

    /// Resolves once there is room (or the connection is closed).
    pub(super) async fn room(&self) {
        loop {
            let notified = self.budget.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.budget.has_room() || self.closed.is_cancelled() {
                return;
            }
            tokio::select! {
                _ = notified => {}
                _ = self.closed.cancelled() => return,
            }
        }
    }

    /// Counts a request's reply before it exists.
    pub(super) fn reserve(&self) -> Reservation {
        let bytes = self.node.config.limits.in_flight_reply_reserve_bytes;
        self.budget.add(bytes);
        Reservation {
            budget: self.budget.clone(),
            bytes,
        }
    }

    /// The frame for `envelope`; one that does not fit `frame_max_bytes` becomes an `Internal`
    /// error with its request id.
    fn encode(&self, envelope: &Envelope) -> Option<Vec<u8>> {
        let max = self.node.config.frame_max_bytes;
        match cinebook_protocol::codec::encode_frame(envelope) {
            Ok(bytes) if bytes.len() <= max + cinebook_protocol::codec::FRAME_HEADER_BYTES => {
                Some(bytes)
            }
            result => {
                let why = result.err().map(|e| e.to_string());
                tracing::error!(error = ?why, "reply could not be encoded within frame_max_bytes");
                let error = ErrorBody::new(
                    ErrorCode::Internal,
                    "the reply is larger than frame_max_bytes",
                );
                let fallback =
                    Envelope::error(envelope.request_id, self.node.lamport.tick(), error);
                cinebook_protocol::codec::encode_frame(&fallback).ok()
            }
        }
    }

    /// Queues a reply (or a connection-level error) whatever the byte budget; false once the
    /// connection is gone.
    pub(super) async fn send(&self, envelope: Envelope) -> bool {
        let Some(bytes) = self.encode(&envelope) else {
            return false;
        };
        self.budget.add(bytes.len());
        let len = bytes.len();
        if self.tx.send(Frame { bytes }).await.is_err() {
            self.budget.release(len);
            return false;
        }
        true
    }

    /// Queues a push once there is room; false once the connection is gone.
    pub(super) async fn send_when_room(&self, envelope: Envelope) -> bool {
        self.room().await;
        if self.closed.is_cancelled() {
            return false;
        }
        self.send(envelope).await
    }
}

/// Writes queued frames, batching what is ready into one write, until every sender is gone or a
/// write fails (then the connection is marked closed, so its pending requests are dropped).
pub(super) async fn write_frames<W: AsyncWrite + Unpin>(
    out: Outbound,
    write: W,
    mut rx: mpsc::Receiver<Frame>,
) {
    let budget = out.budget.clone();
    let closed = out.closed.clone();
    // The writer must not keep its own queue open.
    drop(out);
    let mut sink = BufWriter::with_capacity(WRITE_BATCH_BYTES, write);
    while let Some(frame) = rx.recv().await {
        let mut written = frame.bytes.len();
        let mut result = sink.write_all(&frame.bytes).await;
        drop(frame);
        while result.is_ok() && written < WRITE_BATCH_BYTES {
            let Ok(more) = rx.try_recv() else { break };
            written += more.bytes.len();
            result = sink.write_all(&more.bytes).await;
        }
        let result = match result {
            Ok(()) => sink.flush().await,
            Err(e) => Err(e),
        };
        budget.release(written);
        if result.is_err() {
            closed.cancel();
            budget.room.notify_waiters();
            return;
        }
    }
    let _ = sink.shutdown().await;
}
