//! The two signature rules of a Razorpay-style gateway.
//!
//! - checkout: `hex(HMAC-SHA256(key_secret, order_id + "|" + payment_id))`
//! - webhook: `hex(HMAC-SHA256(webhook_secret, raw_body))`, sent in `X-Razorpay-Signature`
//!
//! Verification decodes the hex first and compares the MACs in constant time (`subtle`), so a
//! wrong signature takes as long to refuse whatever prefix of it is right.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// A signature longer than this many hex characters is refused before decoding (SHA-256 is 64).
pub const SIGNATURE_MAX_HEX_CHARS: usize = 128;

fn mac(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn verify(expected: [u8; 32], signature_hex: &str) -> bool {
    if signature_hex.len() > SIGNATURE_MAX_HEX_CHARS {
        return false;
    }
    match hex::decode(signature_hex.trim()) {
        Ok(given) => given.len() == expected.len() && bool::from(given.ct_eq(&expected)),
        Err(_) => false,
    }
}

/// The checkout signature for a paid order, as the gateway computes it.
pub fn checkout(key_secret: &[u8], order_id: &str, payment_id: &str) -> String {
    hex::encode(mac(
        key_secret,
        &[order_id.as_bytes(), b"|", payment_id.as_bytes()],
    ))
}

/// Whether `signature_hex` is the checkout signature of `order_id` and `payment_id`.
pub fn verify_checkout(
    key_secret: &[u8],
    order_id: &str,
    payment_id: &str,
    signature_hex: &str,
) -> bool {
    verify(
        mac(
            key_secret,
            &[order_id.as_bytes(), b"|", payment_id.as_bytes()],
        ),
        signature_hex,
    )
}

/// The webhook signature of a raw body, as the gateway computes it.
pub fn webhook(webhook_secret: &[u8], raw_body: &[u8]) -> String {
    hex::encode(mac(webhook_secret, &[raw_body]))
}

/// Whether `signature_hex` is the webhook signature of `raw_body`.
pub fn verify_webhook(webhook_secret: &[u8], raw_body: &[u8], signature_hex: &str) -> bool {
    verify(mac(webhook_secret, &[raw_body]), signature_hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    const RFC4231_2: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    #[test]
    fn webhook_signature_is_plain_hmac_sha256() {
        assert_eq!(webhook(b"Jefe", b"what do ya want for nothing?"), RFC4231_2);
        assert!(verify_webhook(
            b"Jefe",
            b"what do ya want for nothing?",
            RFC4231_2
        ));
    }

    #[test]
    fn checkout_signature_joins_with_a_pipe() {
        let joined = webhook(b"secret", b"order_1|pay_2");
        assert_eq!(checkout(b"secret", "order_1", "pay_2"), joined);
        assert!(verify_checkout(b"secret", "order_1", "pay_2", &joined));
        assert!(!verify_checkout(b"secret", "order_1", "pay_3", &joined));
        assert!(!verify_checkout(b"other", "order_1", "pay_2", &joined));
    }

    #[test]
    fn malformed_signatures_are_refused() {
        let good = webhook(b"k", b"body");
        assert!(!verify_webhook(b"k", b"body", &good[..62]));
        assert!(!verify_webhook(b"k", b"body", "zz"));
        assert!(!verify_webhook(b"k", b"body", ""));
        assert!(!verify_webhook(b"k", b"body", &"a".repeat(10_000)));
        assert!(verify_webhook(b"k", b"body", &good.to_uppercase()));
    }
}
