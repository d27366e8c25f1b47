//! The group-commit writer.
//!
//! Sales queue here after their hold was pinned. The writer takes everything queued, up to
//! `writer_batch_max`, commits it in one transaction, and only then turns each sale's seats sold
//! and answers it. While batches commit (up to `writer_batches_in_flight_max` at once) the next
//! one fills, so throughput grows with concurrency. If the commit fails, every hold of the batch is unpinned (its seats stay held) and
//! each confirm answers `Unavailable`; a retry with the same idempotency key is safe.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use cinebook_protocol::types::Booking;
use cinebook_protocol::{ErrorBody, ErrorCode};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;

use super::{Node, ShowSlot};
use crate::domain::{Command, SaleIntent};
use crate::store::{SaleOutcome, SaleRecord, StoreError};

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
///
/// Up to `writer_batches_in_flight_max` batches commit at once, on different connections of the
/// pool: the database merges their log flushes, so throughput keeps growing with concurrency
/// after one batch's commit latency is the limit. Sales of different batches never share a seat
/// (each seat is pinned by exactly one hold), so their order does not matter.
pub async fn run(node: Arc<Node>, mut rx: mpsc::Receiver<SaleJob>) {
    let batch_max = node.config.writer_batch_max.max(1);
    let in_flight = Arc::new(Semaphore::new(
        node.config.writer_batches_in_flight_max.max(1),
    ));
    let mut commits = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = in_flight.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = node.writer_stop.cancelled() => break,
        };
        let mut batch = Vec::with_capacity(batch_max);
        let received = tokio::select! {
            received = rx.recv_many(&mut batch, batch_max) => received,
            _ = node.writer_stop.cancelled() => 0,
        };
        if received == 0 {
            break;
        }
        let node = node.clone();
        commits.spawn(async move {
            commit(&node, batch).await;
            drop(permit);
        });
        while commits.try_join_next().is_some() {}
    }
    while commits.join_next().await.is_some() {}
    rx.close();
    let mut batch = Vec::with_capacity(batch_max);
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
            hold_id: Some(job.intent.hold_id),
        })
        .collect();
    let started = Instant::now();
    let outcomes = node
        .store_call(async { Ok(node.store.commit_sales(&records).await) })
        .await;
    node.metrics.batch_committed(batch.len(), started.elapsed());
    match outcomes {
        Ok(outcomes) if outcomes.len() == batch.len() => {
            let mut committed = Vec::with_capacity(batch.len());
            for (job, outcome) in batch.into_iter().zip(outcomes) {
                let outcome_fenced = outcome.is_fenced();
                match outcome {
                    SaleOutcome::Committed => committed.push(job),
                    SaleOutcome::Conflict(why) => refuse(job, why.to_string()),
                    // Until the show core resolves unknown outcomes, both are answered as
                    // before: unpinned, Unavailable.
                    SaleOutcome::NotCommitted(why) | SaleOutcome::Unknown(why) => {
                        let error = if outcome_fenced {
                            // Through store_call, so that the cluster learns it was fenced.
                            let fenced =
                                StoreError::Fenced(why.trim_start_matches("fenced: ").to_owned());
                            match node.store_call(async { Err::<(), _>(fenced) }).await {
                                Err(error) => error,
                                Ok(()) => ErrorBody::new(ErrorCode::Unavailable, "fenced"),
                            }
                        } else {
                            ErrorBody::new(ErrorCode::Unavailable, why)
                        };
                        abort_all(node, vec![job], error).await
                    }
                }
            }
            finish(node, committed).await;
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

/// Turns committed sales sold: one worker job per show for the whole batch, the shows in
/// parallel, then the answers.
async fn finish(node: &Arc<Node>, committed: Vec<SaleJob>) {
    let mut by_show: HashMap<u64, Vec<SaleJob>> = HashMap::new();
    for job in committed {
        by_show.entry(job.slot.show_id).or_default().push(job);
    }
    let shows = by_show.into_values().map(|jobs| finish_show(node, jobs));
    futures::future::join_all(shows).await;
}

async fn finish_show(node: &Arc<Node>, jobs: Vec<SaleJob>) {
    let Some(slot) = jobs.first().map(|j| j.slot.clone()) else {
        return;
    };
    let holds: Vec<u64> = jobs.iter().map(|j| j.intent.hold_id).collect();
    let sell_all = {
        let holds = holds.clone();
        move |state: &mut crate::domain::ShowState, now_ms: u64, lamport: u64| {
            let mut results = Vec::with_capacity(holds.len());
            let mut records = Vec::new();
            for hold_id in &holds {
                match state.apply(Command::Sell { hold_id: *hold_id }, now_ms, lamport) {
                    Ok(mut r) => {
                        records.append(&mut r);
                        results.push(Ok(()));
                    }
                    Err(e) => results.push(Err(e)),
                }
            }
            (results, records)
        }
    };
    let results = match node.on_show(slot.clone(), sell_all.clone()).await {
        Ok(results) => results,
        Err(queue_full) => {
            // The sales are durable: apply them without the queue rather than leave memory
            // behind the store.
            tracing::debug!(error = %queue_full, "sales completed outside the work queue");
            let mut state = slot.state.lock();
            let (results, records) = sell_all(&mut state, super::now_ms(), node.lamport.tick());
            node.after_apply(&slot, &state, &records);
            results
        }
    };
    for (job, result) in jobs.into_iter().zip(results) {
        let code = job.intent.booking.code.clone();
        match result {
            Ok(()) => {
                node.metrics.seats_sold(job.intent.booking.seats.len());
                let _ = job.reply.send(Ok(job.intent.booking));
            }
            Err(e) => {
                // Durable but not applied in memory: a bug. The seats are sold in the store; the
                // next start rebuilds them. Say so loudly.
                job.span.in_scope(|| {
                    tracing::error!(code = %code, error = %e, "committed sale did not apply to the seat map");
                });
                let _ = job.reply.send(Err(ErrorBody::new(
                    ErrorCode::Internal,
                    format!("sale {code} committed but not applied: {e}"),
                )));
            }
        }
    }
}

fn refuse(job: SaleJob, why: String) {
    job.span.in_scope(|| {
        tracing::error!(code = %job.intent.booking.code, why = %why, "DATABASE REFUSED A SALE AS A DOUBLE SALE; hold kept, sale refused");
    });
    unpin(&job.slot, job.intent.hold_id);
    let _ = job.reply.send(Err(ErrorBody::new(
        ErrorCode::Conflict,
        format!("sale refused by the database: {why}"),
    )));
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
