//! A connection's outbound queue, bounded by bytes as well as by frames, and the writer task that
//! drains it to the socket.
//!
//! Frames are encoded when queued, so a reply counts by its size (see [`Budget`]). Replies are
//! always queued once built (each request holds a reservation of `in_flight_reply_reserve_bytes`,
//! from when it was read); a read request builds its reply, and a push is queued, only while the
//! queue is under `outbound_queue_max_bytes`. The connection reads no further frame while the
//! queued bytes plus reservations are at that budget: a client that does not read stops being
//! read, and its requests stop running. The writer has no buffer of its own: it writes the queued
//! frames in place (one vectored write), so a socket the client does not drain holds no more
//! memory than the budget counts.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;

use bytes::Bytes;
use cinebook_protocol::{Envelope, ErrorBody, ErrorCode};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::budget::Budget;
use crate::node::Node;

/// Bytes the writer gathers into one socket write at most.
const WRITE_BATCH_BYTES: usize = 64 * 1024;
/// Frames the writer gathers into one socket write at most (below the kernel's `IOV_MAX`).
const WRITE_BATCH_FRAMES_MAX: usize = 64;

/// One encoded frame.
#[derive(Debug)]
pub(super) struct Frame {
    /// Shared with every other subscriber's queue for a push; owned for a reply.
    bytes: Bytes,
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
        self.budget.unreserve(self.bytes);
    }
}

impl Outbound {
    /// A queue for one connection and the receiver its writer drains.
    pub(super) fn new(node: Arc<Node>) -> (Outbound, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(node.config.outbound_queue_max.max(1));
        let budget = Arc::new(Budget::new(node.config.limits.outbound_queue_max_bytes));
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

    /// Whether the connection may read another frame (queued frames and the reservations of
    /// running requests under `outbound_queue_max_bytes`).
    pub(super) fn may_read(&self) -> bool {
        self.budget.may_read()
    }

    /// Resolves once the connection may read again (or is closed).
    pub(super) async fn read_room(&self) {
        self.budget.until(Budget::may_read, &self.closed).await
    }

    /// Resolves once the queued frames are under `outbound_queue_max_bytes` (or the connection
    /// is closed): a read request waits here before it builds its reply, a push before it is
    /// queued.
    pub(super) async fn room(&self) {
        self.budget.until(Budget::may_queue, &self.closed).await
    }

    /// Counts a request's reply before it exists: `in_flight_write_reserve_bytes` for a write,
    /// `in_flight_reply_reserve_bytes` for a read.
    pub(super) fn reserve(&self, write: bool) -> Reservation {
        let limits = &self.node.config.limits;
        let bytes = if write {
            limits.in_flight_write_reserve_bytes
        } else {
            limits.in_flight_reply_reserve_bytes
        };
        self.budget.reserve(bytes);
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
        self.send_frame(Bytes::from(bytes)).await
    }

    /// Queues an encoded frame whatever the byte budget; false once the connection is gone.
    async fn send_frame(&self, bytes: Bytes) -> bool {
        let len = bytes.len();
        self.budget.queued(len);
        if self.tx.send(Frame { bytes }).await.is_err() {
            self.budget.written(len);
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

    /// Queues an encoded push (shared by its subscribers) once there is room; false once the
    /// connection is gone.
    pub(super) async fn send_frame_when_room(&self, frame: Bytes) -> bool {
        self.room().await;
        if self.closed.is_cancelled() {
            return false;
        }
        self.send_frame(frame).await
    }
}

/// Writes queued frames, gathering what is ready into one vectored write, until every sender is
/// gone or a write fails (then the connection is marked closed, so its pending requests are
/// dropped). Frames are written from where they lie: no write buffer, so a blocked socket holds
/// no more memory than the frames its budget already counts.
pub(super) async fn write_frames<W: AsyncWrite + Unpin>(
    out: Outbound,
    mut write: W,
    mut rx: mpsc::Receiver<Frame>,
) {
    let budget = out.budget.clone();
    let closed = out.closed.clone();
    // The writer must not keep its own queue open.
    drop(out);
    let mut batch = VecDeque::new();
    while let Some(frame) = rx.recv().await {
        let mut gathered = frame.bytes.len();
        batch.push_back(frame);
        while gathered < WRITE_BATCH_BYTES && batch.len() < WRITE_BATCH_FRAMES_MAX {
            let Ok(more) = rx.try_recv() else { break };
            gathered += more.bytes.len();
            batch.push_back(more);
        }
        let result = match write_batch(&mut write, &mut batch, &budget).await {
            Ok(()) => write.flush().await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            for frame in batch.drain(..) {
                budget.written(frame.bytes.len());
            }
            closed.cancel();
            budget.wake_all();
            return;
        }
    }
    let _ = write.shutdown().await;
}

/// Writes every frame of `batch`, releasing each one's bytes from the budget once it is on the
/// socket.
async fn write_batch<W: AsyncWrite + Unpin>(
    write: &mut W,
    batch: &mut VecDeque<Frame>,
    budget: &Budget,
) -> std::io::Result<()> {
    // Bytes of the front frame already written.
    let mut offset = 0;
    while let Some(front) = batch.front() {
        debug_assert!(offset < front.bytes.len(), "a written frame was kept");
        let slices: Vec<IoSlice<'_>> = std::iter::once(IoSlice::new(&front.bytes[offset..]))
            .chain(batch.iter().skip(1).map(|f| IoSlice::new(&f.bytes)))
            .collect();
        let mut written = write.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while let Some(front) = batch.front() {
            let left = front.bytes.len() - offset;
            if written < left {
                offset += written;
                break;
            }
            written -= left;
            offset = 0;
            budget.written(front.bytes.len());
            batch.pop_front();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    fn frame(byte: u8, len: usize) -> Frame {
        Frame {
            bytes: Bytes::from(vec![byte; len]),
        }
    }

    #[tokio::test]
    async fn a_batch_survives_partial_writes_and_releases_every_byte() {
        // A pipe of 7 bytes: every write is partial, most end inside a frame.
        let (mut near, mut far) = tokio::io::duplex(7);
        let sizes = [1, 30, 7, 64, 2, 100];
        let budget = Budget::new(1 << 20);
        let mut batch = VecDeque::new();
        let mut expected = Vec::new();
        for (n, len) in sizes.iter().enumerate() {
            let f = frame(n as u8 + 1, *len);
            expected.extend_from_slice(&f.bytes);
            budget.queued(*len);
            batch.push_back(f);
        }
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            far.read_to_end(&mut got).await.map(|_| got)
        });
        write_batch(&mut near, &mut batch, &budget)
            .await
            .expect("write");
        drop(near);
        let got = reader.await.expect("join").expect("read");
        assert_eq!(got, expected, "bytes lost, doubled or reordered");
        assert!(batch.is_empty());
        assert_eq!(budget.frames_bytes(), 0, "written frames still counted");
    }

    #[tokio::test]
    async fn a_blocked_socket_keeps_only_the_unwritten_frames_counted() {
        let (mut near, _far) = tokio::io::duplex(10);
        let budget = Budget::new(1 << 20);
        let mut batch = VecDeque::new();
        for n in 0..3u8 {
            budget.queued(8);
            batch.push_back(frame(n, 8));
        }
        // Nobody reads `_far`: 10 bytes fit, then the write blocks.
        let blocked = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            write_batch(&mut near, &mut batch, &budget),
        )
        .await;
        assert!(blocked.is_err(), "the write should block");
        // The first frame is on the socket; the second is half written, so still counted.
        assert_eq!(budget.frames_bytes(), 16);
    }
}
