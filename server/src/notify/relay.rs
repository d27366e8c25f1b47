//! The relay (`--amqp URL`): on the node that accepts writes, outbox rows are published to
//! RabbitMQ with publisher confirms and marked sent only after the broker's ack. A crash
//! between the ack and the mark publishes the row again after the restart (at-least-once): the
//! message keeps its stable id, and the consumers' sent ledger drops the duplicate. A broker
//! outage leaves the rows pending; the relay reconnects with a growing pause and resumes from
//! the table.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use lapin::Channel;

use super::amqp::{self, Topology};
use super::message::OutboxMark;
use super::metrics::NotifyMetrics;
use super::now_ms;
use super::retry::RetryPolicy;
use crate::node::Node;
use crate::store::{Store, StoreError};

/// First pause after a broker failure, ms (doubling up to [`RELAY_BACKOFF_MS_MAX`]).
pub const RELAY_BACKOFF_MS_MIN: u64 = 100;
/// Longest pause between reconnection attempts, ms.
pub const RELAY_BACKOFF_MS_MAX: u64 = 5_000;
/// Default prefix of every exchange and queue name.
pub const AMQP_PREFIX_DEFAULT: &str = "cinebook";

/// `--amqp`: the broker and the names of what the program declares on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpConfig {
    /// `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub url: String,
    /// Prefix of every exchange and queue name (`cinebook`; tests use a unique one).
    pub prefix: String,
    /// Rows published per pass (each confirmed before any is marked).
    pub batch_max: usize,
    /// Pause between passes that found nothing, ms.
    pub poll_ms: u64,
    /// The retry delays (the topology declares one TTL queue per delay).
    pub policy: RetryPolicy,
}

/// Why a relay pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The broker failed (connection, channel, publish).
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Runs until the node shuts down, reconnecting after every broker failure.
pub async fn run(node: Arc<Node>, config: AmqpConfig) {
    let topology = Topology::new(&config.prefix, &config.policy);
    let mut backoff = RELAY_BACKOFF_MS_MIN;
    loop {
        if node.shutdown.is_cancelled() {
            return;
        }
        if node.accepts_writes() {
            match relay_connected(&node, &config, &topology).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, backoff_ms = backoff, "outbox relay interrupted; resuming from the table")
                }
            }
        }
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(backoff)) => {}
        }
        backoff = (backoff * 2).min(RELAY_BACKOFF_MS_MAX);
    }
}

/// One connection's life: passes until shutdown (`Ok`), leadership lost (`Ok` after a pause
/// is not needed: the caller loops) or a failure.
async fn relay_connected(
    node: &Arc<Node>,
    config: &AmqpConfig,
    topology: &Topology,
) -> Result<(), RelayError> {
    let (connection, channel) = amqp::open(&config.url, topology).await?;
    tracing::info!(prefix = %config.prefix, "outbox relay connected");
    let every = Duration::from_millis(config.poll_ms.max(1));
    let result = loop {
        if !node.accepts_writes() {
            break Err(RelayError::Store(StoreError::Unavailable(
                "this node stopped accepting writes".into(),
            )));
        }
        match pass(
            &*node.store,
            &channel,
            topology,
            config.batch_max,
            &node.metrics.notify,
        )
        .await
        {
            Ok(moved) if moved > 0 => continue,
            Ok(_) => {}
            Err(e) => break Err(e),
        }
        tokio::select! {
            _ = node.shutdown.cancelled() => break Ok(()),
            _ = tokio::time::sleep(every) => {}
        }
    };
    let _ = connection.close(200, "relay stopping").await;
    result
}

/// Publishes up to `batch_max` pending rows, waits for every confirm, marks the acked ones
/// sent. Returns how many were marked.
pub async fn pass(
    store: &dyn Store,
    channel: &Channel,
    topology: &Topology,
    batch_max: usize,
    metrics: &NotifyMetrics,
) -> Result<usize, RelayError> {
    let rows = store.outbox_pending(u64::MAX, batch_max.max(1)).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let exchange = topology.exchange();
    let mut bodies = Vec::with_capacity(rows.len());
    for row in &rows {
        // An unreadable payload is still published: the consumer parks it as a dead letter,
        // where an operator sees it, instead of it blocking the table.
        let body = match row.delivery() {
            Ok(delivery) => serde_json::to_vec(&delivery).unwrap_or_default(),
            Err(_) => row.message.payload.as_bytes().to_vec(),
        };
        bodies.push(body);
    }
    let publishes = rows.iter().zip(&bodies).map(|(row, body)| {
        amqp::publish_confirmed(
            channel,
            &exchange,
            row.message.kind.name(),
            body,
            amqp::properties(&row.message.id, 0, None),
        )
    });
    let confirms = join_all(publishes).await;
    let mut acked = Vec::with_capacity(rows.len());
    let mut first_error = None;
    for (row, confirm) in rows.iter().zip(confirms) {
        match confirm {
            Ok(true) => acked.push((row.message.id.clone(), OutboxMark::Sent { at_ms: now_ms() })),
            Ok(false) => tracing::warn!(id = %row.message.id, "broker nacked; will publish again"),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let marked = acked.len();
    if marked > 0 {
        store.outbox_mark_all(&acked).await?;
    }
    metrics.relayed(marked as u64);
    match first_error {
        Some(e) => Err(RelayError::Broker(e)),
        None => Ok(marked),
    }
}
