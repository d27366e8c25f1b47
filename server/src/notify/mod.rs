//! Notifications: what customers hear about their bookings, and how it reaches them.
//!
//! ```text
//! sale / refund / show change ──(same transaction)──► outbox row (store)
//!   embedded (no --amqp):  deliver.rs polls the outbox on the leader → render → e-mail (SMTP or
//!                          .eml files) and SMS; failures retried after growing delays, then
//!                          parked (`dead`) until `notify dlq replay`
//!   with --amqp:           relay.rs publishes the rows to RabbitMQ (publisher confirms) and
//!                          marks them sent after the broker's ack; `cinebook-server notify`
//!                          consumes them (consumer.rs) with TTL retry queues and a DLQ
//! ```
//!
//! - [`contact`]: the customer's e-mail and phone, checked at the edge.
//! - [`message`]: the outbox row, the [`message::Notice`] it carries, stable message ids.
//! - [`render`]: the e-mail (text, the ticket's QR code) and SMS texts; [`render::ticket_qr_text`]
//!   is the one place that decides what the QR code encodes.
//! - [`mail`], [`sms`]: the senders behind traits (SMTP and `.eml` files; HTTP and file SMS).
//! - [`retry`]: the retry rules shared by the in-process deliverer and the consumer.
//! - [`deliver`]: the in-process deliverer (the embedded default).

pub mod amqp;
pub mod consumer;
pub mod contact;
pub mod deliver;
pub mod mail;
pub mod message;
pub mod metrics;
pub mod notifier;
pub mod relay;
pub mod render;
pub mod retry;
pub mod sms;

/// Now, ms since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Starts the in-process deliverer (or, with `--amqp`, the relay) for `node`, if configured.
pub fn start(
    node: &std::sync::Arc<crate::node::Node>,
) -> Result<Option<tokio::task::JoinHandle<()>>, crate::node::StartError> {
    let Some(config) = node.config.notify.clone() else {
        return Ok(None);
    };
    if let Some(amqp) = config.amqp.clone() {
        return Ok(Some(tokio::spawn(relay::run(node.clone(), amqp))));
    }
    let notifier = config.notifier().map_err(crate::node::StartError::Notify)?;
    Ok(Some(tokio::spawn(deliver::run(
        node.clone(),
        config,
        notifier,
    ))))
}

#[cfg(test)]
mod deliver_tests;
