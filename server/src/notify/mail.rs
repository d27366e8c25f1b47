//! Sending e-mail: [`Mailer`] with an SMTP adapter ([`SmtpMailer`], lettre) and a directory of
//! `.eml` files ([`EmlDir`], the default without `--smtp`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one SMTP conversation may take, ms.
pub const SMTP_TIMEOUT_MS: u64 = 10_000;

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct SendError {
    /// Retrying cannot help (an address the server refuses for good): dead at once.
    pub permanent: bool,
    /// What went wrong.
    pub text: String,
}

impl SendError {
    /// A failure worth retrying.
    pub fn transient(text: impl Into<String>) -> Self {
        SendError {
            permanent: false,
            text: text.into(),
        }
    }
}

/// Something that sends a finished e-mail.
#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Sends `message` (message id `id`).
    async fn send(&self, id: &str, message: Message) -> Result<(), SendError>;
}

/// SMTP through lettre, from a URL such as `smtp://127.0.0.1:2525` or
/// `smtps://user:pass@mail.example.com` (lettre's URL rules).
#[derive(Debug)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpMailer {
    /// A mailer for `url`.
    pub fn new(url: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("--smtp {url:?}: {e}"))?
            .timeout(Some(Duration::from_millis(SMTP_TIMEOUT_MS)))
            .build();
        Ok(SmtpMailer { transport })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, _id: &str, message: Message) -> Result<(), SendError> {
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendError {
                permanent: e.is_permanent(),
                text: format!("smtp: {e}"),
            }),
        }
    }
}

/// Writes each e-mail as `<dir>/<message id>.eml` (written to a temporary name, then renamed,
/// so a file is whole; a duplicate delivery rewrites the same file).
#[derive(Debug)]
pub struct EmlDir {
    dir: PathBuf,
}

impl EmlDir {
    /// A mailer writing into `dir` (created when missing).
    pub fn new(dir: &Path) -> Result<Self, String> {
        crate::store::private::private_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(EmlDir {
            dir: dir.to_path_buf(),
        })
    }

    /// The file a message id is written to.
    pub fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{}.eml", file_name(id)))
    }
}

/// A message id as a file name (`:` and anything unusual become `_`).
pub fn file_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[async_trait]
impl Mailer for EmlDir {
    async fn send(&self, id: &str, message: Message) -> Result<(), SendError> {
        let path = self.path_of(id);
        let tmp = path.with_extension("eml.tmp");
        let bytes = message.formatted();
        let written = tokio::task::spawn_blocking(move || {
            crate::store::private::write_private(&tmp, &bytes)?;
            std::fs::rename(&tmp, &path)
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SendError::transient(format!("writing the .eml file: {e}"))),
            Err(e) => Err(SendError::transient(format!(
                "the writing task failed: {e}"
            ))),
        }
    }
}
