//! Who is on a connection: `Hello` (version, token → role, guest places, failed-token backoff)
//! and the periodic re-check that cuts a revoked terminal's session off.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use cinebook_protocol::types::Role;
use cinebook_protocol::{ErrorBody, ErrorCode, PROTOCOL_VERSION};
use tokio::sync::OwnedSemaphorePermit;

use super::limits::log_field;
use super::shield::Shield;
use crate::node::auth;
use crate::node::handlers::Caller;
use crate::node::Node;

/// An authenticated connection's caller, and what is needed to check it again.
#[derive(Debug)]
pub(super) struct Session {
    /// The role and terminal.
    pub(super) caller: Caller,
    /// The token it presented (terminals only), to re-check against the store.
    token: Option<String>,
    /// When the terminal was last confirmed not revoked.
    verified_at: Instant,
    /// A guest's place under `guest_connections_max`.
    _guest: Option<OwnedSemaphorePermit>,
}

/// Why a session ends.
#[derive(Debug)]
pub(super) struct Revoked;

impl Session {
    /// A peer node's session, opened by the challenge-response (no token to re-check: the
    /// cluster secret is checked per connection).
    pub(super) fn peer(caller: Caller) -> Session {
        Session {
            caller,
            token: None,
            verified_at: Instant::now(),
            _guest: None,
        }
    }

    /// How often an open terminal session is checked against the store: half the cache TTL, so
    /// with the cache's own age a revocation on any node is seen within `terminal_cache_ttl_ms`.
    fn recheck_every(node: &Node) -> Duration {
        Duration::from_millis((node.config.terminal_cache_ttl_ms / 2).max(1))
    }

    /// Whether the terminal should be checked again now.
    pub(super) fn due(&self, node: &Node) -> bool {
        self.token.is_some() && self.verified_at.elapsed() >= Self::recheck_every(node)
    }

    /// Checks the terminal again (the store is read when the cached entry is older than half the
    /// TTL). A store outage keeps the session (sales fail without the store anyway).
    pub(super) async fn recheck(&mut self, node: &Node) -> Result<(), Revoked> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        match node
            .authenticate_within(token, Self::recheck_every(node))
            .await
        {
            Ok(Some(t)) if t.id == self.caller.terminal_id && t.role == self.caller.role => {
                self.verified_at = Instant::now();
                Ok(())
            }
            Ok(_) => Err(Revoked),
            Err(_) => Ok(()),
        }
    }
}

fn unauthenticated(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::Unauthenticated, message)
}

/// Answers a `Hello`: the session it opens, or the error (the connection stays as it was).
pub(super) async fn hello(
    node: &Node,
    shield: &Shield,
    ip: IpAddr,
    version: u16,
    client_name: &str,
    token: Option<String>,
) -> Result<Session, ErrorBody> {
    if !(cinebook_protocol::PROTOCOL_VERSION_MIN..=PROTOCOL_VERSION).contains(&version) {
        return Err(ErrorBody::new(
            ErrorCode::UnsupportedVersion {
                min: cinebook_protocol::PROTOCOL_VERSION_MIN,
                max: PROTOCOL_VERSION,
            },
            format!("protocol version {version} is not supported"),
        ));
    }
    let token = token.filter(|t| !t.is_empty());
    let (caller, token, guest) = match token {
        None => {
            let Some(place) = shield.admit_guest() else {
                node.metrics.connection_refused();
                return Err(ErrorBody::new(
                    ErrorCode::Overloaded,
                    "guest connections are at guest_connections_max; retry shortly",
                ));
            };
            let caller = Caller {
                role: Role::Guest,
                terminal_id: 0,
                peer_node_id: None,
            };
            (caller, None, Some(place))
        }
        Some(token) => {
            let caller = terminal(node, shield, ip, &token).await?;
            (caller, Some(token), None)
        }
    };
    tracing::info!(client = %log_field(client_name), role = caller.role.name(), terminal = caller.terminal_id, "hello");
    Ok(Session {
        caller,
        token,
        verified_at: Instant::now(),
        _guest: guest,
    })
}

/// The terminal of `token`. A token known to be good is served from the cache; a wrong one is
/// remembered, and an address that keeps failing is backed off without asking the store.
async fn terminal(
    node: &Node,
    shield: &Shield,
    ip: IpAddr,
    token: &str,
) -> Result<Caller, ErrorBody> {
    let ttl = Duration::from_millis(node.config.terminal_cache_ttl_ms);
    let found = match node.cached_terminal(token, ttl) {
        Some(t) => Some(t),
        None => {
            let hash = auth::token_sha256(token);
            if let Some(wait) = shield.backed_off(ip) {
                node.metrics.auth_failed();
                return Err(unauthenticated(format!(
                    "too many failed Hellos from this address; retry in {} ms",
                    wait.as_millis()
                )));
            }
            if shield.known_wrong(&hash) {
                refused(node, shield, ip, Some(&hash));
                return Err(unauthenticated("unknown or revoked token"));
            }
            let found = node.authenticate(token).await?;
            if found.is_none() {
                refused(node, shield, ip, Some(&hash));
            }
            found
        }
    };
    let Some(t) = found else {
        return Err(unauthenticated("unknown or revoked token"));
    };
    // Only the challenge-response gives the node role (an older version could store node
    // terminals): such a token is no credential.
    if t.role == Role::Node {
        refused(node, shield, ip, None);
        return Err(crate::cluster::peer_auth::node_terminal_hello());
    }
    shield.succeeded(ip);
    Ok(Caller {
        role: t.role,
        terminal_id: t.id,
        peer_node_id: None,
    })
}

/// Counts a refused token, and logs (once per `peer_warning_interval_ms` per address) when the
/// address is backed off: the line an operator alerts on.
fn refused(node: &Node, shield: &Shield, ip: IpAddr, hash: Option<&str>) {
    node.metrics.auth_failed();
    if let Some(backoff) = shield.failed(ip, hash) {
        if shield.may_warn(ip) {
            tracing::warn!(
                peer = %ip,
                backoff_ms = backoff.as_millis() as u64,
                "repeated failed Hellos (wrong tokens) from one address: backing it off"
            );
        }
    }
}
