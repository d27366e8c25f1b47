//! The customer's contact on a sale: checked at the edge, before anything is queued.

use cinebook_protocol::types::{Contact, CONTACT_EMAIL_BYTES_MAX, CONTACT_PHONE_BYTES_MAX};
use cinebook_protocol::{ErrorBody, ErrorCode};

/// Fewest characters a phone number has (digits, spaces, dashes and a leading `+`).
pub const CONTACT_PHONE_BYTES_MIN: usize = 4;

/// `Ok` when every part of `contact` given is well formed; `InvalidArgument` naming the part.
pub fn check(contact: &Contact) -> Result<(), ErrorBody> {
    if let Some(email) = &contact.email {
        check_email(email)?;
    }
    if let Some(phone) = &contact.phone {
        check_phone(phone)?;
    }
    Ok(())
}

fn invalid(why: String) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidArgument, why)
}

/// An address with exactly one `@`, text either side, no white space or control characters,
/// at most [`CONTACT_EMAIL_BYTES_MAX`] bytes.
pub fn check_email(email: &str) -> Result<(), ErrorBody> {
    if email.is_empty() || email.len() > CONTACT_EMAIL_BYTES_MAX {
        return Err(invalid(format!(
            "contact.email has {} bytes; 1..={CONTACT_EMAIL_BYTES_MAX} are allowed",
            email.len()
        )));
    }
    let mut parts = email.split('@');
    let (local, domain) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let bad_char = email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
    if parts.next().is_some() || local.is_empty() || domain.is_empty() || bad_char {
        return Err(invalid(format!(
            "contact.email {email:?} is not an address (one @, text either side, no spaces)"
        )));
    }
    Ok(())
}

/// Digits, spaces and dashes with an optional leading `+`, at least 4 digits' worth and at most
/// [`CONTACT_PHONE_BYTES_MAX`] bytes.
pub fn check_phone(phone: &str) -> Result<(), ErrorBody> {
    let body = phone.strip_prefix('+').unwrap_or(phone);
    let ok_chars = body
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
    let digits = body.chars().filter(char::is_ascii_digit).count();
    if !(CONTACT_PHONE_BYTES_MIN..=CONTACT_PHONE_BYTES_MAX).contains(&phone.len())
        || !ok_chars
        || digits < CONTACT_PHONE_BYTES_MIN
    {
        return Err(invalid(format!(
            "contact.phone {phone:?} is not a phone number ({CONTACT_PHONE_BYTES_MIN}..={CONTACT_PHONE_BYTES_MAX} bytes of digits, spaces, dashes, one leading +)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(email: Option<&str>, phone: Option<&str>) -> Contact {
        Contact {
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
        }
    }

    #[test]
    fn good_contacts_pass_and_bad_ones_are_named() {
        assert!(check(&contact(None, None)).is_ok());
        assert!(check(&contact(Some("ana@example.ch"), Some("+41 79 123-45-67"))).is_ok());
        for email in ["", "no-at", "a@b@c", "@b", "a@", "a b@c", "a@b\n", "<a@b>"] {
            let e = check(&contact(Some(email), None)).expect_err("an error");
            assert_eq!(e.code, ErrorCode::InvalidArgument, "{email:?}");
            assert!(e.message.contains("contact.email"), "{e:?}");
        }
        let long = format!("{}@b.ch", "a".repeat(CONTACT_EMAIL_BYTES_MAX));
        assert!(check(&contact(Some(&long), None)).is_err());
        for phone in ["", "12", "+", "12a45", "++1234", &"1".repeat(40)] {
            let e = check(&contact(None, Some(phone))).expect_err("an error");
            assert!(e.message.contains("contact.phone"), "{phone:?}: {e:?}");
        }
    }
}
