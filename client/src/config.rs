//! [`ClientConfig`]: every limit of the client, each named with its unit.

use std::time::Duration;

/// How a [`crate::Client`] connects, authenticates and retries.
///
/// `ClientConfig::default()` is a guest (no token) with conservative limits; set `token` to sell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Sent in `Hello` for the server's logs, such as `kiosk-3/1.2.0`.
    pub client_name: String,
    /// The terminal token; `None` connects as a guest (browse and subscribe only).
    pub token: Option<String>,
    /// Upper bound on one call, retries, reconnects and `NotLeader` hops included.
    pub call_timeout_ms: u64,
    /// Upper bound on opening one connection: TCP connect, preface exchange and hello.
    pub connect_timeout_ms: u64,
    /// First pause before a retry; doubled (with jitter) on each further retry.
    pub backoff_initial_ms: u64,
    /// Longest pause between two retries.
    pub backoff_max_ms: u64,
    /// Most attempts of one call (the first included) before its last error is returned.
    pub attempts_max: u32,
    /// Most `NotLeader` redirects one call follows.
    pub redirects_max: u32,
    /// A call that has waited this long with no frame at all from its server pings it; a
    /// server that then sends nothing for as long again is taken for unresponsive (paused, cut
    /// off): the connection is closed and the call is retried on another node when that is
    /// safe (reads, keyed holds and confirms, with the same key) or answered `Indeterminate`.
    /// `0` turns this off (the call then waits for `call_timeout_ms`). Terminals only: a guest
    /// (no token) never pings, since a guest's reads, `Ping` included, queue for the node's
    /// shared guest read slots and a busy node would look dead.
    pub liveness_timeout_ms: u64,
    /// A node found unresponsive is tried last, and not followed by `NotLeader`, for this long.
    pub unresponsive_avoid_ms: u64,
    /// Largest frame payload accepted from the server, in bytes.
    pub frame_max_bytes: usize,
    /// Server pushes buffered per connection for slow subscribers; a subscriber that falls
    /// further behind re-fetches its seat map instead of missing changes.
    pub push_buffer_len: usize,
    /// TLS to the server (`cinebook --tls`, `--tls-ca FILE`); `None` is plain TCP.
    pub tls: Option<crate::TlsOptions>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            client_name: format!("cinebook-client/{}", env!("CARGO_PKG_VERSION")),
            token: None,
            call_timeout_ms: 10_000,
            connect_timeout_ms: 3_000,
            backoff_initial_ms: 50,
            backoff_max_ms: 2_000,
            attempts_max: 10,
            redirects_max: 4,
            liveness_timeout_ms: 500,
            unresponsive_avoid_ms: 2_000,
            frame_max_bytes: cinebook_protocol::FRAME_MAX_BYTES_DEFAULT,
            push_buffer_len: 4_096,
            tls: None,
        }
    }
}

impl ClientConfig {
    /// The default configuration with a terminal token.
    pub fn with_token(token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..Self::default()
        }
    }

    pub(crate) fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub(crate) fn liveness_timeout(&self) -> Option<Duration> {
        let on = self.liveness_timeout_ms > 0 && self.token.is_some();
        on.then(|| Duration::from_millis(self.liveness_timeout_ms))
    }
}
