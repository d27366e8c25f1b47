//! How a simulator starts: [`SimConfig`].

use crate::switches::Switches;

/// Key id the simulator accepts unless told otherwise.
pub const KEY_ID_DEFAULT: &str = "rzp_test_cinebook";
/// Key secret the simulator accepts unless told otherwise.
pub const KEY_SECRET_DEFAULT: &str = "cinebook-paysim-key-secret";
/// Webhook secret the simulator signs with unless told otherwise.
pub const WEBHOOK_SECRET_DEFAULT: &str = "cinebook-paysim-webhook-secret";

/// Largest request body the REST API reads, bytes.
pub const REQUEST_MAX_BYTES_DEFAULT: usize = 64 * 1024;
/// Most orders one simulator keeps (then `create_order` answers 400).
pub const ORDERS_MAX_DEFAULT: usize = 1_000_000;
/// A webhook delivery is tried at most this many times (the first try included).
pub const WEBHOOK_ATTEMPTS_MAX_DEFAULT: u32 = 5;
/// Wait before the second try of a webhook, milliseconds; doubled for each later try.
pub const WEBHOOK_RETRY_BACKOFF_MS_DEFAULT: u64 = 50;
/// One webhook POST gets an answer within this many milliseconds or counts as failed.
pub const WEBHOOK_TIMEOUT_MS_DEFAULT: u64 = 5_000;
/// Events held back by the reorder switch are sent (reversed) after at most this long, ms.
pub const WEBHOOK_REORDER_HOLD_MS_DEFAULT: u64 = 200;

/// Everything a [`crate::Simulator`] starts with.
#[derive(Clone)]
pub struct SimConfig {
    /// Where to listen; `127.0.0.1:0` picks a free port.
    pub listen: std::net::SocketAddr,
    /// Basic-auth user the REST API accepts.
    pub key_id: String,
    /// Basic-auth password the REST API accepts; the checkout signature key.
    pub key_secret: String,
    /// The webhook signature key.
    pub webhook_secret: String,
    /// Where webhooks are POSTed; `None`: nowhere (they are logged as unsent).
    pub webhook_url: Option<String>,
    /// Seed of every random choice (ids, drops), so runs repeat.
    pub seed: u64,
    /// The fault switches at start.
    pub switches: Switches,
    /// Largest request body, bytes.
    pub request_max_bytes: usize,
    /// Most orders kept.
    pub orders_max: usize,
    /// Tries per webhook delivery.
    pub webhook_attempts_max: u32,
    /// First retry wait, milliseconds (doubling).
    pub webhook_retry_backoff_ms: u64,
    /// Per-POST webhook timeout, milliseconds.
    pub webhook_timeout_ms: u64,
    /// Longest hold of reordered events, milliseconds.
    pub webhook_reorder_hold_ms: u64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            key_id: KEY_ID_DEFAULT.to_owned(),
            key_secret: KEY_SECRET_DEFAULT.to_owned(),
            webhook_secret: WEBHOOK_SECRET_DEFAULT.to_owned(),
            webhook_url: None,
            seed: 0,
            switches: Switches::default(),
            request_max_bytes: REQUEST_MAX_BYTES_DEFAULT,
            orders_max: ORDERS_MAX_DEFAULT,
            webhook_attempts_max: WEBHOOK_ATTEMPTS_MAX_DEFAULT,
            webhook_retry_backoff_ms: WEBHOOK_RETRY_BACKOFF_MS_DEFAULT,
            webhook_timeout_ms: WEBHOOK_TIMEOUT_MS_DEFAULT,
            webhook_reorder_hold_ms: WEBHOOK_REORDER_HOLD_MS_DEFAULT,
        }
    }
}

// The secrets stay out of logs.
impl std::fmt::Debug for SimConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SimConfig")
            .field("listen", &self.listen)
            .field("key_id", &self.key_id)
            .field("webhook_url", &self.webhook_url)
            .field("seed", &self.seed)
            .field("switches", &self.switches)
            .field("request_max_bytes", &self.request_max_bytes)
            .field("orders_max", &self.orders_max)
            .field("webhook_attempts_max", &self.webhook_attempts_max)
            .field("webhook_retry_backoff_ms", &self.webhook_retry_backoff_ms)
            .field("webhook_timeout_ms", &self.webhook_timeout_ms)
            .field("webhook_reorder_hold_ms", &self.webhook_reorder_hold_ms)
            .finish_non_exhaustive()
    }
}
