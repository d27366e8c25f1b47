//! Typed gateway failures.

/// What went wrong talking to a gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No answer in time, or the connection broke after the request was sent: the call may have
    /// taken effect. Never read this as "failed".
    #[error("the gateway did not answer in time: the outcome is unknown")]
    Timeout,
    /// The gateway could not be reached before the request was sent (connection refused, DNS):
    /// nothing happened.
    #[error("the gateway cannot be reached: {0}")]
    Unreachable(String),
    /// The gateway answered 5xx: nothing happened on its side (retry later).
    #[error("the gateway answered {status}: {description}")]
    Unavailable {
        /// HTTP status.
        status: u16,
        /// What it said.
        description: String,
    },
    /// The gateway refused the request (4xx other than 401 and 404).
    #[error("the gateway refused the request ({code}): {description}")]
    Rejected {
        /// The gateway's error code, such as `BAD_REQUEST_ERROR`.
        code: String,
        /// What it said.
        description: String,
    },
    /// The id is not known to the gateway.
    #[error("the gateway knows no {0}")]
    NotFound(String),
    /// The key id or secret was refused (401).
    #[error("the gateway refused our credentials")]
    Unauthorized,
    /// A checkout result's or webhook's signature does not match.
    #[error("the signature does not match")]
    BadSignature,
    /// An answer or webhook body we cannot read.
    #[error("malformed gateway message: {0}")]
    Malformed(String),
}

impl GatewayError {
    /// Whether the call certainly had no effect, so it may simply be retried.
    /// `false` for [`GatewayError::Timeout`]: find out first.
    pub fn is_definite(&self) -> bool {
        !matches!(self, GatewayError::Timeout)
    }

    /// Whether trying again later can succeed (timeouts, unreachable, 5xx).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            GatewayError::Timeout | GatewayError::Unreachable(_) | GatewayError::Unavailable { .. }
        )
    }
}
