//! `CancelShow`: an operator cancels a show. Every confirmed booking is refunded in full
//! through the one cancellation path ([`super::durable::cancel_announced`]: through the gateway
//! for a gateway-paid booking, durable first, conditional on the booking still being
//! confirmed), and each refund writes a `show_cancelled` outbox row in its own transaction. A
//! retried `CancelShow` finds the refunded bookings closed and refunds nothing twice.

use std::sync::Arc;

use cinebook_protocol::types::{BookingStatus, ShowCancellation, ShowId};
use cinebook_protocol::{ErrorBody, ErrorCode};

use super::handlers::Caller;
use super::Node;
use crate::notify::message::NoticeKind;

/// Most bookings one `CancelShow` refunds (a show has at most this many seats).
pub const CANCEL_SHOW_BOOKINGS_MAX: usize = 100_000;

/// Refunds every confirmed booking of `show_id` and announces it; see the module docs.
pub async fn cancel_show(
    node: &Arc<Node>,
    caller: &Caller,
    show_id: ShowId,
    reason: String,
) -> Result<ShowCancellation, ErrorBody> {
    let slot = node
        .show(show_id)
        .ok_or_else(|| ErrorBody::new(ErrorCode::NotFound, format!("show {show_id}")))?;
    let bookings: Vec<_> = slot
        .read()
        .bookings()
        .take(CANCEL_SHOW_BOOKINGS_MAX)
        .cloned()
        .collect();
    let mut report = ShowCancellation {
        show_id,
        refunded: Vec::new(),
        already_closed: 0,
        failed: Vec::new(),
    };
    let reason = if reason.is_empty() {
        "the show was cancelled".to_owned()
    } else {
        reason
    };
    for booking in bookings {
        if !matches!(booking.status, BookingStatus::Confirmed) {
            report.already_closed += 1;
            continue;
        }
        let code = booking.code.clone();
        let refunded = super::durable::cancel_announced(
            node,
            caller,
            booking,
            true,
            reason.clone(),
            Some(NoticeKind::ShowCancelled),
        )
        .await;
        match refunded {
            Ok(_) => report.refunded.push(code),
            // Closed meanwhile by another path (a box office refund): nothing to do.
            Err(e) if e.code == ErrorCode::Conflict => report.already_closed += 1,
            Err(e) => {
                tracing::warn!(code = %code, error = %e.message, "show cancellation: refund failed; retry CancelShow");
                report.failed.push(code);
            }
        }
    }
    tracing::info!(
        show_id,
        refunded = report.refunded.len(),
        already_closed = report.already_closed,
        failed = report.failed.len(),
        "show cancelled"
    );
    Ok(report)
}
