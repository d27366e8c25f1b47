//! Admissions at the door (`sql/mysql/0007_admissions.sql`): durable, fenced, audited.

use cinebook_protocol::door::Admission;

use super::*;

impl MysqlStore {
    pub(super) async fn try_commit_admission(
        &self,
        record: &AdmissionRecord,
    ) -> Attempt<AdmitOutcome> {
        let a = &record.admission;
        let mut tx = self.begin().await?;
        self.check_fence(&mut tx).await?;
        tx.exec_drop(
            "UPDATE bookings SET status = ? WHERE code = ? AND status = ?",
            (
                status_name(BookingStatus::Admitted),
                a.code.as_str(),
                status_name(BookingStatus::Confirmed),
            ),
        )
        .await?;
        if tx.affected_rows() == 0 {
            let outcome = refusal(&mut tx, &a.code).await;
            tx.rollback().await?;
            return outcome;
        }
        tx.exec_drop(
            "INSERT INTO admissions (code, show_id, at_ms, terminal_id, gate, offline, lamport, \
             node_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a.code.as_str(),
                a.show_id,
                a.at_ms,
                a.terminal_id,
                a.gate.as_str(),
                a.offline,
                record.lamport,
                record.node_id,
            ),
        )
        .await?;
        tx.exec_drop(
            "INSERT INTO audit_events (show_id, lamport, node_id, kind, code, detail, at_ms) \
             VALUES (?, ?, ?, 'admit', ?, ?, ?)",
            (
                a.show_id,
                record.lamport,
                record.node_id,
                a.code.as_str(),
                audit::admission_detail(record),
                a.at_ms,
            ),
        )
        .await?;
        Self::commit(tx).await?;
        Ok(AdmitOutcome::Admitted)
    }
}

/// Why a booking that is not `confirmed` was not admitted: admitted before (the first
/// admission), another status, or no such booking.
async fn refusal(tx: &mut Transaction<'static>, code: &str) -> Attempt<AdmitOutcome> {
    let status: Option<String> = tx
        .exec_first("SELECT status FROM bookings WHERE code = ?", (code,))
        .await?;
    let Some(status) = status else {
        return Err(StoreError::NotFound(format!("booking {code}")).into());
    };
    if status != status_name(BookingStatus::Admitted) {
        return Err(
            StoreError::Conflict(format!("booking {code} is {status}, not confirmed")).into(),
        );
    }
    let first: Option<(u64, u64, u64, String, bool)> = tx
        .exec_first(
            "SELECT show_id, at_ms, terminal_id, gate, offline FROM admissions WHERE code = ?",
            (code,),
        )
        .await?;
    let (show_id, at_ms, terminal_id, gate, offline) = first
        .ok_or_else(|| StoreError::Corrupt(format!("booking {code} is admitted without a row")))?;
    Ok(AdmitOutcome::Already(Admission {
        code: code.to_owned(),
        show_id,
        at_ms,
        terminal_id,
        gate,
        offline,
    }))
}
