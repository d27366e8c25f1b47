//! The broker topology, declared (durable, idempotently) by the relay and by the consumers:
//!
//! | name | what |
//! | --- | --- |
//! | `<prefix>.notify` | topic exchange the relay publishes to (routing key: the notice kind) |
//! | `<prefix>.notify.send` | queue bound to it with `#`: what the consumers take |
//! | `<prefix>.notify.retry` | direct exchange of failed messages (routing key `retry.<step>`) |
//! | `<prefix>.notify.retry.<step>` | one queue per retry delay: `x-message-ttl` = the delay, dead-lettered back to `<prefix>.notify` |
//! | `<prefix>.notify.dead` | the dead-letter queue: messages that failed `notify_attempts_max` times |

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

use super::retry::RetryPolicy;

/// The header counting failed attempts of a message.
pub const ATTEMPTS_HEADER: &str = "x-cinebook-attempts";
/// The header carrying a message's last failure.
pub const ERROR_HEADER: &str = "x-cinebook-error";
/// Routing key messages re-enter the main exchange with after a retry delay.
pub const RETRY_ROUTING_KEY: &str = "notice.retry";

/// Names of everything on the broker, from a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Prefix of every name.
    pub prefix: String,
    /// Retry delays (one TTL queue each).
    pub delays_ms: Vec<u64>,
}

impl Topology {
    /// The topology for `prefix` and `policy`'s delays.
    pub fn new(prefix: &str, policy: &RetryPolicy) -> Self {
        Topology {
            prefix: prefix.to_owned(),
            delays_ms: policy.delays_ms.clone(),
        }
    }

    /// The main exchange.
    pub fn exchange(&self) -> String {
        format!("{}.notify", self.prefix)
    }

    /// The queue consumers take from.
    pub fn send_queue(&self) -> String {
        format!("{}.notify.send", self.prefix)
    }

    /// The retry exchange.
    pub fn retry_exchange(&self) -> String {
        format!("{}.notify.retry", self.prefix)
    }

    /// The TTL queue of retry step `step`.
    pub fn retry_queue(&self, step: usize) -> String {
        format!("{}.notify.retry.{step}", self.prefix)
    }

    /// The routing key to the TTL queue of `step`.
    pub fn retry_key(step: usize) -> String {
        format!("retry.{step}")
    }

    /// The dead-letter queue.
    pub fn dead_queue(&self) -> String {
        format!("{}.notify.dead", self.prefix)
    }

    /// Declares everything (durable; a second declaration with the same arguments is a no-op).
    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let queue = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let none = FieldTable::default;
        channel
            .exchange_declare(&self.exchange(), ExchangeKind::Topic, durable, none())
            .await?;
        channel
            .exchange_declare(
                &self.retry_exchange(),
                ExchangeKind::Direct,
                durable,
                none(),
            )
            .await?;
        channel
            .queue_declare(&self.send_queue(), queue, none())
            .await?;
        channel
            .queue_bind(
                &self.send_queue(),
                &self.exchange(),
                "#",
                QueueBindOptions::default(),
                none(),
            )
            .await?;
        for (step, delay) in self.delays_ms.iter().enumerate() {
            let mut args = FieldTable::default();
            args.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(*delay as i64),
            );
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(LongString::from(self.exchange())),
            );
            args.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(LongString::from(RETRY_ROUTING_KEY)),
            );
            channel
                .queue_declare(&self.retry_queue(step), queue, args)
                .await?;
            channel
                .queue_bind(
                    &self.retry_queue(step),
                    &self.retry_exchange(),
                    &Self::retry_key(step),
                    QueueBindOptions::default(),
                    none(),
                )
                .await?;
        }
        channel
            .queue_declare(&self.dead_queue(), queue, none())
            .await?;
        Ok(())
    }
}

/// A connection and a channel in confirm mode, with the topology declared.
pub async fn open(url: &str, topology: &Topology) -> Result<(Connection, Channel), lapin::Error> {
    let connection = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    topology.declare(&channel).await?;
    Ok((connection, channel))
}

/// Properties of a notification message: persistent, JSON, its stable id, its attempts.
pub fn properties(id: &str, attempts: u32, error: Option<&str>) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(ATTEMPTS_HEADER.into(), AMQPValue::LongUInt(attempts));
    if let Some(error) = error {
        headers.insert(
            ERROR_HEADER.into(),
            AMQPValue::LongString(LongString::from(error)),
        );
    }
    BasicProperties::default()
        .with_message_id(ShortString::from(id))
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("application/json"))
        .with_headers(headers)
}

/// The attempts a message's headers count (0 without the header).
pub fn attempts_of(properties: &BasicProperties) -> u32 {
    header(properties, ATTEMPTS_HEADER)
        .and_then(|v| match v {
            AMQPValue::LongUInt(n) => Some(*n),
            AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
            AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
            _ => None,
        })
        .unwrap_or(0)
}

/// The last failure a message's headers carry.
pub fn error_of(properties: &BasicProperties) -> Option<String> {
    match header(properties, ERROR_HEADER)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        _ => None,
    }
}

fn header<'a>(properties: &'a BasicProperties, name: &str) -> Option<&'a AMQPValue> {
    properties
        .headers()
        .as_ref()?
        .inner()
        .get(&ShortString::from(name))
}

/// Publishes and waits for the broker's confirm; `Ok(false)` for a nack.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
) -> Result<bool, lapin::Error> {
    let confirm = channel
        .basic_publish(
            exchange,
            routing_key,
            BasicPublishOptions::default(),
            body,
            properties,
        )
        .await?
        .await?;
    Ok(matches!(confirm, Confirmation::Ack(_)))
}
