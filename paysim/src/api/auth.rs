//! Basic auth with the key id and key secret, compared in constant time.

use axum::http::{header, HeaderMap};
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::ledger::ApiError;
use crate::sim::Sim;

/// Longest `Authorization` header looked at, bytes.
const AUTHORIZATION_MAX_BYTES: usize = 1024;

fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if value.len() > AUTHORIZATION_MAX_BYTES {
        return None;
    }
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Whether the request carries our key id and secret; Razorpay's 401 otherwise.
pub(crate) fn check(sim: &Sim, headers: &HeaderMap) -> Result<(), ApiError> {
    let refused = ApiError {
        status: 401,
        code: "BAD_REQUEST_ERROR",
        description: "The api key/secret provided is invalid".to_owned(),
        field: None,
    };
    let Some((id, secret)) = credentials(headers) else {
        return Err(refused);
    };
    let id_ok = id.as_bytes().ct_eq(sim.config.key_id.as_bytes());
    let secret_ok = secret.as_bytes().ct_eq(sim.config.key_secret.as_bytes());
    if bool::from(id_ok & secret_ok) {
        Ok(())
    } else {
        Err(refused)
    }
}
