//! The binary's notification flags and commands: `--amqp`, `--smtp`, `--sms-url`, the retry
//! rules; `cinebook-server notify` (the consumer), `notify dlq list`, `notify dlq replay`;
//! `cinebook-server show cancel`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use cinebook_server::notify::consumer::{self, ConsumerConfig};
use cinebook_server::notify::deliver::{MailTarget, NotifyConfig, SmsTarget};
use cinebook_server::notify::relay::{AmqpConfig, AMQP_PREFIX_DEFAULT};
use cinebook_server::notify::retry::{RetryPolicy, NOTIFY_ATTEMPTS_MAX_DEFAULT};
use cinebook_server::notify::{amqp::Topology, metrics::NotifyMetrics};
use cinebook_server::store::Store;
use clap::{Args, Subcommand};

/// Most dead letters `notify dlq list` prints.
const DLQ_LIST_MAX: usize = 1_000;

/// Notification flags (of `run` and of `notify`).
#[derive(Debug, Clone, Args)]
pub struct NotifyArgs {
    /// RabbitMQ: the leader relays the outbox there, `notify` consumes from it, e.g.
    /// amqp://guest:guest@127.0.0.1:5672/%2f. Without it the node delivers in-process.
    #[arg(long, env = "CINEBOOK_AMQP", value_name = "URL")]
    pub amqp: Option<String>,
    /// Prefix of every exchange and queue the program declares.
    #[arg(long, env = "CINEBOOK_AMQP_PREFIX", default_value = AMQP_PREFIX_DEFAULT)]
    pub amqp_prefix: String,
    /// SMTP server for e-mail, e.g. smtp://127.0.0.1:2525. Without it e-mails are written as
    /// .eml files under <data-dir>/outbox-mail/.
    #[arg(long, env = "CINEBOOK_SMTP", value_name = "URL")]
    pub smtp: Option<String>,
    /// SMS provider endpoint: each SMS is POSTed there as JSON {"id","to","text"}. Without it
    /// SMS are appended to <data-dir>/outbox-sms.jsonl.
    #[arg(long, env = "CINEBOOK_SMS_URL", value_name = "URL")]
    pub sms_url: Option<String>,
    /// The From: of every e-mail.
    #[arg(
        long,
        env = "CINEBOOK_MAIL_FROM",
        default_value = "CineBook <tickets@cinebook.local>"
    )]
    pub mail_from: String,
    /// Delays before each retry of a failed notification, ms, comma-separated (the last one
    /// repeats); each is one TTL queue on the broker.
    #[arg(
        long,
        env = "CINEBOOK_NOTIFY_RETRY_MS",
        default_value = "10000,60000,600000"
    )]
    pub notify_retry_ms: String,
    /// Attempts before a notification is parked in the dead-letter queue.
    #[arg(long, env = "CINEBOOK_NOTIFY_ATTEMPTS_MAX", default_value_t = NOTIFY_ATTEMPTS_MAX_DEFAULT)]
    pub notify_attempts_max: u32,
    /// Send no notifications at all (the outbox still records them).
    #[arg(long, env = "CINEBOOK_NO_NOTIFY")]
    pub no_notify: bool,
}

impl NotifyArgs {
    fn policy(&self) -> Result<RetryPolicy> {
        RetryPolicy::parse(&self.notify_retry_ms, self.notify_attempts_max)
            .map_err(anyhow::Error::msg)
            .context("--notify-retry-ms / --notify-attempts-max")
    }

    /// The node's notification configuration (`None` with --no-notify).
    pub fn config(&self, data_dir: &Path) -> Result<Option<NotifyConfig>> {
        if self.no_notify {
            return Ok(None);
        }
        let mut config = NotifyConfig::embedded(data_dir);
        config.policy = self.policy()?;
        config.from = self.mail_from.clone();
        if let Some(url) = &self.smtp {
            config.mail = MailTarget::Smtp(url.clone());
        }
        if let Some(url) = &self.sms_url {
            config.sms = SmsTarget::Http(url.clone());
        }
        config.amqp = self.amqp.as_ref().map(|url| AmqpConfig {
            url: url.clone(),
            prefix: self.amqp_prefix.clone(),
            batch_max: config.batch_max,
            poll_ms: config.poll_ms,
            policy: config.policy.clone(),
        });
        // Fail at start, not at the first message.
        config.notifier().map_err(anyhow::Error::msg)?;
        Ok(Some(config))
    }

    fn topology(&self) -> Result<Topology> {
        Ok(Topology::new(&self.amqp_prefix, &self.policy()?))
    }
}

/// `cinebook-server notify …`.
#[derive(Debug, Subcommand)]
pub enum NotifyAction {
    /// The dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqAction),
}

/// `notify dlq …`.
#[derive(Debug, Subcommand)]
pub enum DlqAction {
    /// Print the parked notifications (one JSON object a line), leaving them parked.
    List,
    /// Send parked notifications again (all of them without IDs), attempts reset.
    Replay {
        /// Message ids, as `list` prints them.
        ids: Vec<String>,
    },
}

/// `notify` without an action runs the consumer (with --amqp); with `dlq` it lists or replays
/// the broker's dead-letter queue (with --amqp) or the embedded outbox's dead rows.
pub async fn notify(
    args: &NotifyArgs,
    action: Option<NotifyAction>,
    store: impl std::future::Future<Output = Result<std::sync::Arc<dyn Store>>>,
    data_dir: &Path,
) -> Result<()> {
    match (action, &args.amqp) {
        (None, None) => bail!(
            "`notify` consumes from RabbitMQ: give --amqp URL (without it the node itself \
             delivers notifications)"
        ),
        (None, Some(url)) => {
            let Some(config) = args.config(data_dir)? else {
                bail!("--no-notify: nothing to consume");
            };
            let notifier = config.notifier().map_err(anyhow::Error::msg)?;
            let consumer = ConsumerConfig {
                url: url.clone(),
                topology: args.topology()?,
                policy: config.policy.clone(),
            };
            let stop = tokio_util::sync::CancellationToken::new();
            let on_signal = stop.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                on_signal.cancel();
            });
            println!(
                "cinebook-server notify: consuming {}",
                consumer.topology.send_queue()
            );
            consumer::run(&consumer, &notifier, &NotifyMetrics::default(), &stop).await;
            Ok(())
        }
        (Some(NotifyAction::Dlq(DlqAction::List)), Some(url)) => {
            for letter in consumer::dlq_list(url, &args.topology()?, DLQ_LIST_MAX).await? {
                println!("{}", serde_json::to_string(&letter)?);
            }
            Ok(())
        }
        (Some(NotifyAction::Dlq(DlqAction::Replay { ids })), Some(url)) => {
            let replayed = consumer::dlq_replay(url, &args.topology()?, &ids).await?;
            println!(
                "replayed {} notification(s): {}",
                replayed.len(),
                replayed.join(" ")
            );
            Ok(())
        }
        (Some(NotifyAction::Dlq(DlqAction::List)), None) => {
            let store = store.await?;
            for row in store.outbox_dead(DLQ_LIST_MAX).await? {
                let line = serde_json::json!({
                    "id": row.message.id,
                    "attempts": row.attempts,
                    "error": row.last_error,
                    "kind": row.message.kind.name(),
                    "code": row.message.code,
                });
                println!("{line}");
            }
            Ok(())
        }
        (Some(NotifyAction::Dlq(DlqAction::Replay { ids })), None) => {
            let store = store.await?;
            let replayed = store.outbox_replay(&ids).await?;
            println!("replayed {replayed} notification(s); the running node delivers them");
            Ok(())
        }
    }
}
