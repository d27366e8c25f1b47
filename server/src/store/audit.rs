//! The audit texts both SQL stores write to `audit_events`.

use super::mysql::AUDIT_DETAIL_MAX_CHARS;
use super::{BlockRecord, SaleRecord};

/// Truncates `text` to [`AUDIT_DETAIL_MAX_CHARS`] characters.
pub(crate) fn audit_detail(text: String) -> String {
    match text.char_indices().nth(AUDIT_DETAIL_MAX_CHARS) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    }
}

/// The audit line of a sale.
pub(crate) fn sale_detail(sale: &SaleRecord) -> String {
    let b = &sale.booking;
    let seats: Vec<String> = b.seats.iter().map(|s| s.seat_id.to_string()).collect();
    let hold = sale
        .hold_id
        .map_or_else(|| "none".to_owned(), |h| h.to_string());
    audit_detail(format!(
        "sale code={} terminal={} method={} total={} {} key={} hold={hold} seats={}",
        b.code,
        b.terminal_id,
        b.payment.method.name(),
        b.total.amount_minor,
        b.total.currency,
        sale.idempotency_key,
        seats.join(",")
    ))
}

/// The audit kind of a block: `block` or `unblock`.
pub(crate) fn block_kind(block: &BlockRecord) -> &'static str {
    if block.blocked {
        "block"
    } else {
        "unblock"
    }
}

/// The audit line of a block.
pub(crate) fn block_detail(block: &BlockRecord) -> String {
    let seats: Vec<String> = block.seats.iter().map(|s| s.to_string()).collect();
    let reason = block
        .reason
        .as_deref()
        .map_or_else(String::new, |r| format!(" reason={r}"));
    audit_detail(format!(
        "{} terminal={} seats={}{reason}",
        block_kind(block),
        block.terminal_id,
        seats.join(",")
    ))
}

/// The audit line of an admission.
pub(crate) fn admission_detail(record: &super::AdmissionRecord) -> String {
    let a = &record.admission;
    audit_detail(format!(
        "admit code={} terminal={} gate={} offline={} at={}",
        a.code, a.terminal_id, a.gate, a.offline, a.at_ms
    ))
}
