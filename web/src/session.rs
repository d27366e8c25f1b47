//! The signed session cookie: a random session id and the ids of the holds this browser placed,
//! tagged with HMAC-SHA256 under the cookie secret. The server keeps no session state, so any
//! replica that shares the secret recognises the session; a tampered cookie is no session.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const SESSION_COOKIE: &str = "cinebook_session";

/// Bytes of randomness in a session id.
const SESSION_ID_BYTES: usize = 16;

/// Domain separation of the cookie's tag.
const TAG_CONTEXT: &[u8] = b"cinebook-web-session-v1";

/// A browser session: its id and its holds, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Random, hex.
    pub id: String,
    /// Holds placed by this session, oldest first.
    pub holds: Vec<u64>,
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
        self.holds.contains(&hold_id)
    }

    /// Adds a hold, forgetting the oldest beyond `holds_max`.
    pub fn add_hold(&mut self, hold_id: u64, holds_max: usize) {
        assert!(holds_max > 0, "a session keeps at least one hold");
        self.holds.retain(|h| *h != hold_id);
        self.holds.push(hold_id);
        while self.holds.len() > holds_max {
            self.holds.remove(0);
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
                .map(|h| h.parse().ok())
                .collect::<Option<Vec<u64>>>()?
        };
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
        let ids: Vec<String> = self.holds.iter().map(u64::to_string).collect();
        ids.join(",")
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

    #[test]
    fn a_cookie_round_trips_and_a_forged_one_is_refused() {
        let mut session = Session::fresh();
        session.add_hold(7, 2);
        session.add_hold(9, 2);
        session.add_hold(11, 2);
        assert_eq!(session.holds, vec![9, 11]);
        let value = session.encode(b"secret");
        assert_eq!(Session::decode(&value, b"secret"), Some(session.clone()));
        assert_eq!(Session::decode(&value, b"other"), None);
        let forged = value.replacen(".9,", ".8,", 1);
        assert_ne!(forged, value);
        assert_eq!(Session::decode(&forged, b"secret"), None);
        assert_eq!(Session::decode("x.y", b"secret"), None);
        let header = format!("a=b; {SESSION_COOKIE}={value}");
        assert_eq!(
            from_cookie_header(Some(&header), b"secret"),
            Some(session.clone())
        );
        assert!(!Session::fresh().owns(1));
    }
}
