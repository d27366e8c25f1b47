//! Razorpay's limits on what an order or refund may carry.

use cinebook_gateway::razorpay::wire;

use super::ApiError;

/// Smallest order amount, minor units (Razorpay's: 1.00 of the currency).
pub const ORDER_AMOUNT_MIN_MINOR: u64 = 100;
/// Largest order amount, minor units.
pub const ORDER_AMOUNT_MAX_MINOR: u64 = 1_000_000_000_000;
/// Longest receipt, characters (Razorpay's).
pub const RECEIPT_MAX_CHARS: usize = 40;
/// Most notes per entity (Razorpay's).
pub const NOTES_MAX: usize = 15;
/// Longest note key or value, characters (Razorpay's).
pub const NOTE_MAX_CHARS: usize = 256;
/// Characters after the prefix of a generated id (`order_` + 14), as Razorpay's.
pub const ID_RANDOM_CHARS: usize = 14;

pub(super) fn check_notes(notes: &wire::Notes) -> Result<(), ApiError> {
    let too_long = |(k, v): &(String, String)| {
        k.chars().count() > NOTE_MAX_CHARS || v.chars().count() > NOTE_MAX_CHARS
    };
    if notes.0.len() > NOTES_MAX || notes.0.iter().any(too_long) {
        return Err(ApiError::bad_field(
            "notes",
            "notes: at most 15 pairs of at most 256 characters",
        ));
    }
    Ok(())
}

pub(super) fn check_receipt(receipt: &Option<String>) -> Result<(), ApiError> {
    match receipt {
        Some(receipt) if receipt.chars().count() > RECEIPT_MAX_CHARS => Err(ApiError::bad_field(
            "receipt",
            "receipt: at most 40 characters",
        )),
        _ => Ok(()),
    }
}

pub(super) fn check_currency(currency: &str) -> Result<(), ApiError> {
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(ApiError::bad_field("currency", "The currency is invalid"))
    }
}
