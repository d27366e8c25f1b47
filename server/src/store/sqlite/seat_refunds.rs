//! Partial refunds in the embedded store (`sql/sqlite/0004_seat_refunds.sql`); the rules are
//! the MySQL store's (`refusal`).

use cinebook_protocol::types::SeatId;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::{Op, SqliteStore};
use crate::store::mysql::seat_refunds::{refusal, seat_refund_detail};
use crate::store::payments::seats_text;
use crate::store::{SeatRefundRecord, StoreError};

impl SqliteStore {
    pub(super) fn commit_seat_refund_blocking(
        conn: &mut Connection,
        refund: &SeatRefundRecord,
    ) -> Result<(), StoreError> {
        let op = "commit_seat_refund";
        let code = refund.code.as_str();
        let tx = Self::write_tx(conn, op)?;
        let booking: Option<(String, u64)> = tx
            .query_row(
                "SELECT status, show_id FROM bookings WHERE code = ?1",
                params![code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .op(op)?;
        let Some((status, show_id)) = booking else {
            return Err(StoreError::NotFound(format!("booking {code}")));
        };
        let owned: Vec<(SeatId, i64)> = {
            let mut statement = tx
                .prepare("SELECT seat_id, price_minor FROM booking_seats WHERE code = ?1")
                .op(op)?;
            let rows = statement
                .query_map(params![code], |r| Ok((r.get(0)?, r.get(1)?)))
                .op(op)?;
            rows.collect::<Result<_, _>>().op(op)?
        };
        if let Some(why) = refusal(refund, &status, &owned) {
            return Err(StoreError::Conflict(why));
        }
        tx.execute(
            "INSERT INTO seat_refunds (code, seats, amount_minor, currency, terminal_id, at_ms, \
             lamport, node_id, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                code,
                seats_text(&refund.seats),
                refund.amount.amount_minor,
                refund.amount.currency,
                refund.terminal_id,
                refund.at_ms,
                refund.lamport,
                refund.node_id,
                refund.reason
            ],
        )
        .op(op)?;
        let refund_id = tx.last_insert_rowid();
        let marks = vec!["?"; refund.seats.len()].join(", ");
        let mut values = vec![Value::from(refund_id), Value::from(code.to_owned())];
        values.extend(refund.seats.iter().map(|s| Value::from(*s)));
        tx.execute(
            &format!(
                "INSERT INTO seat_refund_seats \
                 (code, seat_id, show_id, position, label, category, price_minor, refund_id) \
                 SELECT code, seat_id, show_id, position, label, category, price_minor, ? \
                 FROM booking_seats WHERE code = ? AND seat_id IN ({marks})"
            ),
            params_from_iter(values.iter()),
        )
        .op(op)?;
        tx.execute(
            &format!("DELETE FROM booking_seats WHERE code = ? AND seat_id IN ({marks})"),
            params_from_iter(values[1..].iter()),
        )
        .op(op)?;
        tx.execute(
            "UPDATE bookings SET total_minor = total_minor - ?1 WHERE code = ?2",
            params![refund.amount.amount_minor, code],
        )
        .op(op)?;
        let detail = seat_refund_detail(refund);
        tx.execute(
            "INSERT INTO audit_events (show_id, lamport, node_id, kind, code, detail, at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                show_id,
                refund.lamport,
                refund.node_id,
                "partial_refund",
                code,
                detail,
                refund.at_ms
            ],
        )
        .op(op)?;
        Self::insert_outbox(&tx, &refund.outbox)?;
        tx.commit().op(op)
    }
}
