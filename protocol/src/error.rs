//! Errors: [`ErrorCode`], the typed code every side shares, and [`ProtocolError`], this crate's own.

use serde::{Deserialize, Serialize};

use crate::types::SeatId;

/// A typed error code. Append-only; codes that need data carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// (0) A frame could not be decoded (too long, empty, or malformed payload).
    BadFrame,
    /// (1) The preface or hello asked for a protocol version this side does not speak.
    UnsupportedVersion {
        /// Oldest version spoken.
        min: u16,
        /// Newest version spoken.
        max: u16,
    },
    /// (2) No or unknown token, or a request before `Hello`.
    Unauthenticated,
    /// (3) The terminal's role does not allow this request.
    Forbidden,
    /// (4) The show, hold, booking or catalog item does not exist.
    NotFound,
    /// (5) A field is out of range or inconsistent (such as a payment amount).
    InvalidArgument,
    /// (6) Some requested seats are held, sold or blocked; nothing was held.
    SeatUnavailable {
        /// The seats that are not free.
        seats: Vec<SeatId>,
    },
    /// (7) The hold expired (its seats may already be someone else's).
    HoldExpired,
    /// (8) Not enough free seats of the category are left (fewer free than wanted; see
    /// `NoAdjacentSeats` for enough free seats that are not adjacent).
    SoldOut,
    /// (9) This node is a follower; send writes to the leader.
    NotLeader {
        /// The leader's client address, if known.
        leader: Option<String>,
    },
    /// (10) A dependency (the database) is down; safe to retry with the same idempotency key.
    Unavailable,
    /// (11) A queue or limit is full; back off and retry.
    Overloaded,
    /// (12) The request conflicts with the current state (such as a reused idempotency key).
    Conflict,
    /// (13) A bug on the server; it has been logged.
    Internal,
    /// (14) The show's sales window is closed for this caller: kiosks (and the web) sell until
    /// the show starts, the box office until `box_office_late_min` after.
    SalesClosed,
    /// (15) The database did not confirm a sale in time: it may or may not be committed. Its
    /// seats stay reserved while the node reads the store; a retry with the same idempotency
    /// key gets the booking or a definite answer. Never a failure.
    OutcomeUnknown,
    /// (16) Enough seats of the category are free for a best-available hold, but no `count` of
    /// them are adjacent in one row; nothing was held. Fewer seats, or seats by id, may succeed.
    NoAdjacentSeats {
        /// The largest number of adjacent free seats of the category in one row.
        largest_block: u32,
        /// Free seats of the category in all.
        free: u32,
    },
    /// (17) The list's reply would not fit in `frame_max_bytes`: ask for it by pages
    /// (`ListPage`), at most `list_page_max_items` items a page.
    PageRequired {
        /// The node's `list_page_max_items`.
        list_page_max_items: u32,
    },
}

impl ErrorCode {
    /// The code's name, as used in metrics, JSON and the spec.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "BadFrame",
            ErrorCode::UnsupportedVersion { .. } => "UnsupportedVersion",
            ErrorCode::Unauthenticated => "Unauthenticated",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::NotFound => "NotFound",
            ErrorCode::InvalidArgument => "InvalidArgument",
            ErrorCode::SeatUnavailable { .. } => "SeatUnavailable",
            ErrorCode::HoldExpired => "HoldExpired",
            ErrorCode::SoldOut => "SoldOut",
            ErrorCode::NotLeader { .. } => "NotLeader",
            ErrorCode::Unavailable => "Unavailable",
            ErrorCode::Overloaded => "Overloaded",
            ErrorCode::Conflict => "Conflict",
            ErrorCode::Internal => "Internal",
            ErrorCode::SalesClosed => "SalesClosed",
            ErrorCode::OutcomeUnknown => "OutcomeUnknown",
            ErrorCode::NoAdjacentSeats { .. } => "NoAdjacentSeats",
            ErrorCode::PageRequired { .. } => "PageRequired",
        }
    }

    /// Whether the same request may succeed if simply retried later (with the same idempotency key).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ErrorCode::Unavailable
                | ErrorCode::Overloaded
                | ErrorCode::NotLeader { .. }
                | ErrorCode::OutcomeUnknown
        )
    }
}

/// An error answer: a typed code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", code.name())]
pub struct ErrorBody {
    /// The typed code.
    pub code: ErrorCode,
    /// A message for humans (logs, cashier screens); not for parsing.
    pub message: String,
}

impl ErrorBody {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Errors of the codec itself.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The length header announced more than the configured maximum; nothing was allocated.
    #[error("frame of {len_bytes} bytes exceeds frame_max_bytes = {max_bytes}")]
    FrameTooLarge {
        /// Announced payload length.
        len_bytes: u64,
        /// Configured maximum.
        max_bytes: usize,
    },
    /// A zero-length frame, which is never valid.
    #[error("zero-length frame")]
    EmptyFrame,
    /// A message could not be encoded (a bug, or a message over the frame limit).
    #[error("cannot encode frame: {0}")]
    Encode(String),
    /// The underlying transport failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
