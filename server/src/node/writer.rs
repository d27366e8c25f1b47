//! The group-commit writer.
//!
//! Sales queue here after their hold was pinned. The writer takes everything queued, up to
//! `writer_batch_max`, commits it in one transaction, and only then turns each sale's seats sold
//! and answers it. While batches commit (up to `writer_batches_in_flight_max` at once) the next
//! one fills, so throughput grows with concurrency.
//!
//! Every sale of a batch gets exactly one of the store's outcomes, and the show core hears the
//! definite ones: committed → sold; refused or not committed → its hold is unpinned (seats stay
//! held) and the confirm gets a typed error; **unknown** (no answer to `COMMIT`) → nothing is
//! changed, the hold stays pinned, the confirm gets `OutcomeUnknown`, and the resolver reads the
//! store until it knows ([`super::resolver`]). A booking code another show already uses is
//! re-coded and the sale queued again.

use std::sync::Arc;
use std::time::Instant;

use cinebook_protocol::{ErrorBody, ErrorCode};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::outcomes::SaleTicket;
use super::{Node, ShowSlot};
use crate::domain::{SaleIntent, SaleRequest, SaleResult, ShowInput};
use crate::notify::message::{self, NoticeKind, OutboxMessage};
use crate::store::{SaleConflict, SaleOutcome, SaleRecord};
use cinebook_protocol::types::Contact;

/// One sale waiting for the database.
#[derive(Debug)]
pub struct SaleJob {
    /// The show.
    pub slot: Arc<ShowSlot>,
    /// What to write.
    pub intent: SaleIntent,
    /// The duty to settle it; every waiting confirm hears the answer through it.
    pub ticket: SaleTicket,
    /// Booking codes tried so far for this sale (a code another show uses is replaced).
    pub codes_tried: u32,
    /// The confirm's `request` span: the writer logs about this sale inside it, so its lines
    /// carry the request id.
    pub span: tracing::Span,
    /// The customer's contact (stored on the booking; the sale is announced to it).
    pub contact: Contact,
}

/// Booking codes a sale tries before it gives up (each collision is a 1-in-10^16 event).
pub const SALE_CODES_MAX: u32 = 4;

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
    let catalog = node.catalog();
    let records: Vec<SaleRecord> = batch
        .iter()
        .map(|job| SaleRecord {
            booking: job.intent.booking.clone(),
            idempotency_key: job.intent.idempotency_key.clone(),
            hold_id: Some(job.intent.hold_id),
            contact: job.contact.clone(),
            outbox: announcement(node, &catalog, job),
        })
        .collect();
    let started = Instant::now();
    #[cfg(feature = "fault-injection")]
    node.faults.hit(super::faults::FaultPoint::WriterCommit);
    let outcomes = commit_records(node, &records).await;
    node.metrics.batch_committed(batch.len(), started.elapsed());
    #[cfg(feature = "fault-injection")]
    node.faults
        .hit(super::faults::FaultPoint::WriterAfterCommit);
    assert_eq!(outcomes.len(), batch.len(), "one outcome per sale");
    let mut committed = Vec::with_capacity(batch.len());
    if outcomes.iter().any(SaleOutcome::is_fenced) {
        tracing::warn!("fenced: another node leads");
        if let Some(cluster) = &node.cluster {
            cluster.notify(crate::cluster::ClusterEvent::Fenced);
        }
    }
    for (job, outcome) in batch.into_iter().zip(outcomes) {
        node.metrics.sale_outcome(outcome_name(&outcome));
        match settlement(outcome, job.codes_tried) {
            Settlement::Sell => committed.push(job),
            Settlement::Resolve(why) => {
                job.span.in_scope(|| {
                    tracing::warn!(code = %job.intent.booking.code, why = %why, "sale outcome unknown; hold stays pinned, resolving from the store");
                });
                tokio::spawn(super::resolver::resolve(
                    node.clone(),
                    job.slot,
                    job.intent,
                    job.ticket,
                ));
            }
            Settlement::Recode => recode(node, job).await,
            Settlement::Refuse(error) => refuse(node, job, error).await,
        }
    }
    finish(node, committed).await;
}

/// The outbox row announcing a sale to its customer; none without a contact (nobody to tell,
/// and no row to write in the sale's transaction).
fn announcement(
    node: &Node,
    catalog: &super::catalog::Catalog,
    job: &SaleJob,
) -> Vec<OutboxMessage> {
    if job.contact.is_empty() {
        return Vec::new();
    }
    let booking = &job.intent.booking;
    let details = message::Details {
        seats: message::labels(booking),
        amount: booking.total.to_string(),
        ticket: super::door::signed_ticket(node, catalog, booking),
        ..Default::default()
    };
    vec![message::build(
        catalog,
        NoticeKind::BookingConfirmed,
        booking,
        details,
        booking.sold_at_ms,
    )]
}

/// What the node does with one sale after the store answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Committed: sell the seats, answer the booking.
    Sell,
    /// Definitely not committed: unpin the hold, answer this error.
    Refuse(ErrorBody),
    /// The booking code is another show's: unpin, pin with a fresh code, queue again.
    Recode,
    /// Unknown: keep the hold pinned, answer `OutcomeUnknown`, read the store until it knows.
    Resolve(String),
}

/// The one mapping from a store outcome to what the node does (the deterministic simulation
/// drives it too). `codes_tried` counts the booking codes this sale has used.
pub fn settlement(outcome: SaleOutcome, codes_tried: u32) -> Settlement {
    match outcome {
        SaleOutcome::Committed => Settlement::Sell,
        SaleOutcome::Unknown(why) => Settlement::Resolve(why),
        SaleOutcome::Conflict(SaleConflict::CodeTaken) if codes_tried < SALE_CODES_MAX => {
            Settlement::Recode
        }
        SaleOutcome::Conflict(conflict) => Settlement::Refuse(conflict_error(conflict)),
        SaleOutcome::NotCommitted(why) => Settlement::Refuse(ErrorBody::new(
            ErrorCode::Unavailable,
            format!("the sale was not committed ({why}); retry with the same key"),
        )),
    }
}

fn outcome_name(outcome: &SaleOutcome) -> &'static str {
    match outcome {
        SaleOutcome::Committed => "committed",
        SaleOutcome::Conflict(_) => "conflict",
        SaleOutcome::NotCommitted(_) => "not_committed",
        SaleOutcome::Unknown(_) => "unknown",
    }
}

/// The store's outcomes for `records`; a store that does not answer within the node's store
/// timeout leaves every sale unknown (its COMMIT may be on its way).
async fn commit_records(node: &Arc<Node>, records: &[SaleRecord]) -> Vec<SaleOutcome> {
    let limit = std::time::Duration::from_millis(node.config.store_timeout_ms);
    match tokio::time::timeout(limit, node.store.commit_sales(records)).await {
        Ok(outcomes) => outcomes,
        Err(_) => records
            .iter()
            .map(|_| {
                SaleOutcome::Unknown(format!(
                    "the store did not answer within store_timeout_ms = {}",
                    node.config.store_timeout_ms
                ))
            })
            .collect(),
    }
}

/// The wire error for a sale the database refused.
fn conflict_error(conflict: SaleConflict) -> ErrorBody {
    match conflict {
        SaleConflict::SeatTaken(why) => {
            tracing::error!(why = %why, "DATABASE REFUSED A SALE AS A DOUBLE SALE; memory disagreed with the store");
            ErrorBody::new(
                ErrorCode::Conflict,
                format!("sale refused by the database: {why}"),
            )
        }
        SaleConflict::KeyTaken { existing_code } => ErrorBody::new(
            ErrorCode::Conflict,
            format!("this idempotency key already confirmed booking {existing_code}"),
        ),
        SaleConflict::CodeTaken => ErrorBody::new(
            ErrorCode::Internal,
            "no free booking code was found; retry with the same key",
        ),
        SaleConflict::Invalid(why) => ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!("the database refused the sale: {why}"),
        ),
    }
}

/// Unpins a refused sale's hold and answers its confirm with `error`.
async fn refuse(node: &Arc<Node>, job: SaleJob, error: ErrorBody) {
    job.span.in_scope(|| {
        tracing::info!(
            code = error.code.name(),
            hold_id = job.intent.hold_id,
            "sale not committed; hold kept"
        );
    });
    let unpinned = super::resolver::settle(node, &job.slot, &job.intent, SaleResult::Failed).await;
    // `settle` answers a failed sale with a generic error; the confirm gets the precise one,
    // unless unpinning itself went wrong.
    let answer = match unpinned {
        Err(e) if e.code == ErrorCode::Internal => Err(e),
        _ => Err(error),
    };
    job.ticket.settle(answer);
}

/// The database refused the booking code (another show's booking has it): unpin, pin again with a
/// fresh code, and queue the sale again.
async fn recode(node: &Arc<Node>, job: SaleJob) {
    let SaleJob {
        slot,
        intent,
        ticket,
        codes_tried,
        span,
        contact,
    } = job;
    let unpinned = super::resolver::settle(node, &slot, &intent, SaleResult::Failed).await;
    if let Some(e) = unpinned.err().filter(|e| e.code == ErrorCode::Internal) {
        ticket.settle(Err(e));
        return;
    }
    let request = SaleRequest {
        hold_id: intent.hold_id,
        terminal_id: intent.booking.terminal_id,
        payment: intent.booking.payment.clone(),
        idempotency_key: intent.idempotency_key.clone(),
        code_seed: rand::random(),
        // The window was open when the sale began; a fresh code must not lose it now.
        sales_close_at_ms: crate::domain::SALES_NEVER_CLOSE,
        node_id: intent.booking.node_id,
    };
    let begun = node
        .run_input(slot.clone(), ShowInput::BeginSale(request))
        .await
        .and_then(|r| r.map_err(|e| e.to_wire()));
    let intent = match begun.map(|out| out.sale) {
        Ok(Some(intent)) => intent,
        Ok(None) => {
            ticket.settle(Err(ErrorBody::new(
                ErrorCode::Internal,
                "a begun sale has no intent",
            )));
            return;
        }
        Err(e) => {
            ticket.settle(Err(e));
            return;
        }
    };
    let job = SaleJob {
        slot,
        intent,
        ticket,
        codes_tried: codes_tried + 1,
        span,
        contact,
    };
    if let Err(e) = node.sales.try_send(job) {
        let job = match e {
            mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => job,
        };
        let error = ErrorBody::new(
            ErrorCode::Overloaded,
            "too many sales waiting; retry with the same key",
        );
        refuse(node, job, error).await;
    }
}

/// Turns committed sales sold, one show at a time in parallel, then answers them.
async fn finish(node: &Arc<Node>, committed: Vec<SaleJob>) {
    let mut by_show: std::collections::HashMap<u64, Vec<SaleJob>> = Default::default();
    for job in committed {
        by_show.entry(job.slot.show_id).or_default().push(job);
    }
    let shows = by_show.into_values().map(|jobs| finish_show(node, jobs));
    futures::future::join_all(shows).await;
}

/// Sells one show's committed sales with one input, then answers each.
async fn finish_show(node: &Arc<Node>, jobs: Vec<SaleJob>) {
    let Some(slot) = jobs.first().map(|j| j.slot.clone()) else {
        return;
    };
    let input = ShowInput::Committed(jobs.iter().map(|j| j.intent.hold_id).collect());
    // Through the worker pool, not inline: a show's subscribers then get the `Sold` push before
    // the seller gets its booking (1,000 forwarders woken from this task would be queued behind
    // it; the fanout p50 went from 0 to 20 ms). One hop per show per batch, not per sale.
    let applied = match node.submit(slot.clone(), input.clone()).await {
        Ok(applied) => applied,
        Err(queue) => {
            // Durable already: apply without the queue rather than leave memory behind.
            tracing::debug!(error = %queue, "committed sales applied outside the work queue");
            let (node, slot) = (node.clone(), slot.clone());
            tokio::task::spawn_blocking(move || node.apply_input(&slot, input))
                .await
                .unwrap_or_else(|_| {
                    Err(crate::domain::DomainError::BadEvent(
                        "applying committed sales panicked".into(),
                    ))
                })
        }
    };
    let sold = match applied {
        Ok(output) => output.sold,
        Err(e) => jobs
            .iter()
            .map(|j| (j.intent.hold_id, Some(e.clone())))
            .collect(),
    };
    assert_eq!(sold.len(), jobs.len(), "one result per committed sale");
    for (job, (_, failure)) in jobs.into_iter().zip(sold) {
        match failure {
            None => {
                node.metrics.seats_sold(job.intent.booking.seats.len());
                let booking = job.intent.booking.clone();
                job.ticket.settle(Ok(booking));
            }
            Some(e) => {
                // Durable but not applied in memory: a bug. The pin stays; the ticket is
                // orphaned, so the pin audit settles it from the store.
                job.span.in_scope(|| {
                    tracing::error!(code = %job.intent.booking.code, error = %e, "committed sale did not apply to the seat map");
                });
                drop(job.ticket);
            }
        }
    }
}
