//! Length limits on every string a request carries, checked before a request is logged or used,
//! and the one helper that shortens a client's text for a log line.

use std::borrow::Cow;

use cinebook_protocol::{ErrorBody, ErrorCode, Request};

use crate::config::ConnectionLimits;

/// Bytes of a client's text kept in a log field; longer text is cut (at a character boundary)
/// and marked with its full length.
pub const LOG_FIELD_MAX_BYTES: usize = 64;

/// `text` as a log field: at most [`LOG_FIELD_MAX_BYTES`] bytes of it.
pub fn log_field(text: &str) -> Cow<'_, str> {
    if text.len() <= LOG_FIELD_MAX_BYTES {
        return Cow::Borrowed(text);
    }
    let mut end = LOG_FIELD_MAX_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len()))
}

fn too_long(field: &str, len: usize, limit_name: &str, max: usize) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::InvalidArgument,
        format!("{field} is {len} bytes; {limit_name} is {max}"),
    )
}

fn check(field: &str, text: &str, limit_name: &str, max: usize) -> Result<(), ErrorBody> {
    if text.len() > max {
        return Err(too_long(field, text.len(), limit_name, max));
    }
    Ok(())
}

/// Every string in a catalog value (admin upserts), found through its serde form.
fn check_catalog(
    value: &impl serde::Serialize,
    limits: &ConnectionLimits,
) -> Result<(), ErrorBody> {
    fn walk(value: &serde_json::Value, max: usize) -> Option<usize> {
        match value {
            serde_json::Value::String(s) if s.len() > max => Some(s.len()),
            serde_json::Value::Array(items) => items.iter().find_map(|v| walk(v, max)),
            serde_json::Value::Object(fields) => fields.values().find_map(|v| walk(v, max)),
            _ => None,
        }
    }
    let max = limits.request_string_max_bytes;
    let Ok(value) = serde_json::to_value(value) else {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            "unreadable catalog value",
        ));
    };
    match walk(&value, max) {
        Some(len) => Err(too_long(
            "a catalog string",
            len,
            "request_string_max_bytes",
            max,
        )),
        None => Ok(()),
    }
}

/// Refuses a request with a string over its limit (`InvalidArgument`, naming the limit).
pub fn check_request(request: &Request, limits: &ConnectionLimits) -> Result<(), ErrorBody> {
    let any = limits.request_string_max_bytes;
    let other = |field: &str, text: &str| check(field, text, "request_string_max_bytes", any);
    match request {
        Request::Hello {
            client_name, token, ..
        } => {
            check(
                "client_name",
                client_name,
                "client_name_max_bytes",
                limits.client_name_max_bytes,
            )?;
            if let Some(token) = token {
                check("token", token, "token_max_bytes", limits.token_max_bytes)?;
            }
            Ok(())
        }
        Request::Hold {
            idempotency_key: Some(key),
            ..
        } => other("idempotency_key", key),
        Request::Confirm {
            payment,
            idempotency_key,
            ..
        }
        | Request::ConfirmWithContact {
            payment,
            idempotency_key,
            ..
        } => {
            other("idempotency_key", idempotency_key)?;
            match &payment.reference {
                Some(reference) => other("payment reference", reference),
                None => Ok(()),
            }
        }
        Request::Cancel { code, reason, .. } => {
            other("code", code)?;
            other("reason", reason)
        }
        Request::GetBooking { code } => other("code", code),
        Request::AddTerminal { name, .. } => other("name", name),
        Request::Coordinator { client_addr, .. } => other("client_addr", client_addr),
        Request::UpsertCity(v) => check_catalog(v, limits),
        Request::UpsertTheater(v) => check_catalog(v, limits),
        Request::UpsertScreen(v) => check_catalog(v, limits),
        Request::UpsertMovie(v) => check_catalog(v, limits),
        Request::UpsertShow(v) => check_catalog(v, limits),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_fields_are_cut_at_a_char_boundary() {
        assert_eq!(log_field("short"), "short");
        let long = "é".repeat(100);
        let cut = log_field(&long);
        assert!(cut.len() < LOG_FIELD_MAX_BYTES + 20, "{cut}");
        assert!(cut.ends_with("(200 bytes)"));
    }

    #[test]
    fn a_long_client_name_is_refused_naming_its_limit() {
        let limits = ConnectionLimits::default();
        let hello = Request::Hello {
            version: 1,
            client_name: "x".repeat(limits.client_name_max_bytes + 1),
            token: None,
        };
        let e = check_request(&hello, &limits).expect_err("refused");
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains("client_name_max_bytes"));
    }
}
