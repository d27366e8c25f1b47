//! Sending SMS: [`SmsProvider`] with an HTTP adapter ([`HttpSms`]: a JSON POST, the shape most
//! providers' REST APIs accept) and a file adapter ([`FileSms`]: one JSON line per message).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use super::mail::SendError;

/// How long one HTTP request to the provider may take, ms.
pub const SMS_HTTP_TIMEOUT_MS: u64 = 10_000;

/// Something that sends a text message.
#[async_trait]
pub trait SmsProvider: Send + Sync + std::fmt::Debug {
    /// Sends `text` to `to` (message id `id`, passed on for the provider's own deduplication).
    async fn send(&self, id: &str, to: &str, text: &str) -> Result<(), SendError>;
}

/// One SMS as the adapters write it.
#[derive(Debug, Serialize)]
pub struct SmsBody<'a> {
    /// Stable message id.
    pub id: &'a str,
    /// Phone number.
    pub to: &'a str,
    /// Text.
    pub text: &'a str,
}

/// POSTs `{"id","to","text"}` as JSON to a URL (`--sms-url`); 2xx is sent, 4xx permanent,
/// anything else retried.
#[derive(Debug, Clone)]
pub struct HttpSms {
    url: String,
}

impl HttpSms {
    /// An adapter posting to `url`.
    pub fn new(url: &str) -> Self {
        HttpSms { url: url.into() }
    }
}

#[async_trait]
impl SmsProvider for HttpSms {
    async fn send(&self, id: &str, to: &str, text: &str) -> Result<(), SendError> {
        let body = serde_json::to_string(&SmsBody { id, to, text })
            .map_err(|e| SendError::transient(e.to_string()))?;
        let url = self.url.clone();
        let sent = tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_millis(SMS_HTTP_TIMEOUT_MS)))
                .build()
                .into();
            agent
                .post(&url)
                .header("content-type", "application/json")
                .send(&body)
                .map(|_| ())
        })
        .await
        .map_err(|e| SendError::transient(format!("the SMS task failed: {e}")))?;
        match sent {
            Ok(()) => Ok(()),
            Err(ureq::Error::StatusCode(code)) => Err(SendError {
                permanent: (400..500).contains(&code) && code != 429,
                text: format!("sms provider answered HTTP {code}"),
            }),
            Err(e) => Err(SendError::transient(format!("sms provider: {e}"))),
        }
    }
}

/// Appends each SMS as one JSON line to a file (`cinebook-data/outbox-sms.jsonl` by default).
#[derive(Debug)]
pub struct FileSms {
    path: PathBuf,
}

impl FileSms {
    /// An adapter appending to `path` (its directory is created when missing).
    pub fn new(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent() {
            crate::store::private::private_dir(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        Ok(FileSms {
            path: path.to_path_buf(),
        })
    }
}

#[async_trait]
impl SmsProvider for FileSms {
    async fn send(&self, id: &str, to: &str, text: &str) -> Result<(), SendError> {
        let mut line = serde_json::to_string(&SmsBody { id, to, text })
            .map_err(|e| SendError::transient(e.to_string()))?;
        line.push('\n');
        let path = self.path.clone();
        let written = tokio::task::spawn_blocking(move || {
            let mut file = crate::store::private::append_private(&path)?;
            file.write_all(line.as_bytes())?;
            file.sync_data()
        })
        .await
        .map_err(|e| SendError::transient(format!("the SMS task failed: {e}")))?;
        written.map_err(|e| SendError::transient(format!("writing the SMS file: {e}")))
    }
}
