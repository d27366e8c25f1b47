//! Exit codes, and the errors the command line raises itself.

use cinebook_client::Error;

/// Success.
pub const OK: u8 = 0;
/// Anything not listed below.
pub const OTHER: u8 = 1;
/// Bad command line or argument (clap uses 2 as well).
pub const USAGE: u8 = 2;
/// The show, hold, booking, city or movie does not exist.
pub const NOT_FOUND: u8 = 3;
/// Seats unavailable, sold out, hold expired, sales closed, or a conflicting request.
pub const UNAVAILABLE_SEATS: u8 = 4;
/// Missing or unknown token, or the terminal's role does not allow it.
pub const AUTH: u8 = 5;
/// No server reachable, or the server is unavailable or overloaded (try again).
pub const SERVER: u8 = 6;
/// `scan`: the ticket was refused at the door (admitted before, another show, screen or day,
/// not valid).
pub const REFUSED: u8 = 7;

/// The exit-code table printed by `--help`.
pub const HELP: &str = "\
Exit codes:
  0  success
  1  other error (including a request whose outcome is unknown)
  2  usage error: bad command line or invalid argument
  3  not found: show, hold, booking, city or movie
  4  seats unavailable, sold out, hold expired, sales closed, or conflict
  5  authentication or permission: missing/unknown token, role not allowed
  6  server unavailable: unreachable, overloaded, or timed out (safe to retry)
  7  scan: ticket refused at the door (admitted before, wrong show/screen/day, not valid)";

/// An error found by the command line itself, with its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    /// The exit code.
    pub code: u8,
    /// What `--json` reports as the error's kind.
    pub kind: &'static str,
    /// For people.
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: USAGE,
            kind: "Usage",
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        CliError {
            code: NOT_FOUND,
            kind: "NotFound",
            message: message.into(),
        }
    }
}

/// The exit code of a client error.
pub fn code_of(error: &Error) -> u8 {
    match error {
        Error::NotFound { .. } => NOT_FOUND,
        Error::SeatUnavailable { .. }
        | Error::SoldOut { .. }
        | Error::NoAdjacentSeats { .. }
        | Error::HoldExpired { .. }
        | Error::Conflict { .. }
        | Error::SalesClosed { .. } => UNAVAILABLE_SEATS,
        Error::Unauthenticated { .. } | Error::Forbidden { .. } => AUTH,
        Error::InvalidArgument { .. } => USAGE,
        Error::Unavailable { .. }
        | Error::Overloaded { .. }
        | Error::NotLeader { .. }
        | Error::NoAddress
        | Error::Connect { .. }
        | Error::ConnectTimeout { .. }
        | Error::Preface { .. }
        | Error::Timeout { .. }
        | Error::ConnectionLost { .. } => SERVER,
        _ => OTHER,
    }
}

/// The exit code and kind of any error a command returned.
pub fn classify(error: &anyhow::Error) -> (u8, &'static str) {
    if let Some(cli) = error.downcast_ref::<CliError>() {
        return (cli.code, cli.kind);
    }
    if let Some(client) = error.downcast_ref::<Error>() {
        return (code_of(client), client.name());
    }
    (OTHER, "Other")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: cinebook_protocol::ErrorCode) -> Error {
        Error::from(cinebook_protocol::ErrorBody::new(code, "m"))
    }

    #[test]
    fn server_errors_map_to_documented_codes() {
        use cinebook_protocol::ErrorCode as C;
        assert_eq!(code_of(&server(C::NotFound)), 3);
        assert_eq!(code_of(&server(C::SeatUnavailable { seats: vec![1] })), 4);
        assert_eq!(code_of(&server(C::SoldOut)), 4);
        assert_eq!(
            code_of(&server(C::NoAdjacentSeats {
                largest_block: 1,
                free: 3
            })),
            4
        );
        assert_eq!(code_of(&server(C::HoldExpired)), 4);
        assert_eq!(code_of(&server(C::Unauthenticated)), 5);
        assert_eq!(code_of(&server(C::Forbidden)), 5);
        assert_eq!(code_of(&server(C::Unavailable)), 6);
        assert_eq!(code_of(&server(C::Overloaded)), 6);
        assert_eq!(code_of(&server(C::InvalidArgument)), 2);
        assert_eq!(code_of(&server(C::Internal)), 1);
        assert_eq!(code_of(&Error::Timeout { call_timeout_ms: 1 }), 6);
        assert_eq!(
            code_of(&Error::Indeterminate {
                request: "cancel",
                addr: "a".into()
            }),
            1
        );
    }

    #[test]
    fn anyhow_errors_keep_their_codes() {
        let error = anyhow::Error::new(server(cinebook_protocol::ErrorCode::SoldOut));
        assert_eq!(classify(&error), (4, "SoldOut"));
        let error = anyhow::Error::new(CliError::not_found("no city named Oz"));
        assert_eq!(classify(&error), (3, "NotFound"));
        assert_eq!(classify(&anyhow::anyhow!("disk full")), (1, "Other"));
        assert!(HELP.contains("6  server unavailable"));
    }
}
