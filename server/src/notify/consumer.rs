//! The consumers (`cinebook-server notify --amqp URL`): take messages from
//! `<prefix>.notify.send`, send them through the [`Notifier`] (idempotent by message id: the
//! sent ledger), and on failure republish them to the TTL queue of the next retry delay (they
//! come back after it) or, after `notify_attempts_max` attempts, to the dead-letter queue. A
//! message is acknowledged only after it was sent or its retry/dead copy was confirmed by the
//! broker, so nothing is lost when the consumer dies part-way (at most sent twice, and the
//! ledger stops that too). [`dlq_list`] and [`dlq_replay`] are the operator's tools.

use std::time::Duration;

use futures::StreamExt;
use lapin::message::BasicGetMessage;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::amqp::{self, Topology, RETRY_ROUTING_KEY};
use super::deliver::failure_mark;
use super::mail::SendError;
use super::message::{Delivery, OutboxMark};
use super::metrics::NotifyMetrics;
use super::notifier::{channel as chan, Notifier};
use super::retry::{AfterFailure, RetryPolicy};

/// Messages a consumer holds unacknowledged at once (`basic.qos` prefetch).
pub const CONSUMER_PREFETCH: u16 = 16;
/// Most dead letters one `dlq list` or `dlq replay` looks at.
pub const DLQ_SCAN_MAX: usize = 10_000;
/// Pause before reconnecting after a broker failure, ms.
pub const CONSUMER_RECONNECT_MS: u64 = 500;

/// What a consumer needs.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Broker URL.
    pub url: String,
    /// Names on the broker.
    pub topology: Topology,
    /// Retry rules (the delays are the TTL queues').
    pub policy: RetryPolicy,
}

/// Consumes until `stop` is cancelled, reconnecting after broker failures.
pub async fn run(
    config: &ConsumerConfig,
    notifier: &Notifier,
    metrics: &NotifyMetrics,
    stop: &CancellationToken,
) {
    while !stop.is_cancelled() {
        match consume(config, notifier, metrics, stop).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "notify consumer lost the broker; reconnecting"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(CONSUMER_RECONNECT_MS)) => {}
        }
    }
}

async fn consume(
    config: &ConsumerConfig,
    notifier: &Notifier,
    metrics: &NotifyMetrics,
    stop: &CancellationToken,
) -> Result<(), lapin::Error> {
    let (connection, channel) = amqp::open(&config.url, &config.topology).await?;
    channel
        .basic_qos(CONSUMER_PREFETCH, BasicQosOptions::default())
        .await?;
    let mut deliveries = channel
        .basic_consume(
            &config.topology.send_queue(),
            "cinebook-notify",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = %config.topology.send_queue(), "notify consumer started");
    let result = loop {
        let next = tokio::select! {
            _ = stop.cancelled() => break Ok(()),
            next = deliveries.next() => next,
        };
        let delivery = match next {
            Some(Ok(delivery)) => delivery,
            Some(Err(e)) => break Err(e),
            None => {
                break Err(lapin::Error::InvalidChannelState(
                    lapin::ChannelState::Closed,
                ))
            }
        };
        let outcome = handle(
            config,
            notifier,
            metrics,
            &channel,
            &delivery.data,
            &delivery.properties,
        )
        .await;
        let acked = match outcome {
            Ok(()) => delivery.ack(BasicAckOptions::default()).await,
            Err(e) => {
                tracing::warn!(error = %e, "could not settle a notification; it is requeued");
                delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await
            }
        };
        if let Err(e) = acked {
            break Err(e);
        }
    };
    let _ = connection.close(200, "consumer stopping").await;
    result
}

/// Sends one message, or republishes it to its retry queue or the dead-letter queue. `Err`
/// only when that republish failed (the message is then requeued as it was).
async fn handle(
    config: &ConsumerConfig,
    notifier: &Notifier,
    metrics: &NotifyMetrics,
    channel: &Channel,
    body: &[u8],
    properties: &BasicProperties,
) -> Result<(), lapin::Error> {
    let id = properties
        .message_id()
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    let failed = amqp::attempts_of(properties).saturating_add(1);
    let outcome = match serde_json::from_slice::<Delivery>(body) {
        Ok(delivery) => notifier.deliver(&delivery).await,
        Err(e) => Err(SendError {
            permanent: true,
            text: format!("not a notification: {e}"),
        }),
    };
    let error = match outcome {
        Ok(sent) => {
            metrics.sent(chan::EMAIL, sent.emails);
            metrics.sent(chan::SMS, sent.sms);
            metrics.duplicates(sent.duplicates);
            return Ok(());
        }
        Err(error) => error,
    };
    let permanent = error.permanent;
    let mark = failure_mark(&id, failed, error, &config.policy, metrics);
    let topology = &config.topology;
    let (exchange, key, text) = match (&mark, permanent) {
        (OutboxMark::Retry { error, .. }, false) => {
            let step = match config.policy.after_failure(failed) {
                AfterFailure::Retry { step, .. } => step,
                AfterFailure::Dead => 0,
            };
            (
                topology.retry_exchange(),
                Topology::retry_key(step),
                error.clone(),
            )
        }
        (OutboxMark::Dead { error, .. }, _) | (OutboxMark::Retry { error, .. }, true) => {
            (String::new(), topology.dead_queue(), error.clone())
        }
        (OutboxMark::Sent { .. }, _) => return Ok(()),
    };
    let properties = amqp::properties(&id, failed, Some(&text));
    if amqp::publish_confirmed(channel, &exchange, &key, body, properties).await? {
        Ok(())
    } else {
        Err(lapin::Error::InvalidChannelState(
            lapin::ChannelState::Error,
        ))
    }
}

/// One parked message, as `notify dlq list` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// Stable message id.
    pub id: String,
    /// Failed attempts.
    pub attempts: u32,
    /// The last failure.
    pub error: Option<String>,
    /// The notification, if readable.
    pub delivery: Option<Delivery>,
}

fn dead_letter(message: &BasicGetMessage) -> DeadLetter {
    let properties = &message.delivery.properties;
    DeadLetter {
        id: properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        attempts: amqp::attempts_of(properties),
        error: amqp::error_of(properties),
        delivery: serde_json::from_slice(&message.delivery.data).ok(),
    }
}

/// Takes up to `limit` messages off the dead-letter queue without acknowledging them.
async fn take_dead(
    channel: &Channel,
    topology: &Topology,
    limit: usize,
) -> Result<Vec<BasicGetMessage>, lapin::Error> {
    let mut taken = Vec::new();
    while taken.len() < limit.min(DLQ_SCAN_MAX) {
        match channel
            .basic_get(&topology.dead_queue(), BasicGetOptions { no_ack: false })
            .await?
        {
            Some(message) => taken.push(message),
            None => break,
        }
    }
    Ok(taken)
}

/// The dead letters (at most `limit`), left in the queue.
pub async fn dlq_list(
    url: &str,
    topology: &Topology,
    limit: usize,
) -> Result<Vec<DeadLetter>, lapin::Error> {
    let (connection, channel) = amqp::open(url, topology).await?;
    let taken = take_dead(&channel, topology, limit).await?;
    let letters = taken.iter().map(dead_letter).collect();
    // Closing without acknowledging puts every message back.
    channel.close(200, "listed").await?;
    let _ = connection.close(200, "listed").await;
    Ok(letters)
}

/// Sends the dead letters `ids` (all when empty) back to be delivered, with their attempts
/// reset; returns their ids. The others stay parked.
pub async fn dlq_replay(
    url: &str,
    topology: &Topology,
    ids: &[String],
) -> Result<Vec<String>, lapin::Error> {
    let (connection, channel) = amqp::open(url, topology).await?;
    let taken = take_dead(&channel, topology, DLQ_SCAN_MAX).await?;
    let mut replayed = Vec::new();
    for message in &taken {
        let letter = dead_letter(message);
        if !ids.is_empty() && !ids.contains(&letter.id) {
            continue;
        }
        let properties = amqp::properties(&letter.id, 0, None);
        let body = &message.delivery.data;
        if amqp::publish_confirmed(
            &channel,
            &topology.exchange(),
            RETRY_ROUTING_KEY,
            body,
            properties,
        )
        .await?
        {
            channel
                .basic_ack(message.delivery.delivery_tag, BasicAckOptions::default())
                .await?;
            replayed.push(letter.id);
        }
    }
    channel.close(200, "replayed").await?;
    let _ = connection.close(200, "replayed").await;
    Ok(replayed)
}
