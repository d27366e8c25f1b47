//! The connection preface.
//!
//! A client opens every connection with [`PREFACE_LEN`] bytes: the eight magic bytes [`MAGIC`]
//! followed by its protocol version as a u16 big-endian. The server answers with the same magic and
//! the version it will speak. A peer whose first bytes are not the magic (an HTTP request, a telnet
//! user) is told what this port is with [`WRONG_MAGIC_LINE`], and the connection is closed.

/// The eight bytes that open every CineBook connection, in both directions.
pub const MAGIC: [u8; 8] = *b"CINEBOOK";

/// Total preface length in bytes: magic, then a u16 big-endian version.
pub const PREFACE_LEN: usize = MAGIC.len() + 2;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// The oldest protocol version this crate still understands.
pub const PROTOCOL_VERSION_MIN: u16 = 1;

/// What a server writes to a peer that did not open with [`MAGIC`], before closing.
pub const WRONG_MAGIC_LINE: &str = "This port speaks the CineBook binary protocol (see docs/PROTOCOL.md); use the `cinebook` client, not HTTP or telnet.\r\n";

/// The preface bytes for `version`.
pub fn encode(version: u16) -> [u8; PREFACE_LEN] {
    let mut out = [0u8; PREFACE_LEN];
    out[..MAGIC.len()].copy_from_slice(&MAGIC);
    out[MAGIC.len()..].copy_from_slice(&version.to_be_bytes());
    out
}

/// Why a preface was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PrefaceError {
    /// The first bytes are not [`MAGIC`]: not a CineBook peer.
    #[error("not a CineBook peer: the connection did not open with the CineBook magic bytes")]
    BadMagic,
    /// The magic is right but the version is outside what we speak.
    #[error("unsupported protocol version {got} (this side speaks {min}..={max})")]
    UnsupportedVersion {
        /// The version the peer asked for.
        got: u16,
        /// Oldest version we speak.
        min: u16,
        /// Newest version we speak.
        max: u16,
    },
}

/// The result of looking at the bytes received so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefaceCheck {
    /// Every byte so far matches; more are needed.
    NeedMore,
    /// A full, acceptable preface with this version.
    Accepted(u16),
    /// A refused preface.
    Refused(PrefaceError),
}

/// Checks the bytes received so far. A wrong magic is reported as soon as one byte differs, so a
/// telnet user typing a short line is answered at once instead of waiting for ten bytes.
pub fn check(received: &[u8]) -> PrefaceCheck {
    let magic_seen = received.len().min(MAGIC.len());
    if received[..magic_seen] != MAGIC[..magic_seen] {
        return PrefaceCheck::Refused(PrefaceError::BadMagic);
    }
    if received.len() < PREFACE_LEN {
        return PrefaceCheck::NeedMore;
    }
    let version = u16::from_be_bytes([received[MAGIC.len()], received[MAGIC.len() + 1]]);
    if (PROTOCOL_VERSION_MIN..=PROTOCOL_VERSION).contains(&version) {
        PrefaceCheck::Accepted(version)
    } else {
        PrefaceCheck::Refused(PrefaceError::UnsupportedVersion {
            got: version,
            min: PROTOCOL_VERSION_MIN,
            max: PROTOCOL_VERSION,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_our_own_preface() {
        assert_eq!(
            check(&encode(PROTOCOL_VERSION)),
            PrefaceCheck::Accepted(PROTOCOL_VERSION)
        );
    }

    #[test]
    fn partial_magic_needs_more() {
        assert_eq!(check(b"CINE"), PrefaceCheck::NeedMore);
        assert_eq!(check(b""), PrefaceCheck::NeedMore);
    }

    #[test]
    fn http_is_refused_at_the_first_byte() {
        assert_eq!(check(b"G"), PrefaceCheck::Refused(PrefaceError::BadMagic));
        assert_eq!(
            check(b"GET / HTTP/1.1\r\n"),
            PrefaceCheck::Refused(PrefaceError::BadMagic)
        );
    }

    #[test]
    fn future_version_is_refused() {
        let got = check(&encode(PROTOCOL_VERSION + 1));
        assert!(matches!(
            got,
            PrefaceCheck::Refused(PrefaceError::UnsupportedVersion { .. })
        ));
        assert!(matches!(check(&encode(0)), PrefaceCheck::Refused(_)));
    }
}
