//! The group-commit writer.
//!
//! Sales queue here after their hold was pinned. The writer takes everything queued, up to
//! `writer_batch_max`, commits it in one transaction, and only then turns each sale's seats sold
//! and answers it. While one batch commits the next one fills, so throughput grows with
//! concurrency. If the commit fails, every hold of the batch is unpinned (its seats stay held) and
//! each confirm answers `Unavailable`; a retry with the same idempotency key is safe.

use std::sync::Arc;
use std::time::Instant;

use cinebook_protocol::types::Booking;
use cinebook_protocol::{ErrorBody, ErrorCode};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::{Node, ShowSlot};
use crate::domain::{Command, SaleIntent};
use crate::store::{SaleOutcome, SaleRecord};

/// One sale waiting for the database.
#[derive(Debug)]
pub struct SaleJob {
    /// The show.
    pub slot: Arc<ShowSlot>,
    /// What to write.
    pub intent: SaleIntent,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Booking, ErrorBody>>,
    /// The confirm's `request` span: the writer logs about this sale inside it, so its lines
    /// carry the request id.
    pub span: tracing::Span,
}

/// Runs until `node.writer_stop` is cancelled, then commits what is still queued and returns.
pub async fn run(node: Arc<Node>, mut rx: mpsc::Receiver<SaleJob>) {
    let batch_max = node.config.writer_batch_max.max(1);
    let mut batch = Vec::with_capacity(batch_max);
    loop {
        let received = tokio::select! {
            received = rx.recv_many(&mut batch, batch_max) => received,
            _ = node.writer_stop.cancelled() => break,
        };
        if received == 0 {
            break;
        }
        commit(&node, std::mem::take(&mut batch)).await;
    }
    rx.close();
    while rx.recv_many(&mut batch, batch_max).await > 0 {
        commit(&node, std::mem::take(&mut batch)).await;
    }
    tracing::info!("writer flushed and stopped");
}

async fn commit(node: &Arc<Node>, batch: Vec<SaleJob>) {
    let records: Vec<SaleRecord> = batch
        .iter()
        .map(|job| SaleRecord {
            booking: job.intent.booking.clone(),
            idempotency_key: job.intent.idempotency_key.clone(),
        })
        .collect();
    let started = Instant::now();
    let outcomes = node.store_call(node.store.commit_sales(&records)).await;
    node.metrics.batch_committed(batch.len(), started.elapsed());
    match outcomes {
        Ok(outcomes) if outcomes.len() == batch.len() => {
            for (job, outcome) in batch.into_iter().zip(outcomes) {
                let span = job.span.clone();
                finish(node, job, outcome).instrument(span).await;
            }
        }
        Ok(outcomes) => {
            tracing::error!(
                sent = batch.len(),
                got = outcomes.len(),
                "store answered a batch with the wrong count"
            );
            abort_all(
                node,
                batch,
                ErrorBody::new(
                    ErrorCode::Internal,
                    "store answered the wrong number of outcomes",
                ),
            )
            .await;
        }
        Err(error) => {
            tracing::warn!(sales = batch.len(), error = %error, "batch not committed; holds kept");
            abort_all(node, batch, error).await;
        }
    }
}

async fn finish(node: &Arc<Node>, job: SaleJob, outcome: SaleOutcome) {
    let hold_id = job.intent.hold_id;
    let booking = job.intent.booking;
    match outcome {
        SaleOutcome::Committed => {
            node.metrics.seats_sold(booking.seats.len());
            let code = booking.code.clone();
            let result = node
                .on_show(
                    job.slot.clone(),
                    move |state, now_ms, lamport| match state.apply(
                        Command::Sell { hold_id },
                        now_ms,
                        lamport,
                    ) {
                        Ok(records) => (Ok(()), records),
                        Err(e) => (Err(e), Vec::new()),
                    },
                )
                .await;
            match result {
                Ok(Ok(())) => {
                    let _ = job.reply.send(Ok(booking));
                }
                Ok(Err(e)) => {
                    // Durable but not applied in memory: a bug. The seats are sold in the store;
                    // the next start rebuilds them. Say so loudly.
                    tracing::error!(code = %code, error = %e, "committed sale did not apply to the seat map");
                    let _ = job.reply.send(Err(ErrorBody::new(
                        ErrorCode::Internal,
                        format!("sale {code} committed but not applied: {e}"),
                    )));
                }
                Err(e) => {
                    // The work queue was full: the sale is durable, so apply it without the queue.
                    let mut state = job.slot.state.lock();
                    let lamport = node.lamport.tick();
                    let records = state
                        .apply(Command::Sell { hold_id }, super::now_ms(), lamport)
                        .unwrap_or_default();
                    node.after_apply(&job.slot, &state, &records);
                    drop(state);
                    tracing::debug!(error = %e, "sale completed outside the work queue");
                    let _ = job.reply.send(Ok(booking));
                }
            }
        }
        SaleOutcome::Conflict(why) => {
            tracing::error!(code = %booking.code, why = %why, "DATABASE REFUSED A SALE AS A DOUBLE SALE; hold kept, sale refused");
            unpin(&job.slot, hold_id);
            let _ = job.reply.send(Err(ErrorBody::new(
                ErrorCode::Conflict,
                format!("sale refused by the database: {why}"),
            )));
        }
    }
}

async fn abort_all(_node: &Arc<Node>, batch: Vec<SaleJob>, error: ErrorBody) {
    for job in batch {
        job.span.in_scope(|| {
            tracing::info!(
                code = error.code.name(),
                hold_id = job.intent.hold_id,
                "sale not committed; hold kept"
            )
        });
        unpin(&job.slot, job.intent.hold_id);
        let _ = job.reply.send(Err(error.clone()));
    }
}

/// Unpinning touches one hold under the show's lock for a moment; it cannot wait for the queue.
fn unpin(slot: &ShowSlot, hold_id: u64) {
    slot.state.lock().abort_sale(hold_id);
}
