//! What a [`super::RazorpayGateway`] needs to know.

/// A request that gets no complete answer within this many milliseconds ends in
/// [`crate::GatewayError::Timeout`].
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Connecting may take at most this long (then [`crate::GatewayError::Unreachable`]).
pub const CONNECT_TIMEOUT_MS_DEFAULT: u64 = 3_000;
/// An answer body longer than this is refused as [`crate::GatewayError::Malformed`].
pub const RESPONSE_MAX_BYTES_DEFAULT: usize = 1024 * 1024;

/// How to reach and authenticate to a Razorpay-compatible gateway.
#[derive(Clone, PartialEq, Eq)]
pub struct RazorpayConfig {
    /// Where the REST API lives, without the `/v1`: the simulator's `http://127.0.0.1:PORT`, or
    /// the gateway's API origin. A trailing `/` is ignored.
    pub base_url: String,
    /// Where the customer is sent to pay: `{checkout_base_url}/checkout/{order_id}?callback_url=…`.
    /// `None`: `base_url` (right for the simulator; a real Razorpay account needs a page of
    /// one's own that runs Razorpay Checkout, served from here).
    pub checkout_base_url: Option<String>,
    /// Basic-auth user, such as `rzp_test_…`.
    pub key_id: String,
    /// Basic-auth password; also the checkout signature key.
    pub key_secret: String,
    /// The webhook signature key.
    pub webhook_secret: String,
    /// Whole-request timeout, milliseconds.
    pub request_timeout_ms: u64,
    /// Connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// Largest answer body read, bytes.
    pub response_max_bytes: usize,
    /// Sent as `payment_capture` on every order: `true` captures a payment as soon as it is
    /// authorized; `false` leaves it authorized until [`crate::PaymentGateway::capture`].
    pub auto_capture: bool,
}

impl RazorpayConfig {
    /// A config with the default timeouts and limits and auto-capture on.
    pub fn new(base_url: &str, key_id: &str, key_secret: &str, webhook_secret: &str) -> Self {
        RazorpayConfig {
            base_url: base_url.to_owned(),
            checkout_base_url: None,
            key_id: key_id.to_owned(),
            key_secret: key_secret.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
            request_timeout_ms: REQUEST_TIMEOUT_MS_DEFAULT,
            connect_timeout_ms: CONNECT_TIMEOUT_MS_DEFAULT,
            response_max_bytes: RESPONSE_MAX_BYTES_DEFAULT,
            auto_capture: true,
        }
    }
}

// The secrets stay out of logs.
impl std::fmt::Debug for RazorpayConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RazorpayConfig")
            .field("base_url", &self.base_url)
            .field("checkout_base_url", &self.checkout_base_url)
            .field("key_id", &self.key_id)
            .field("key_secret", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("response_max_bytes", &self.response_max_bytes)
            .field("auto_capture", &self.auto_capture)
            .finish()
    }
}
