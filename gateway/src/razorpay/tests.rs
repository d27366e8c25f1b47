//! The client's pure parts: status mapping and webhook parsing of Razorpay-shaped bodies.

use reqwest::StatusCode;

use super::http::{check_id, status_error};
use super::webhook;
use crate::types::{PaymentStatus, WebhookKind};
use crate::{signature, GatewayError};

fn error_body(code: &str, description: &str) -> Vec<u8> {
    format!(r#"{{"error":{{"code":"{code}","description":"{description}","source":"business","step":"payment_initiation","reason":"input_validation_failed","metadata":{{}},"field":"amount"}}}}"#).into_bytes()
}

#[test]
fn statuses_map_to_typed_errors() {
    let map = |status: u16, body: &[u8]| {
        status_error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            body,
        )
    };
    let bad = error_body("BAD_REQUEST_ERROR", "The amount must be at least INR 1.00");
    assert_eq!(
        map(400, &bad),
        GatewayError::Rejected {
            code: "BAD_REQUEST_ERROR".to_owned(),
            description: "The amount must be at least INR 1.00".to_owned()
        }
    );
    let unknown = error_body("BAD_REQUEST_ERROR", "The id provided does not exist");
    assert!(matches!(map(400, &unknown), GatewayError::NotFound(_)));
    assert_eq!(map(401, &bad), GatewayError::Unauthorized);
    assert!(matches!(map(404, b"<html>"), GatewayError::NotFound(_)));
    assert!(matches!(map(409, b""), GatewayError::Rejected { .. }));
    let server = error_body("SERVER_ERROR", "down");
    assert_eq!(
        map(502, &server),
        GatewayError::Unavailable {
            status: 502,
            description: "down".to_owned()
        }
    );
    assert_eq!(map(504, b""), GatewayError::Timeout);
    assert!(matches!(map(302, b""), GatewayError::Malformed(_)));
    // A non-JSON body longer than the excerpt kept, with a multi-byte character at the cut.
    let long = "é".repeat(500);
    assert!(matches!(
        map(500, long.as_bytes()),
        GatewayError::Unavailable { .. }
    ));
}

#[test]
fn ids_that_could_leave_the_path_are_refused() {
    assert!(check_id("order_EKwxwAgItmmXdp").is_ok());
    for bad in ["", "a/b", "..", "pay_1?x=1", "pay 1", &"a".repeat(65)] {
        assert!(check_id(bad).is_err(), "{bad:?}");
    }
}

/// Shaped like the sample in Razorpay's webhook documentation: empty-string error fields,
/// `notes` as an empty array, nested card details the client ignores.
const CAPTURED: &str = r#"{"account_id":"acc_BFQ7uQEaa7j2z7","contains":["payment"],"created_at":1691735748,"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"acquirer_data":{"auth_code":"828553"},"amount":100,"amount_refunded":0,"bank":null,"captured":true,"card":{"entity":"card","id":"card_X","last4":"0153","network":"Visa"},"card_id":"card_X","created_at":1567674797,"currency":"SGD","description":null,"email":"a@example.com","entity":"payment","error_code":"","error_description":"","fee":null,"id":"pay_DESp9bgForNoUd","international":false,"invoice_id":null,"method":"card","notes":[],"order_id":"order_DESp9bgForNo00","refund_status":null,"status":"captured","tax":null}}}}"#;

#[test]
fn a_razorpay_webhook_parses_after_its_signature() {
    let secret = b"whsec";
    let signature = signature::webhook(secret, CAPTURED.as_bytes());
    let event = webhook::parse(secret, CAPTURED.as_bytes(), &signature, Some("evt_1"));
    let Ok(event) = event else {
        panic!("refused: {event:?}");
    };
    assert_eq!(event.kind, WebhookKind::PaymentCaptured);
    assert_eq!(event.event_id.as_deref(), Some("evt_1"));
    assert_eq!(event.created_at_s, 1691735748);
    let Some(payment) = event.payment else {
        panic!("no payment");
    };
    assert_eq!(payment.id, "pay_DESp9bgForNoUd");
    assert_eq!(payment.status, PaymentStatus::Captured);
    assert_eq!(payment.amount_minor, 100);
    assert_eq!(payment.error_description, None);
    assert!(event.order.is_none() && event.refund.is_none());
}

#[test]
fn a_bad_webhook_is_refused_before_it_is_read() {
    let secret = b"whsec";
    let wrong = signature::webhook(b"other", CAPTURED.as_bytes());
    assert_eq!(
        webhook::parse(secret, CAPTURED.as_bytes(), &wrong, None),
        Err(GatewayError::BadSignature)
    );
    // Signed, but not JSON: malformed, not a panic.
    let junk = b"{\"entity\":\"event\"";
    let signed = signature::webhook(secret, junk);
    assert!(matches!(
        webhook::parse(secret, junk, &signed, None),
        Err(GatewayError::Malformed(_))
    ));
    // Signed, but an unknown payment status.
    let odd = CAPTURED.replace("\"status\":\"captured\"", "\"status\":\"weird\"");
    let signed = signature::webhook(secret, odd.as_bytes());
    assert!(matches!(
        webhook::parse(secret, odd.as_bytes(), &signed, None),
        Err(GatewayError::Malformed(_))
    ));
    // Too long: refused without computing anything.
    let huge = vec![b' '; webhook::WEBHOOK_MAX_BYTES + 1];
    let signed = signature::webhook(secret, &huge);
    assert!(matches!(
        webhook::parse(secret, &huge, &signed, None),
        Err(GatewayError::Malformed(_))
    ));
    let signed = signature::webhook(secret, CAPTURED.as_bytes());
    let long_id = "e".repeat(webhook::EVENT_ID_MAX_CHARS + 1);
    assert!(matches!(
        webhook::parse(secret, CAPTURED.as_bytes(), &signed, Some(&long_id)),
        Err(GatewayError::Malformed(_))
    ));
}

#[test]
fn other_events_parse_as_other() {
    let body = CAPTURED.replace("payment.captured", "payment.dispute.created");
    let signed = signature::webhook(b"k", body.as_bytes());
    let kind = webhook::parse(b"k", body.as_bytes(), &signed, None).map(|e| e.kind);
    assert_eq!(
        kind,
        Ok(WebhookKind::Other("payment.dispute.created".to_owned()))
    );
}
