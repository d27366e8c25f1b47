//! [`SmtpSink`]: a small SMTP server on 127.0.0.1 port 0 that keeps every message it accepts,
//! and can be told to refuse (a transient `451` to `MAIL FROM`), for the notification tests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Longest message the sink accepts, bytes.
pub const SINK_MESSAGE_BYTES_MAX: usize = 1 << 20;

#[derive(Debug, Default)]
struct Shared {
    messages: Mutex<Vec<String>>,
    refusing: AtomicBool,
    refused: AtomicU64,
}

/// The sink; dropped, it stops accepting.
#[derive(Debug)]
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Listens on 127.0.0.1 port 0.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let addr = listener.local_addr().expect("sink addr");
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, accepting.clone()));
            }
        });
        SmtpSink { addr, shared, task }
    }

    /// `smtp://127.0.0.1:PORT` (plain, as lettre spells it).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message accepted so far (headers and body, as sent).
    pub fn messages(&self) -> Vec<String> {
        self.shared.messages.lock().clone()
    }

    /// Messages whose text contains `needle`.
    pub fn containing(&self, needle: &str) -> usize {
        self.messages()
            .iter()
            .filter(|m| m.contains(needle))
            .count()
    }

    /// From now on, every `MAIL FROM` is answered `451` (try again later).
    pub fn refuse(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }

    /// How many transactions were refused.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }
}

async fn session(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write
        .write_all(b"220 cinebook-sink ESMTP\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let verb = line.trim_end().to_ascii_uppercase();
        let answer: &[u8] = if verb.starts_with("EHLO") || verb.starts_with("HELO") {
            b"250-cinebook-sink\r\n250 8BITMIME\r\n"
        } else if verb.starts_with("MAIL FROM") {
            if shared.refusing.load(Ordering::SeqCst) {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                b"451 4.3.0 try again later\r\n"
            } else {
                b"250 OK\r\n"
            }
        } else if verb.starts_with("RCPT TO") || verb.starts_with("RSET") || verb == "NOOP" {
            b"250 OK\r\n"
        } else if verb == "DATA" {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            match read_data(&mut lines).await {
                Some(message) => {
                    shared.messages.lock().push(message);
                    b"250 OK queued\r\n"
                }
                None => return,
            }
        } else if verb == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}

async fn read_data<R: AsyncBufReadExt + Unpin>(lines: &mut R) -> Option<String> {
    let mut message = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == ".\r\n" || line == ".\n" {
            return Some(message);
        }
        let unstuffed = line.strip_prefix('.').unwrap_or(&line);
        message.push_str(unstuffed);
        if message.len() > SINK_MESSAGE_BYTES_MAX {
            return None;
        }
    }
}
