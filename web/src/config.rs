//! The web server's limits and settings.

/// Settings of one `cinebook-web` process. Several replicas behind a proxy must share
/// `cookie_secret`, or a customer's session is not recognised by the next replica.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Key of the session cookie's HMAC-SHA256 tag.
    pub cookie_secret: Vec<u8>,
    /// Largest request body the JSON API accepts.
    pub body_max_bytes: usize,
    /// Largest webhook body forwarded to the node.
    pub webhook_body_max_bytes: usize,
    /// Most holds one client address may place per `holds_per_address_window_ms`.
    pub holds_per_address_max: u32,
    /// The window of `holds_per_address_max`.
    pub holds_per_address_window_ms: u64,
    /// Most holds one browser session keeps (the oldest is forgotten beyond this).
    pub session_holds_max: usize,
    /// Most seats one hold may ask for.
    pub hold_seats_max: usize,
    /// Longest customer name accepted at checkout, in characters.
    pub name_max_chars: usize,
    /// Longest e-mail address accepted at checkout, in bytes (RFC 5321 path limit).
    pub email_max_bytes: usize,
    /// The node's webhook URL (`http://node:9100/payments/webhook`) that
    /// `POST /api/payments/webhook` forwards to; `None` answers 503.
    pub node_webhook_url: Option<String>,
    /// Time limit of one webhook forward.
    pub webhook_forward_timeout_ms: u64,
    /// Take the client address from `X-Real-IP` (else the last `X-Forwarded-For` entry) when
    /// the request comes from one of `trusted_proxies` (behind nginx).
    pub trust_forwarded_for: bool,
    /// The proxies whose forwarded-address headers are believed (addresses or CIDR blocks);
    /// from any other peer they are ignored. Default: loopback.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Base URL the browser reaches this site at (for the checkout's return link); `None`
    /// uses `http://` and the request's `Host`.
    pub public_url: Option<String>,
}

impl WebConfig {
    /// Defaults with a given cookie secret.
    pub fn with_secret(cookie_secret: Vec<u8>) -> WebConfig {
        WebConfig {
            cookie_secret,
            body_max_bytes: 16 * 1024,
            webhook_body_max_bytes: 64 * 1024,
            holds_per_address_max: 20,
            holds_per_address_window_ms: 60_000,
            session_holds_max: 4,
            hold_seats_max: 10,
            name_max_chars: 100,
            email_max_bytes: 254,
            node_webhook_url: None,
            webhook_forward_timeout_ms: 5_000,
            trust_forwarded_for: false,
            trusted_proxies: vec![
                ipnet::IpNet::from(std::net::IpAddr::from([127, 0, 0, 1])),
                ipnet::IpNet::from(std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
            ],
            public_url: None,
        }
    }

    /// Defaults with a fresh random cookie secret (a single process).
    pub fn random_secret() -> WebConfig {
        let secret: [u8; 32] = rand::random();
        WebConfig::with_secret(secret.to_vec())
    }
}

/// A trusted proxy: an address (`10.0.0.5`) or a CIDR block (`10.0.0.0/8`).
pub fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Ok(net);
    }
    text.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR block"))
}
