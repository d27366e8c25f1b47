//! [`Error`]: every way a call can fail — the server's typed error codes, mirrored one variant
//! each, and the transport's own failures.

use cinebook_protocol::types::SeatId;
use cinebook_protocol::{ErrorBody, ErrorCode, PrefaceError, ProtocolError};

/// The result of a client call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call failed.
///
/// The first group mirrors [`ErrorCode`] (the server answered with an error; nothing was
/// applied). The second group is the transport's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server could not decode a frame we sent.
    #[error("bad frame: {message}")]
    BadFrame {
        /// The server's message.
        message: String,
    },
    /// The server does not speak our protocol version.
    #[error("unsupported protocol version (server speaks {min}..={max}): {message}")]
    UnsupportedVersion {
        /// Oldest version the server speaks.
        min: u16,
        /// Newest version the server speaks.
        max: u16,
        /// The server's message.
        message: String,
    },
    /// No or unknown token.
    #[error("unauthenticated: {message}")]
    Unauthenticated {
        /// The server's message.
        message: String,
    },
    /// The terminal's role does not allow this request.
    #[error("forbidden: {message}")]
    Forbidden {
        /// The server's message.
        message: String,
    },
    /// The show, hold, booking or catalog item does not exist.
    #[error("not found: {message}")]
    NotFound {
        /// The server's message.
        message: String,
    },
    /// A field is out of range or inconsistent.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// The server's message.
        message: String,
    },
    /// Some requested seats are not free; nothing was held.
    #[error("seats unavailable {seats:?}: {message}")]
    SeatUnavailable {
        /// The seats that are not free.
        seats: Vec<SeatId>,
        /// The server's message.
        message: String,
    },
    /// The hold expired.
    #[error("hold expired: {message}")]
    HoldExpired {
        /// The server's message.
        message: String,
    },
    /// Not enough free seats of the category are left.
    #[error("sold out: {message}")]
    SoldOut {
        /// The server's message.
        message: String,
    },
    /// Enough seats are free for a best-available hold, but not that many adjacent in one row.
    #[error("no adjacent seats: {message}")]
    NoAdjacentSeats {
        /// The largest number of adjacent free seats of the category in one row.
        largest_block: u32,
        /// Free seats of the category in all.
        free: u32,
        /// The server's message.
        message: String,
    },
    /// The list does not fit in one frame: ask for it by pages (`Client::list_page`; the
    /// `list_*` methods already do).
    #[error("page required: {message}")]
    PageRequired {
        /// The node's `list_page_max_items`.
        list_page_max_items: u32,
        /// The server's message.
        message: String,
    },
    /// The node is a follower. The client follows this itself; it reaches the caller only when
    /// `redirects_max` hops were not enough.
    #[error("not the leader (leader: {leader:?}): {message}")]
    NotLeader {
        /// The leader's client address, if known.
        leader: Option<String>,
        /// The server's message.
        message: String,
    },
    /// A dependency of the server is down; retried by the client until the call deadline.
    #[error("server unavailable: {message}")]
    Unavailable {
        /// The server's message.
        message: String,
    },
    /// The server is overloaded; retried by the client until the call deadline.
    #[error("server overloaded: {message}")]
    Overloaded {
        /// The server's message.
        message: String,
    },
    /// The request conflicts with the current state.
    #[error("conflict: {message}")]
    Conflict {
        /// The server's message.
        message: String,
    },
    /// A bug on the server.
    #[error("internal server error: {message}")]
    Internal {
        /// The server's message.
        message: String,
    },
    /// The show's sales window is closed for this terminal's role.
    #[error("sales closed: {message}")]
    SalesClosed {
        /// The server's message.
        message: String,
    },
    /// The server does not know yet whether a sale was committed (the database did not
    /// acknowledge it in time). Not a failure: the seats stay reserved; retried by the client
    /// with the same idempotency key until the call deadline.
    #[error("sale outcome not known yet: {message}")]
    OutcomeUnknown {
        /// The server's message.
        message: String,
    },

    /// No address was given to connect to.
    #[error("no server address given")]
    NoAddress,
    /// A TCP connection could not be opened.
    #[error("cannot connect to {addr}: {message}")]
    Connect {
        /// The address tried.
        addr: String,
        /// The operating system's message.
        message: String,
    },
    /// Opening the connection (TCP, preface and hello) took longer than `connect_timeout_ms`.
    #[error("connecting to {addr} took longer than connect_timeout_ms = {connect_timeout_ms}")]
    ConnectTimeout {
        /// The address tried.
        addr: String,
        /// The configured limit.
        connect_timeout_ms: u64,
    },
    /// The peer's preface was refused: not a CineBook server, or a version we do not speak.
    #[error("{addr} is not a usable CineBook server: {reason}")]
    Preface {
        /// The address.
        addr: String,
        /// What was wrong.
        reason: PrefaceError,
    },
    /// The call did not complete within `call_timeout_ms` (retries included). The request may or
    /// may not have been applied; a confirm can be retried safely with the same idempotency key.
    #[error("no answer within call_timeout_ms = {call_timeout_ms}")]
    Timeout {
        /// The configured limit.
        call_timeout_ms: u64,
    },
    /// The connection was lost after a request that is not safe to repeat (such as a cancel) was
    /// sent: it may or may not have been applied. Look it up before trying again.
    #[error(
        "connection to {addr} lost after `{request}` was sent; it may or may not have been applied"
    )]
    Indeterminate {
        /// The request's name.
        request: &'static str,
        /// The address of the lost connection.
        addr: String,
    },
    /// The connection was lost and could not be re-established within the call's limits.
    #[error("connection to {addr} lost: {message}")]
    ConnectionLost {
        /// The address.
        addr: String,
        /// What happened.
        message: String,
    },
    /// The frames could not be encoded or decoded (a framing error closes the connection).
    #[error("protocol error: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
    /// The server answered with a reply of the wrong kind (a server bug).
    #[error("unexpected reply to `{request}`: {got}")]
    UnexpectedReply {
        /// The request's name.
        request: &'static str,
        /// The reply received, for the log.
        got: String,
    },
}

impl Error {
    /// The protocol's [`ErrorCode`] name for a server error (`"NotFound"`, ...), or a transport
    /// error's own name (`"Timeout"`, ...). Stable; used in JSON output.
    pub fn name(&self) -> &'static str {
        match self {
            Error::BadFrame { .. } => "BadFrame",
            Error::UnsupportedVersion { .. } => "UnsupportedVersion",
            Error::Unauthenticated { .. } => "Unauthenticated",
            Error::Forbidden { .. } => "Forbidden",
            Error::NotFound { .. } => "NotFound",
            Error::InvalidArgument { .. } => "InvalidArgument",
            Error::SeatUnavailable { .. } => "SeatUnavailable",
            Error::HoldExpired { .. } => "HoldExpired",
            Error::SoldOut { .. } => "SoldOut",
            Error::NotLeader { .. } => "NotLeader",
            Error::Unavailable { .. } => "Unavailable",
            Error::Overloaded { .. } => "Overloaded",
            Error::Conflict { .. } => "Conflict",
            Error::Internal { .. } => "Internal",
            Error::SalesClosed { .. } => "SalesClosed",
            Error::OutcomeUnknown { .. } => "OutcomeUnknown",
            Error::NoAdjacentSeats { .. } => "NoAdjacentSeats",
            Error::PageRequired { .. } => "PageRequired",
            Error::NoAddress => "NoAddress",
            Error::Connect { .. } => "Connect",
            Error::ConnectTimeout { .. } => "ConnectTimeout",
            Error::Preface { .. } => "Preface",
            Error::Timeout { .. } => "Timeout",
            Error::Indeterminate { .. } => "Indeterminate",
            Error::ConnectionLost { .. } => "ConnectionLost",
            Error::Protocol { .. } => "Protocol",
            Error::UnexpectedReply { .. } => "UnexpectedReply",
        }
    }

    /// Whether this came from the server as a typed error code (nothing was applied).
    pub fn is_server_error(&self) -> bool {
        matches!(
            self,
            Error::BadFrame { .. }
                | Error::UnsupportedVersion { .. }
                | Error::Unauthenticated { .. }
                | Error::Forbidden { .. }
                | Error::NotFound { .. }
                | Error::InvalidArgument { .. }
                | Error::SeatUnavailable { .. }
                | Error::HoldExpired { .. }
                | Error::SoldOut { .. }
                | Error::NotLeader { .. }
                | Error::Unavailable { .. }
                | Error::Overloaded { .. }
                | Error::Conflict { .. }
                | Error::Internal { .. }
                | Error::SalesClosed { .. }
                | Error::OutcomeUnknown { .. }
                | Error::NoAdjacentSeats { .. }
                | Error::PageRequired { .. }
        )
    }

    /// Whether the same call may succeed later: server-side `Unavailable`/`Overloaded`/
    /// `NotLeader`, and transport failures other than a refused preface.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::NotLeader { .. }
                | Error::Unavailable { .. }
                | Error::Overloaded { .. }
                | Error::OutcomeUnknown { .. }
                | Error::Connect { .. }
                | Error::ConnectTimeout { .. }
                | Error::Timeout { .. }
                | Error::ConnectionLost { .. }
        )
    }

    /// Whether retrying can never help (authentication, permission, a refused preface, a
    /// protocol version mismatch). The reconnect loop gives up at once on these.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Error::Unauthenticated { .. }
                | Error::Forbidden { .. }
                | Error::UnsupportedVersion { .. }
                | Error::Preface { .. }
                | Error::NoAddress
        )
    }
}

impl From<ErrorBody> for Error {
    fn from(body: ErrorBody) -> Self {
        let message = body.message;
        match body.code {
            ErrorCode::BadFrame => Error::BadFrame { message },
            ErrorCode::UnsupportedVersion { min, max } => {
                Error::UnsupportedVersion { min, max, message }
            }
            ErrorCode::Unauthenticated => Error::Unauthenticated { message },
            ErrorCode::Forbidden => Error::Forbidden { message },
            ErrorCode::NotFound => Error::NotFound { message },
            ErrorCode::InvalidArgument => Error::InvalidArgument { message },
            ErrorCode::SeatUnavailable { seats } => Error::SeatUnavailable { seats, message },
            ErrorCode::HoldExpired => Error::HoldExpired { message },
            ErrorCode::SoldOut => Error::SoldOut { message },
            ErrorCode::NotLeader { leader } => Error::NotLeader { leader, message },
            ErrorCode::Unavailable => Error::Unavailable { message },
            ErrorCode::Overloaded => Error::Overloaded { message },
            ErrorCode::Conflict => Error::Conflict { message },
            ErrorCode::Internal => Error::Internal { message },
            ErrorCode::SalesClosed => Error::SalesClosed { message },
            ErrorCode::OutcomeUnknown => Error::OutcomeUnknown { message },
            ErrorCode::NoAdjacentSeats {
                largest_block,
                free,
            } => Error::NoAdjacentSeats {
                largest_block,
                free,
                message,
            },
            ErrorCode::PageRequired {
                list_page_max_items,
            } => Error::PageRequired {
                list_page_max_items,
                message,
            },
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol {
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_maps_to_the_variant_of_the_same_name() {
        let codes = [
            ErrorCode::BadFrame,
            ErrorCode::UnsupportedVersion { min: 1, max: 1 },
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::InvalidArgument,
            ErrorCode::SeatUnavailable { seats: vec![3] },
            ErrorCode::HoldExpired,
            ErrorCode::SoldOut,
            ErrorCode::NotLeader { leader: None },
            ErrorCode::Unavailable,
            ErrorCode::Overloaded,
            ErrorCode::Conflict,
            ErrorCode::Internal,
            ErrorCode::SalesClosed,
            ErrorCode::OutcomeUnknown,
            ErrorCode::NoAdjacentSeats {
                largest_block: 2,
                free: 5,
            },
            ErrorCode::PageRequired {
                list_page_max_items: 500,
            },
        ];
        for code in codes {
            let name = code.name();
            let retryable = code.is_retryable();
            let error = Error::from(ErrorBody::new(code, "m"));
            assert_eq!(error.name(), name);
            assert!(error.is_server_error());
            if retryable {
                assert!(error.is_retryable(), "{name}");
            }
        }
    }

    #[test]
    fn seat_unavailable_keeps_the_seats() {
        let error = Error::from(ErrorBody::new(
            ErrorCode::SeatUnavailable { seats: vec![1, 2] },
            "taken",
        ));
        assert_eq!(
            error,
            Error::SeatUnavailable {
                seats: vec![1, 2],
                message: "taken".into()
            }
        );
        assert!(!error.is_retryable());
        assert!(!error.is_permanent());
    }
}
