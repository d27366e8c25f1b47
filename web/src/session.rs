//! The signed session cookie: a random session id and the holds this browser placed (each
//! with its show, deadline and seats, so a reloaded seat map marks them "yours"), tagged with
//! HMAC-SHA256 under the cookie secret. The server keeps no session state, so any replica that
//! shares the secret recognises the session; a tampered cookie is no session.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const SESSION_COOKIE: &str = "cinebook_session";

/// Bytes of randomness in a session id.
const SESSION_ID_BYTES: usize = 16;

/// Longest cookie value read, bytes (4 holds of 10 seats take about 300).
pub const COOKIE_VALUE_MAX_BYTES: usize = 2048;

/// Most holds and seats per hold a cookie may name (above any configured limit).
const COOKIE_HOLDS_MAX: usize = 16;
const COOKIE_SEATS_PER_HOLD_MAX: usize = 64;

/// Domain separation of the cookie's tag (v2: holds carry show, deadline and seats).
const TAG_CONTEXT: &[u8] = b"cinebook-web-session-v2";

/// One hold of a session as the cookie remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHold {
    /// Hold id.
    pub hold_id: u64,
    /// Its show.
    pub show_id: u64,
    /// Its deadline when last seen (placed, renewed, or the payment window's end).
    pub expires_at_ms: u64,
    /// Its seats.
    pub seats: Vec<u32>,
}

impl SessionHold {
    fn encode(&self) -> String {
        let seats: Vec<String> = self.seats.iter().map(u32::to_string).collect();
        format!(
            "{}-{}-{}-{}",
            self.hold_id,
            self.show_id,
            self.expires_at_ms,
            seats.join("_")
        )
    }

    fn decode(text: &str) -> Option<SessionHold> {
        let mut parts = text.split('-');
        let hold_id = parts.next()?.parse().ok()?;
        let show_id = parts.next()?.parse().ok()?;
        let expires_at_ms = parts.next()?.parse().ok()?;
        let seats = parts
            .next()?
            .split('_')
            .map(|s| s.parse().ok())
            .collect::<Option<Vec<u32>>>()?;
        if parts.next().is_some() || seats.is_empty() || seats.len() > COOKIE_SEATS_PER_HOLD_MAX {
            return None;
        }
        Some(SessionHold {
            hold_id,
            show_id,
            expires_at_ms,
            seats,
        })
    }
}

/// A browser session: its id and its holds, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Random, hex.
    pub id: String,
    /// Holds placed by this session, oldest first.
    pub holds: Vec<SessionHold>,
}

impl Session {
    /// A new session with no holds.
    pub fn fresh() -> Session {
        let bytes: [u8; SESSION_ID_BYTES] = rand::random();
        Session {
            id: hex::encode(bytes),
            holds: Vec::new(),
        }
    }

    /// Whether `hold_id` is this session's.
    pub fn owns(&self, hold_id: u64) -> bool {
        self.holds.iter().any(|h| h.hold_id == hold_id)
    }

    /// Adds (or replaces) a hold, forgetting the oldest beyond `holds_max`.
    pub fn add_hold(&mut self, hold: SessionHold, holds_max: usize) {
        assert!(holds_max > 0, "a session keeps at least one hold");
        self.holds.retain(|h| h.hold_id != hold.hold_id);
        self.holds.push(hold);
        while self.holds.len() > holds_max {
            self.holds.remove(0);
        }
    }

    /// Forgets a hold (released or sold).
    pub fn remove_hold(&mut self, hold_id: u64) {
        self.holds.retain(|h| h.hold_id != hold_id);
    }

    /// Records a hold's new deadline.
    pub fn set_expiry(&mut self, hold_id: u64, expires_at_ms: u64) {
        for hold in self.holds.iter_mut().filter(|h| h.hold_id == hold_id) {
            hold.expires_at_ms = expires_at_ms;
        }
    }

    /// The cookie value: `id.holds.tag`.
    pub fn encode(&self, secret: &[u8]) -> String {
        let holds = self.hold_list();
        let tag = hex::encode(tag(secret, &self.id, &holds));
        format!("{}.{holds}.{tag}", self.id)
    }

    /// Parses and checks a cookie value; `None` when malformed or the tag is wrong.
    pub fn decode(value: &str, secret: &[u8]) -> Option<Session> {
        if value.len() > COOKIE_VALUE_MAX_BYTES {
            return None;
        }
        let mut parts = value.split('.');
        let (id, holds, given) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || id.len() != SESSION_ID_BYTES * 2 {
            return None;
        }
        let given = hex::decode(given).ok()?;
        let expected = tag(secret, id, holds);
        if !bool::from(expected.as_slice().ct_eq(&given)) {
            return None;
        }
        let holds = if holds.is_empty() {
            Vec::new()
        } else {
            holds
                .split(',')
                .map(SessionHold::decode)
                .collect::<Option<Vec<SessionHold>>>()?
        };
        if holds.len() > COOKIE_HOLDS_MAX {
            return None;
        }
        Some(Session {
            id: id.to_string(),
            holds,
        })
    }

    /// The `Set-Cookie` header value (session cookie: gone when the browser closes).
    pub fn set_cookie(&self, secret: &[u8]) -> String {
        format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax",
            self.encode(secret)
        )
    }

    fn hold_list(&self) -> String {
        let holds: Vec<String> = self.holds.iter().map(SessionHold::encode).collect();
        holds.join(",")
    }
}

fn tag(secret: &[u8], id: &str, holds: &str) -> Vec<u8> {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(TAG_CONTEXT);
    mac.update(b"|");
    mac.update(id.as_bytes());
    mac.update(b"|");
    mac.update(holds.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The session in a `Cookie` header, if any and genuine.
pub fn from_cookie_header(header: Option<&str>, secret: &[u8]) -> Option<Session> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .and_then(|(_, value)| Session::decode(value, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(hold_id: u64) -> SessionHold {
        SessionHold {
            hold_id,
            show_id: 3,
            expires_at_ms: 1_000 + hold_id,
            seats: vec![4, 5],
        }
    }

    #[test]
    fn a_cookie_round_trips_and_a_forged_one_is_refused() {
        let mut session = Session::fresh();
        session.add_hold(hold(7), 2);
        session.add_hold(hold(9), 2);
        session.add_hold(hold(11), 2);
        let ids: Vec<u64> = session.holds.iter().map(|h| h.hold_id).collect();
        assert_eq!(ids, vec![9, 11]);
        session.set_expiry(9, 5_000);
        assert_eq!(session.holds[0].expires_at_ms, 5_000);
        let value = session.encode(b"secret");
        assert_eq!(Session::decode(&value, b"secret"), Some(session.clone()));
        assert_eq!(Session::decode(&value, b"other"), None);
        let forged = value.replacen(".9-", ".8-", 1);
        assert_ne!(forged, value);
        assert_eq!(Session::decode(&forged, b"secret"), None);
        assert_eq!(Session::decode("x.y", b"secret"), None);
        let header = format!("a=b; {SESSION_COOKIE}={value}");
        assert_eq!(
            from_cookie_header(Some(&header), b"secret"),
            Some(session.clone())
        );
        session.remove_hold(9);
        assert!(!session.owns(9) && session.owns(11));
        assert!(!Session::fresh().owns(1));
        assert_eq!(
            Session::decode(&"a".repeat(COOKIE_VALUE_MAX_BYTES + 1), b"secret"),
            None
        );
    }
}
