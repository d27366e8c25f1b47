//! Signed tickets: what a QR code on a ticket carries, and the offline check a door scanner
//! runs on it (docs/PROTOCOL.md 17).
//!
//! A payload is `CB1:` followed by RFC 4648 base32 (no padding) of the postcard-encoded
//! [`TicketClaims`] and the cinema's 64-byte Ed25519 signature over exactly those bytes. Base32
//! uses only `A-Z 2-7`, which a QR code stores in its compact alphanumeric mode. Anyone with the
//! public key ([`TicketVerifier`]) can check a payload without the network; only the nodes hold
//! the signing key ([`TicketSigner`]).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::door::{DoorPlace, ScanVerdict};
use crate::types::{Booking, ScreenId, Show, ShowId};

/// How every payload starts (version 1).
pub const TICKET_PREFIX: &str = "CB1:";
/// The longest payload accepted, in characters (a 20-seat booking is about 420).
pub const TICKET_PAYLOAD_MAX_CHARS: usize = 1_024;
/// Bytes of an Ed25519 public key.
pub const PUBLIC_KEY_BYTES: usize = 32;
/// Bytes of an Ed25519 signing-key seed.
pub const SIGNING_SEED_BYTES: usize = 32;
/// Bytes of a signature.
pub const SIGNATURE_BYTES: usize = 64;
/// A ticket admits from this long before its show starts.
pub const ADMIT_BEFORE_START_MS: u64 = 2 * 3_600_000;
/// ... until this long after the film's end (start + runtime).
pub const ADMIT_AFTER_END_MS: u64 = 0;

/// What a ticket says. The signature covers its postcard encoding. Fields are never reordered
/// (a new field means a new prefix version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketClaims {
    /// The signing key's id (its first four bytes), so a scanner can tell an old key's tickets.
    pub key_id: [u8; 4],
    /// Booking code.
    pub code: String,
    /// The show.
    pub show_id: ShowId,
    /// Its screen.
    pub screen_id: ScreenId,
    /// The show's start, ms since the Unix epoch.
    pub starts_at_ms: u64,
    /// Seat labels.
    pub seats: Vec<String>,
    /// Admission opens, ms since the Unix epoch.
    pub valid_from_ms: u64,
    /// Admission closes (exclusive).
    pub valid_until_ms: u64,
    /// When the payload was signed.
    pub issued_at_ms: u64,
}

/// Why a payload is not a ticket of this cinema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// Not `CB1:` and base32 of claims and a signature, or longer than
    /// [`TICKET_PAYLOAD_MAX_CHARS`].
    #[error("not a CineBook ticket: {0}")]
    Malformed(String),
    /// Well-formed, but not signed by this cinema's key (forged, altered, or another key).
    #[error("the ticket's signature does not match the cinema's key")]
    BadSignature,
    /// A public key that is not 32 bytes of hex, or not a valid Ed25519 point.
    #[error("bad ticket key: {0}")]
    BadKey(String),
}

/// The nodes' signing key.
#[derive(Clone)]
pub struct TicketSigner {
    key: SigningKey,
}

impl std::fmt::Debug for TicketSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("TicketSigner")
            .field("key_id", &self.verifier().key_id())
            .finish_non_exhaustive()
    }
}

impl TicketSigner {
    /// The key of a 32-byte seed (kept secret, in the node's key file).
    pub fn from_seed(seed: &[u8; SIGNING_SEED_BYTES]) -> Self {
        TicketSigner {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The matching public key.
    pub fn verifier(&self) -> TicketVerifier {
        TicketVerifier {
            key: self.key.verifying_key(),
        }
    }

    /// Signs `claims` into a payload.
    pub fn sign(&self, claims: &TicketClaims) -> String {
        // Serialising a struct of strings and integers into a Vec cannot fail.
        let mut bytes = postcard::to_allocvec(claims).unwrap_or_default();
        let signature = self.key.sign(&bytes);
        bytes.extend_from_slice(&signature.to_bytes());
        format!(
            "{TICKET_PREFIX}{}",
            data_encoding::BASE32_NOPAD.encode(&bytes)
        )
    }
}

/// The text to put in a booking's QR code: its signed [`TicketClaims`] (code, show, screen,
/// seats, admission window from [`ADMIT_BEFORE_START_MS`] before the start to the film's end).
/// The one function every producer of tickets calls (box office, web, notifications).
pub fn qr_text(
    signer: &TicketSigner,
    booking: &Booking,
    show: &Show,
    runtime_min: u16,
    issued_at_ms: u64,
) -> String {
    signer.sign(&claims_for(
        signer,
        booking,
        show,
        runtime_min,
        issued_at_ms,
    ))
}

/// The claims [`qr_text`] signs.
pub fn claims_for(
    signer: &TicketSigner,
    booking: &Booking,
    show: &Show,
    runtime_min: u16,
    issued_at_ms: u64,
) -> TicketClaims {
    let ends_at_ms = show
        .starts_at_ms
        .saturating_add(u64::from(runtime_min) * 60_000);
    TicketClaims {
        key_id: signer.verifier().key_id_bytes(),
        code: booking.code.clone(),
        show_id: show.id,
        screen_id: show.screen_id,
        starts_at_ms: show.starts_at_ms,
        seats: booking.seats.iter().map(|s| s.label.clone()).collect(),
        valid_from_ms: show.starts_at_ms.saturating_sub(ADMIT_BEFORE_START_MS),
        valid_until_ms: ends_at_ms
            .saturating_add(ADMIT_AFTER_END_MS)
            .max(show.starts_at_ms + 1),
        issued_at_ms,
    }
}

/// The public half: checks payloads offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketVerifier {
    key: VerifyingKey,
}

impl TicketVerifier {
    /// A key of 32 bytes.
    pub fn from_bytes(bytes: &[u8; PUBLIC_KEY_BYTES]) -> Result<Self, TicketError> {
        VerifyingKey::from_bytes(bytes)
            .map(|key| TicketVerifier { key })
            .map_err(|e| TicketError::BadKey(e.to_string()))
    }

    /// A key as [`TicketVerifier::to_hex`] prints it (64 hex digits; an `ed25519:` prefix
    /// and surrounding white space are allowed).
    pub fn from_hex(text: &str) -> Result<Self, TicketError> {
        let text = text.trim();
        let text = text.strip_prefix("ed25519:").unwrap_or(text);
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .map_err(|e| TicketError::BadKey(format!("not hex: {e}")))?;
        let bytes: [u8; PUBLIC_KEY_BYTES] = bytes.try_into().map_err(|b: Vec<u8>| {
            TicketError::BadKey(format!("{} bytes, not {PUBLIC_KEY_BYTES}", b.len()))
        })?;
        Self::from_bytes(&bytes)
    }

    /// The key's bytes.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_BYTES] {
        self.key.to_bytes()
    }

    /// `ed25519:` and 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        format!(
            "ed25519:{}",
            data_encoding::HEXLOWER.encode(&self.key.to_bytes())
        )
    }

    fn key_id_bytes(&self) -> [u8; 4] {
        let b = self.key.to_bytes();
        [b[0], b[1], b[2], b[3]]
    }

    /// The key's short id: its first four bytes, hex.
    pub fn key_id(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.key_id_bytes())
    }

    /// The claims of a payload signed by this key.
    pub fn verify(&self, payload: &str) -> Result<TicketClaims, TicketError> {
        let (claims, signed, signature) = decode(payload)?;
        self.key
            .verify(&signed, &signature)
            .map_err(|_| TicketError::BadSignature)?;
        Ok(claims)
    }
}

/// Whether `text` is a payload (and not a booking code).
pub fn is_payload(text: &str) -> bool {
    text.trim()
        .get(..TICKET_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(TICKET_PREFIX))
}

/// The claims, the signed bytes and the signature of a payload, unchecked.
fn decode(payload: &str) -> Result<(TicketClaims, Vec<u8>, Signature), TicketError> {
    let text = payload.trim();
    if text.len() > TICKET_PAYLOAD_MAX_CHARS {
        return Err(TicketError::Malformed(format!(
            "{} characters, at most {TICKET_PAYLOAD_MAX_CHARS}",
            text.len()
        )));
    }
    if !is_payload(text) {
        return Err(TicketError::Malformed(format!(
            "it does not start with {TICKET_PREFIX}"
        )));
    }
    let body = text[TICKET_PREFIX.len()..].to_ascii_uppercase();
    let mut bytes = data_encoding::BASE32_NOPAD
        .decode(body.as_bytes())
        .map_err(|e| TicketError::Malformed(format!("not base32: {e}")))?;
    if bytes.len() <= SIGNATURE_BYTES {
        return Err(TicketError::Malformed("too short".into()));
    }
    let split = bytes.len() - SIGNATURE_BYTES;
    let signature: [u8; SIGNATURE_BYTES] = bytes[split..]
        .try_into()
        .map_err(|_| TicketError::Malformed("no signature".into()))?;
    bytes.truncate(split);
    let claims: TicketClaims = postcard::from_bytes(&bytes)
        .map_err(|e| TicketError::Malformed(format!("bad claims: {e}")))?;
    Ok((claims, bytes, Signature::from_bytes(&signature)))
}

/// What a door decides from the claims alone (the offline check, and the server's first one):
/// `Ok` admits; otherwise the refusal and its reason. Signature and double admission are
/// checked elsewhere.
pub fn door_check(
    claims: &TicketClaims,
    place: &DoorPlace,
    now_ms: u64,
) -> Result<(), (ScanVerdict, String)> {
    if let Some(show_id) = place.show_id.filter(|s| *s != claims.show_id) {
        return Err((
            ScanVerdict::WrongShow,
            format!(
                "ticket {} is for show {}, this door admits show {show_id}",
                claims.code, claims.show_id
            ),
        ));
    }
    if let Some(screen_id) = place.screen_id.filter(|s| *s != claims.screen_id) {
        return Err((
            ScanVerdict::WrongScreen,
            format!(
                "ticket {} is for screen {}, this door is screen {screen_id}",
                claims.code, claims.screen_id
            ),
        ));
    }
    if now_ms < claims.valid_from_ms || now_ms >= claims.valid_until_ms {
        let when = if now_ms < claims.valid_from_ms {
            "not yet valid"
        } else {
            "no longer valid"
        };
        return Err((
            ScanVerdict::WrongDay,
            format!(
                "ticket {} is {when}: its show starts {} (admission {} to {})",
                claims.code,
                utc(claims.starts_at_ms),
                utc(claims.valid_from_ms),
                utc(claims.valid_until_ms)
            ),
        ));
    }
    Ok(())
}

/// `2026-12-06 20:00 UTC` (the server has no time zone of the cinema; clients print local time).
pub fn utc(ms: u64) -> String {
    let secs = ms / 1_000;
    let days = (secs / 86_400) as i64;
    let (h, m) = ((secs % 86_400) / 3_600, (secs % 3_600) / 60);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{d:02} {h:02}:{m:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BookedSeat, BookingStatus, Category, Money, Payment, PaymentMethod};

    fn booking() -> Booking {
        let money = |amount_minor| Money {
            amount_minor,
            currency: "CHF".into(),
        };
        Booking {
            code: "K7QX-3MPA-9RTD-4WXY".into(),
            show_id: 7,
            seats: (1..=4)
                .map(|n| BookedSeat {
                    seat_id: n,
                    label: format!("F{n}"),
                    category: Category::Standard,
                    price_minor: 1_500,
                })
                .collect(),
            total: money(6_000),
            payment: Payment {
                method: PaymentMethod::Cash,
                amount: money(6_000),
                reference: None,
            },
            status: BookingStatus::Confirmed,
            terminal_id: 2,
            sold_at_ms: 1_000,
            lamport: 3,
            node_id: 1,
        }
    }

    fn show() -> Show {
        Show {
            id: 7,
            movie_id: 1,
            screen_id: 3,
            starts_at_ms: 1_800_000_000_000,
            currency: "CHF".into(),
            prices: Vec::new(),
        }
    }

    #[test]
    fn a_payload_verifies_with_the_public_key_and_fits_a_qr_code() {
        let signer = TicketSigner::from_seed(&[7; 32]);
        let text = qr_text(&signer, &booking(), &show(), 120, 5);
        assert!(text.starts_with("CB1:"));
        // QR alphanumeric mode: digits, upper case and ` $%*+-./:`.
        assert!(text
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase() || c == ':'));
        assert!(text.len() < 300, "{} chars", text.len());
        let claims = signer.verifier().verify(&text).expect("verifies");
        assert_eq!(claims.code, "K7QX-3MPA-9RTD-4WXY");
        assert_eq!(claims.seats, ["F1", "F2", "F3", "F4"]);
        assert_eq!(claims.screen_id, 3);
        assert_eq!(
            claims.valid_from_ms,
            show().starts_at_ms - ADMIT_BEFORE_START_MS
        );
        assert_eq!(claims.valid_until_ms, show().starts_at_ms + 120 * 60_000);
        // A scanner may read it in lower case.
        assert!(signer.verifier().verify(&text.to_lowercase()).is_ok());
    }

    #[test]
    fn an_altered_or_foreign_payload_is_refused() {
        let signer = TicketSigner::from_seed(&[7; 32]);
        let text = qr_text(&signer, &booking(), &show(), 120, 5);
        let other = TicketSigner::from_seed(&[8; 32]);
        assert_eq!(
            other.verifier().verify(&text),
            Err(TicketError::BadSignature)
        );
        // Flip one character of the claims.
        let mut altered: Vec<char> = text.chars().collect();
        altered[10] = if altered[10] == 'A' { 'B' } else { 'A' };
        let altered: String = altered.into_iter().collect();
        assert!(signer.verifier().verify(&altered).is_err());
        for bad in ["", "K7QX-3MPA", "CB1:", "CB1:!!!!", "CB1:AAAA"] {
            assert!(
                matches!(
                    signer.verifier().verify(bad),
                    Err(TicketError::Malformed(_))
                ),
                "{bad}"
            );
        }
        let long = format!("CB1:{}", "A".repeat(TICKET_PAYLOAD_MAX_CHARS));
        assert!(matches!(
            signer.verifier().verify(&long),
            Err(TicketError::Malformed(_))
        ));
    }

    #[test]
    fn the_key_round_trips_as_hex() {
        let verifier = TicketSigner::from_seed(&[9; 32]).verifier();
        let hex = verifier.to_hex();
        assert!(hex.starts_with("ed25519:"));
        assert_eq!(TicketVerifier::from_hex(&hex), Ok(verifier.clone()));
        assert_eq!(TicketVerifier::from_hex(&hex[8..]), Ok(verifier.clone()));
        assert!(TicketVerifier::from_hex("abcd").is_err());
        assert!(TicketVerifier::from_hex("zz").is_err());
        assert_eq!(verifier.key_id().len(), 8);
    }

    #[test]
    fn the_door_refuses_another_show_screen_or_day() {
        let signer = TicketSigner::from_seed(&[7; 32]);
        let claims = claims_for(&signer, &booking(), &show(), 120, 5);
        let start = show().starts_at_ms;
        let any = DoorPlace::default();
        assert_eq!(door_check(&claims, &any, start), Ok(()));
        let verdict = |place: &DoorPlace, now| door_check(&claims, place, now).map_err(|e| e.0);
        let show8 = DoorPlace {
            show_id: Some(8),
            screen_id: None,
        };
        assert_eq!(verdict(&show8, start), Err(ScanVerdict::WrongShow));
        let screen4 = DoorPlace {
            show_id: None,
            screen_id: Some(4),
        };
        assert_eq!(verdict(&screen4, start), Err(ScanVerdict::WrongScreen));
        assert_eq!(
            verdict(&any, start - 86_400_000),
            Err(ScanVerdict::WrongDay)
        );
        assert_eq!(
            verdict(&any, start + 86_400_000),
            Err(ScanVerdict::WrongDay)
        );
        let (_, reason) = door_check(&claims, &any, start + 86_400_000).expect_err("late");
        assert!(reason.contains("2027-01-15 08:00 UTC"), "{reason}");
    }
}
