//! What the door and the ticket requests carry: signed tickets, scans and admissions
//! (docs/PROTOCOL.md 17).

use serde::{Deserialize, Serialize};

use crate::ticket::TicketClaims;
use crate::types::{Booking, ScreenId, ShowId, TerminalId};

/// A booking's ticket: the booking and the signed text its QR code carries (answer to
/// `GetTicket`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketInfo {
    /// The booking as it is now.
    pub booking: Booking,
    /// The text to put in the ticket's QR code ([`crate::ticket::qr_text`]): `CB1:` and base32.
    pub payload: String,
    /// What the payload says, decoded (the same values the signature covers).
    pub claims: TicketClaims,
}

/// The cinema's ticket-verification key (answer to `TicketKey`), for door scanners that check
/// tickets offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketKeyInfo {
    /// The Ed25519 public key.
    pub public_key: [u8; crate::ticket::PUBLIC_KEY_BYTES],
    /// Its short id (the first four bytes of the key, hex), printed on keys and in payloads.
    pub key_id: String,
}

/// Where a door admits: a scan for another show or screen is refused. `None` admits any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorPlace {
    /// The show this door admits to.
    pub show_id: Option<ShowId>,
    /// The screen this door admits to.
    pub screen_id: Option<ScreenId>,
}

/// One admission at the door: when, where and by which terminal a booking was first admitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    /// Booking code.
    pub code: String,
    /// The show.
    pub show_id: ShowId,
    /// When, ms since the Unix epoch (the scanner's clock for an offline admission).
    pub at_ms: u64,
    /// The door terminal.
    pub terminal_id: TerminalId,
    /// The gate's name as the scanner gave it, such as `main door`.
    pub gate: String,
    /// Admitted by an offline scanner (by signature) and reported later.
    pub offline: bool,
}

/// What a scan decided. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScanVerdict {
    /// (0) Let them in: the booking is now `Admitted`.
    Admitted,
    /// (1) Refused: admitted before (`ScanResult.admission` says when and where).
    AlreadyAdmitted,
    /// (2) Refused: the ticket is for another show than this door's.
    WrongShow,
    /// (3) Refused: the ticket is for another screen than this door's.
    WrongScreen,
    /// (4) Refused: the ticket is not valid now (another day, or the show is over).
    WrongDay,
    /// (5) Refused: not a ticket of this cinema (bad signature, malformed, unknown code), or
    /// its booking is cancelled or refunded.
    NotValid,
    /// (6) An offline admission reported at sync was admitted before by another scanner or
    /// gate (`ScanResult.admission` is that first one). The guest is already in: it is
    /// flagged for the manager, not undone.
    Duplicate,
}

impl ScanVerdict {
    /// The lowercase name used by JSON and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            ScanVerdict::Admitted => "admitted",
            ScanVerdict::AlreadyAdmitted => "already_admitted",
            ScanVerdict::WrongShow => "wrong_show",
            ScanVerdict::WrongScreen => "wrong_screen",
            ScanVerdict::WrongDay => "wrong_day",
            ScanVerdict::NotValid => "not_valid",
            ScanVerdict::Duplicate => "duplicate",
        }
    }
}

/// The answer to one scan (or one reported offline admission).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanResult {
    /// What was decided.
    pub verdict: ScanVerdict,
    /// Why, for the door's screen.
    pub reason: String,
    /// The booking code, if the ticket named one.
    pub code: Option<String>,
    /// The booking as it is now, if found.
    pub booking: Option<Booking>,
    /// `Admitted`: this admission; `AlreadyAdmitted`/`Duplicate`: the first one.
    pub admission: Option<Admission>,
}

/// An admission an offline scanner made by signature, reported when it is back
/// (`ReportAdmissions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineAdmission {
    /// The ticket as scanned: a QR payload (or a booking code).
    pub ticket: String,
    /// When the scanner admitted it, ms since the Unix epoch.
    pub at_ms: u64,
    /// The gate.
    pub gate: String,
}
