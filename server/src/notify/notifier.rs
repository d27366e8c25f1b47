//! Sending one [`Delivery`] on every channel its contact names, each channel at most once per
//! message id: the [`SentLedger`] remembers what was sent, so a redelivered message (a relay
//! retried after a crash, a broker redelivery, a retry after only the SMS failed) sends nothing
//! twice.

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lettre::message::Mailbox;
use parking_lot::Mutex;

use super::mail::{Mailer, SendError};
use super::message::Delivery;
use super::render;
use super::sms::SmsProvider;

/// Default most entries the ledger keeps in memory (the oldest are forgotten first).
pub const LEDGER_ENTRIES_MAX_DEFAULT: usize = 1_000_000;

/// Which (message id, channel) pairs were sent: in memory, and appended to a file so a restart
/// remembers them.
#[derive(Debug)]
pub struct SentLedger {
    file: Option<PathBuf>,
    entries_max: usize,
    sent: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl SentLedger {
    /// A ledger kept in memory only (tests).
    pub fn in_memory() -> Self {
        SentLedger {
            file: None,
            entries_max: LEDGER_ENTRIES_MAX_DEFAULT,
            sent: Mutex::new(Default::default()),
        }
    }

    /// A ledger backed by `path` (one `id channel` line each), loaded now.
    pub fn open(path: &Path, entries_max: usize) -> Result<Self, String> {
        if let Some(dir) = path.parent() {
            crate::store::private::private_dir(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let ledger = SentLedger {
            file: Some(path.to_path_buf()),
            entries_max: entries_max.max(1),
            sent: Mutex::new(Default::default()),
        };
        if let Ok(file) = std::fs::File::open(path) {
            for line in std::io::BufReader::new(file).lines() {
                let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
                ledger.remember(line.trim().to_owned());
            }
        }
        Ok(ledger)
    }

    fn key(id: &str, channel: &str) -> String {
        format!("{id} {channel}")
    }

    fn remember(&self, key: String) {
        let mut sent = self.sent.lock();
        if sent.0.insert(key.clone()) {
            sent.1.push_back(key);
        }
        while sent.1.len() > self.entries_max {
            if let Some(old) = sent.1.pop_front() {
                sent.0.remove(&old);
            }
        }
    }

    /// Whether `channel` of message `id` was sent.
    pub fn was_sent(&self, id: &str, channel: &str) -> bool {
        self.sent.lock().0.contains(&Self::key(id, channel))
    }

    /// Records that `channel` of message `id` was sent.
    pub fn record(&self, id: &str, channel: &str) -> Result<(), SendError> {
        let key = Self::key(id, channel);
        if let Some(path) = &self.file {
            let mut file = crate::store::private::append_private(path)
                .map_err(|e| SendError::transient(format!("ledger: {e}")))?;
            writeln!(file, "{key}")
                .and_then(|_| file.sync_data())
                .map_err(|e| SendError::transient(format!("ledger: {e}")))?;
        }
        self.remember(key);
        Ok(())
    }

    /// Entries remembered.
    pub fn len(&self) -> usize {
        self.sent.lock().1.len()
    }

    /// Whether nothing was sent yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The channels a delivery goes out on.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// E-mail.
    pub mailer: Arc<dyn Mailer>,
    /// SMS, if configured (a phone without it is skipped with a warning).
    pub sms: Option<Arc<dyn SmsProvider>>,
    /// The `From:` of every e-mail.
    pub from: Mailbox,
    /// What was sent.
    pub ledger: Arc<SentLedger>,
}

/// The channel names in the ledger and the metrics.
pub mod channel {
    /// E-mail.
    pub const EMAIL: &str = "email";
    /// SMS.
    pub const SMS: &str = "sms";
}

/// What one delivery sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// E-mails sent now.
    pub emails: u32,
    /// SMS sent now.
    pub sms: u32,
    /// Channels skipped because the ledger had them (duplicates).
    pub duplicates: u32,
}

impl Notifier {
    /// Sends `delivery` on each channel not sent before; the first failure stops it (the
    /// channels already sent are in the ledger, so a retry sends only the rest).
    pub async fn deliver(&self, delivery: &Delivery) -> Result<Sent, SendError> {
        let mut sent = Sent::default();
        let id = delivery.id.as_str();
        if let Some(to) = &delivery.contact.email {
            if self.ledger.was_sent(id, channel::EMAIL) {
                sent.duplicates += 1;
            } else {
                let message =
                    render::email(id, &self.from, to, &delivery.notice).map_err(|e| SendError {
                        permanent: true,
                        text: e.to_string(),
                    })?;
                self.mailer.send(id, message).await?;
                self.ledger.record(id, channel::EMAIL)?;
                sent.emails += 1;
            }
        }
        if let Some(to) = &delivery.contact.phone {
            match &self.sms {
                None => tracing::warn!(id, "no SMS provider configured; SMS skipped"),
                Some(_) if self.ledger.was_sent(id, channel::SMS) => sent.duplicates += 1,
                Some(sms) => {
                    sms.send(id, to, &render::sms_text(&delivery.notice))
                        .await?;
                    self.ledger.record(id, channel::SMS)?;
                    sent.sms += 1;
                }
            }
        }
        Ok(sent)
    }
}
