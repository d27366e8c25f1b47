//! Admissions at the door in the embedded store (`sql/sqlite/0005_admissions.sql`); the rules
//! are the MySQL store's.

use cinebook_protocol::door::Admission;
use cinebook_protocol::types::BookingStatus;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{Op, SqliteStore};
use crate::store::audit::admission_detail;
use crate::store::mysql::status_name;
use crate::store::{AdmissionRecord, AdmitOutcome, StoreError};

impl SqliteStore {
    pub(super) fn commit_admission_blocking(
        conn: &mut Connection,
        record: &AdmissionRecord,
    ) -> Result<AdmitOutcome, StoreError> {
        let op = "commit_admission";
        let a = &record.admission;
        let tx = Self::write_tx(conn, op)?;
        let changed = tx
            .execute(
                "UPDATE bookings SET status = ?1 WHERE code = ?2 AND status = ?3",
                params![
                    status_name(BookingStatus::Admitted),
                    a.code,
                    status_name(BookingStatus::Confirmed)
                ],
            )
            .op(op)?;
        if changed == 0 {
            let outcome = refusal(&tx, &a.code, op);
            tx.rollback().op(op)?;
            return outcome;
        }
        tx.execute(
            "INSERT INTO admissions (code, show_id, at_ms, terminal_id, gate, offline, lamport, \
             node_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                a.code,
                a.show_id,
                a.at_ms,
                a.terminal_id,
                a.gate,
                a.offline,
                record.lamport,
                record.node_id
            ],
        )
        .op(op)?;
        tx.execute(
            "INSERT INTO audit_events (show_id, lamport, node_id, kind, code, detail, at_ms) \
             VALUES (?1, ?2, ?3, 'admit', ?4, ?5, ?6)",
            params![
                a.show_id,
                record.lamport,
                record.node_id,
                a.code,
                admission_detail(record),
                a.at_ms
            ],
        )
        .op(op)?;
        tx.commit().op(op)?;
        Ok(AdmitOutcome::Admitted)
    }
}

/// Why a booking that is not `confirmed` was not admitted: admitted before (the first
/// admission), another status, or no such booking.
fn refusal(tx: &Transaction<'_>, code: &str, op: &str) -> Result<AdmitOutcome, StoreError> {
    let status: Option<String> = tx
        .query_row(
            "SELECT status FROM bookings WHERE code = ?1",
            params![code],
            |r| r.get(0),
        )
        .optional()
        .op(op)?;
    let Some(status) = status else {
        return Err(StoreError::NotFound(format!("booking {code}")));
    };
    if status != status_name(BookingStatus::Admitted) {
        return Err(StoreError::Conflict(format!(
            "booking {code} is {status}, not confirmed"
        )));
    }
    let first = tx
        .query_row(
            "SELECT show_id, at_ms, terminal_id, gate, offline FROM admissions WHERE code = ?1",
            params![code],
            |r| {
                Ok(Admission {
                    code: code.to_owned(),
                    show_id: r.get(0)?,
                    at_ms: r.get(1)?,
                    terminal_id: r.get(2)?,
                    gate: r.get(3)?,
                    offline: r.get(4)?,
                })
            },
        )
        .optional()
        .op(op)?;
    first
        .map(AdmitOutcome::Already)
        .ok_or_else(|| StoreError::Corrupt(format!("booking {code} is admitted without a row")))
}
