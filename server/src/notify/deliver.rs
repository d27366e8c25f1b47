//! The in-process deliverer, the embedded default (no `--amqp`): on the node that accepts
//! writes, every `notify_poll_ms` it reads the outbox rows that are due, sends each through the
//! [`Notifier`], and marks it: sent; or retried after the policy's next delay; or dead after
//! `notify_attempts_max` attempts (or at once for a permanent failure). The same retry rules as
//! the broker's TTL queues; a dead row waits for `cinebook-server notify dlq replay`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;

use super::mail::{EmlDir, Mailer, SendError, SmtpMailer};
use super::message::{OutboxMark, PendingMessage};
use super::metrics::NotifyMetrics;
use super::notifier::{channel, Notifier, SentLedger, LEDGER_ENTRIES_MAX_DEFAULT};
use super::retry::{AfterFailure, RetryPolicy};
use super::sms::{FileSms, HttpSms, SmsProvider};
use super::{now_ms, relay};
use crate::node::Node;
use crate::store::{Store, StoreError};

/// Default `notify_poll_ms`: how often the outbox is read for due rows.
pub const NOTIFY_POLL_MS_DEFAULT: u64 = 200;
/// Default `notify_batch_max`: rows read and delivered per pass.
pub const NOTIFY_BATCH_MAX_DEFAULT: usize = 100;

/// Where e-mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTarget {
    /// `--smtp URL`.
    Smtp(String),
    /// `.eml` files in this directory (default `cinebook-data/outbox-mail/`).
    EmlDir(PathBuf),
}

/// Where SMS go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsTarget {
    /// `--sms-url URL`: a JSON POST per message.
    Http(String),
    /// One JSON line per message in this file (default `cinebook-data/outbox-sms.jsonl`).
    File(PathBuf),
}

/// How notifications are delivered (`--amqp`, `--smtp`, `--notify-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// E-mail.
    pub mail: MailTarget,
    /// SMS.
    pub sms: SmsTarget,
    /// The `From:` of every e-mail.
    pub from: String,
    /// Retry delays and `notify_attempts_max`.
    pub policy: RetryPolicy,
    /// `notify_poll_ms`.
    pub poll_ms: u64,
    /// `notify_batch_max`.
    pub batch_max: usize,
    /// The sent ledger's file (`None`: memory only).
    pub ledger: Option<PathBuf>,
    /// `--amqp`: relay to RabbitMQ instead of delivering in-process.
    pub amqp: Option<relay::AmqpConfig>,
}

impl NotifyConfig {
    /// The embedded default under `data_dir`: `.eml` files, an SMS file, a ledger file.
    pub fn embedded(data_dir: &std::path::Path) -> Self {
        NotifyConfig {
            mail: MailTarget::EmlDir(data_dir.join("outbox-mail")),
            sms: SmsTarget::File(data_dir.join("outbox-sms.jsonl")),
            from: "CineBook <tickets@cinebook.local>".into(),
            policy: RetryPolicy::default(),
            poll_ms: NOTIFY_POLL_MS_DEFAULT,
            batch_max: NOTIFY_BATCH_MAX_DEFAULT,
            ledger: Some(data_dir.join("notify-sent.ledger")),
            amqp: None,
        }
    }

    /// The notifier this configuration describes.
    pub fn notifier(&self) -> Result<Notifier, String> {
        let mailer: Arc<dyn Mailer> = match &self.mail {
            MailTarget::Smtp(url) => Arc::new(SmtpMailer::new(url)?),
            MailTarget::EmlDir(dir) => Arc::new(EmlDir::new(dir)?),
        };
        let sms: Arc<dyn SmsProvider> = match &self.sms {
            SmsTarget::Http(url) => Arc::new(HttpSms::new(url)),
            SmsTarget::File(path) => Arc::new(FileSms::new(path)?),
        };
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|e| format!("--mail-from {:?}: {e}", self.from))?;
        let ledger = match &self.ledger {
            Some(path) => SentLedger::open(path, LEDGER_ENTRIES_MAX_DEFAULT)?,
            None => SentLedger::in_memory(),
        };
        Ok(Notifier {
            mailer,
            sms: Some(sms),
            from,
            ledger: Arc::new(ledger),
        })
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Rows delivered and marked sent.
    pub sent: usize,
    /// Rows that failed and wait for a retry.
    pub retried: usize,
    /// Rows parked as dead letters.
    pub dead: usize,
}

/// Runs passes until the node shuts down; only while this node accepts writes.
pub async fn run(node: Arc<Node>, config: NotifyConfig, notifier: Notifier) {
    let every = Duration::from_millis(config.poll_ms.max(1));
    loop {
        if node.accepts_writes() {
            if let Err(e) = pass(&*node.store, &notifier, &config, &node.metrics.notify).await {
                tracing::warn!(error = %e, "outbox delivery pass failed; retrying");
            }
        }
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Delivers every due row (at most `batch_max`) once.
pub async fn pass(
    store: &dyn Store,
    notifier: &Notifier,
    config: &NotifyConfig,
    metrics: &NotifyMetrics,
) -> Result<PassReport, StoreError> {
    let now = now_ms();
    let due = store.outbox_pending(now, config.batch_max.max(1)).await?;
    let mut report = PassReport::default();
    let mut marks = Vec::with_capacity(due.len());
    for row in &due {
        let mark = attempt(row, notifier, &config.policy, metrics).await;
        match &mark {
            OutboxMark::Sent { .. } => report.sent += 1,
            OutboxMark::Retry { .. } => report.retried += 1,
            OutboxMark::Dead { .. } => report.dead += 1,
        }
        marks.push((row.message.id.clone(), mark));
    }
    // One transaction for the pass; a crash before it re-sends nothing (the ledger).
    if !marks.is_empty() {
        store.outbox_mark_all(&marks).await?;
    }
    if let Ok(stats) = store.outbox_stats().await {
        let lag = stats
            .oldest_pending_at_ms
            .map_or(0, |oldest| now.saturating_sub(oldest) / 1000);
        metrics.outbox(stats.pending, lag);
    }
    Ok(report)
}

/// One delivery attempt of `row`, and what to record.
async fn attempt(
    row: &PendingMessage,
    notifier: &Notifier,
    policy: &RetryPolicy,
    metrics: &NotifyMetrics,
) -> OutboxMark {
    let failed = row.attempts.saturating_add(1);
    let outcome = match row.delivery() {
        Ok(delivery) => notifier.deliver(&delivery).await,
        Err(e) => Err(SendError {
            permanent: true,
            text: format!("the stored notice is not readable: {e}"),
        }),
    };
    match outcome {
        Ok(sent) => {
            metrics.sent(channel::EMAIL, sent.emails);
            metrics.sent(channel::SMS, sent.sms);
            metrics.duplicates(sent.duplicates);
            OutboxMark::Sent { at_ms: now_ms() }
        }
        Err(e) => failure_mark(&row.message.id, failed, e, policy, metrics),
    }
}

/// The mark for a failed attempt number `failed`.
pub fn failure_mark(
    id: &str,
    failed: u32,
    error: SendError,
    policy: &RetryPolicy,
    metrics: &NotifyMetrics,
) -> OutboxMark {
    let after = if error.permanent {
        AfterFailure::Dead
    } else {
        policy.after_failure(failed)
    };
    match after {
        AfterFailure::Retry { delay_ms, .. } => {
            tracing::warn!(id, attempt = failed, delay_ms, error = %error.text, "notification failed; will retry");
            metrics.retried();
            OutboxMark::Retry {
                attempts: failed,
                next_at_ms: now_ms().saturating_add(delay_ms),
                error: error.text,
            }
        }
        AfterFailure::Dead => {
            tracing::error!(id, attempts = failed, error = %error.text, "notification parked as a dead letter");
            metrics.dead_letter();
            OutboxMark::Dead {
                attempts: failed,
                error: error.text,
            }
        }
    }
}
