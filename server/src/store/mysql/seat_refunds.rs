//! Partial refunds (`sql/mysql/0006_seat_refunds.sql`): some seats of a confirmed booking.

use super::*;
use crate::store::payments::seats_text;

impl MysqlStore {
    pub(super) async fn try_commit_seat_refund(&self, refund: &SeatRefundRecord) -> Attempt<()> {
        let code = refund.code.as_str();
        let mut tx = self.begin().await?;
        self.check_fence(&mut tx).await?;
        let booking: Option<(String, u64)> = tx
            .exec_first(
                "SELECT status, show_id FROM bookings WHERE code = ? FOR UPDATE",
                (code,),
            )
            .await?;
        let Some((status, show_id)) = booking else {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!("booking {code}")).into());
        };
        let owned: Vec<(u32, i64)> = tx
            .exec(
                "SELECT seat_id, price_minor FROM booking_seats WHERE code = ? FOR UPDATE",
                (code,),
            )
            .await?;
        if let Some(why) = refusal(refund, &status, &owned) {
            tx.rollback().await?;
            return Err(StoreError::Conflict(why).into());
        }
        tx.exec_drop(
            "INSERT INTO seat_refunds (code, seats, amount_minor, currency, terminal_id, at_ms, \
             lamport, node_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            Params::Positional(vec![
                Value::from(code),
                Value::from(seats_text(&refund.seats)),
                Value::from(refund.amount.amount_minor),
                Value::from(refund.amount.currency.as_str()),
                Value::from(refund.terminal_id),
                Value::from(refund.at_ms),
                Value::from(refund.lamport),
                Value::from(refund.node_id),
                Value::from(refund.reason.as_str()),
            ]),
        )
        .await?;
        let refund_id = tx.last_insert_id().ok_or_else(|| {
            StoreError::Corrupt(format!("seat_refunds gave no id for booking {code}"))
        })?;
        let marks = vec!["?"; refund.seats.len()].join(", ");
        let mut params = vec![Value::from(refund_id), Value::from(code)];
        params.extend(refund.seats.iter().map(|s| Value::from(*s)));
        tx.exec_drop(
            format!(
                "INSERT INTO seat_refund_seats \
                 (code, seat_id, show_id, position, label, category, price_minor, refund_id) \
                 SELECT code, seat_id, show_id, position, label, category, price_minor, ? \
                 FROM booking_seats WHERE code = ? AND seat_id IN ({marks})"
            ),
            Params::Positional(params.clone()),
        )
        .await?;
        tx.exec_drop(
            format!("DELETE FROM booking_seats WHERE code = ? AND seat_id IN ({marks})"),
            Params::Positional(params[1..].to_vec()),
        )
        .await?;
        tx.exec_drop(
            "UPDATE bookings SET total_minor = total_minor - ? WHERE code = ?",
            (refund.amount.amount_minor, code),
        )
        .await?;
        tx.exec_drop(
            "INSERT INTO audit_events (show_id, lamport, node_id, kind, code, detail, at_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            Params::Positional(vec![
                Value::from(show_id),
                Value::from(refund.lamport),
                Value::from(refund.node_id),
                Value::from("partial_refund"),
                Value::from(code),
                Value::from(seat_refund_detail(refund)),
                Value::from(refund.at_ms),
            ]),
        )
        .await?;
        super::outbox::insert_outbox(&mut tx, &refund.outbox).await?;
        Self::commit(tx).await
    }
}

/// The audit row's detail of a partial refund.
pub(crate) fn seat_refund_detail(refund: &SeatRefundRecord) -> String {
    audit_detail(format!(
        "partial_refund code={} terminal={} seats={} refund={} {} reason={}",
        refund.code,
        refund.terminal_id,
        seats_text(&refund.seats),
        refund.amount.amount_minor,
        refund.amount.currency,
        refund.reason
    ))
}

/// Why the store refuses a partial refund of a booking in `status` owning `owned` (seat,
/// price), if it does: not confirmed, a seat not owned, every seat, or an amount that is not
/// the seats' prices.
pub(crate) fn refusal(
    refund: &SeatRefundRecord,
    status: &str,
    owned: &[(SeatId, i64)],
) -> Option<String> {
    let code = &refund.code;
    if status != status_name(BookingStatus::Confirmed) {
        return Some(format!("booking {code} is {status}, not confirmed"));
    }
    let missing: Vec<SeatId> = refund
        .seats
        .iter()
        .copied()
        .filter(|s| !owned.iter().any(|(o, _)| o == s))
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "booking {code} does not own seats {missing:?} (refunded before, or never its own)"
        ));
    }
    if refund.seats.is_empty() || refund.seats.len() >= owned.len() {
        return Some(format!(
            "a partial refund of booking {code} names some, not all, of its seats"
        ));
    }
    let prices: i64 = owned
        .iter()
        .filter(|(s, _)| refund.seats.contains(s))
        .map(|(_, p)| p)
        .sum();
    (prices != refund.amount.amount_minor).then(|| {
        format!(
            "a partial refund of booking {code} returns {} but its seats cost {prices}",
            refund.amount.amount_minor
        )
    })
}
