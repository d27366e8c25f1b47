//! The embedded store's outbox (`sql/sqlite/0006_notifications.sql`): rows written inside the
//! transaction of the change they announce, then read, marked and replayed by the notifier.

use cinebook_protocol::types::Contact;
use rusqlite::{params, Connection, Transaction};

use super::{Op, SqliteStore};
use crate::notify::message::{OutboxMark, OutboxMessage, OutboxStats, PendingMessage};
use crate::store::outbox::{self, state, LAST_ERROR_CHARS_MAX};
use crate::store::StoreError;

const PENDING_SELECT: &str = "SELECT o.seq, o.id, o.kind, o.code, o.show_id, o.payload, \
     o.created_at_ms, o.attempts, o.last_error, b.contact_email, b.contact_phone \
     FROM outbox o LEFT JOIN bookings b ON b.code = o.code";

impl SqliteStore {
    /// Writes `messages` inside `tx` (a row whose id is stored already is kept as it is).
    pub(super) fn insert_outbox(
        tx: &Transaction<'_>,
        messages: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let op = "outbox";
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO outbox (id, kind, code, show_id, payload, created_at_ms, \
                 next_attempt_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .op(op)?;
        for m in messages {
            insert
                .execute(params![
                    m.id,
                    m.kind.name(),
                    m.code,
                    m.show_id,
                    m.payload,
                    m.created_at_ms
                ])
                .op(op)?;
        }
        Ok(())
    }

    fn read_pending(
        conn: &Connection,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<PendingMessage>, StoreError> {
        let op = "outbox";
        let mut stmt = conn
            .prepare_cached(&format!("{PENDING_SELECT} {filter}"))
            .op(op)?;
        let mut rows = stmt.query(args).op(op)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().op(op)? {
            let kind: String = r.get(2).op(op)?;
            out.push(PendingMessage {
                seq: r.get(0).op(op)?,
                message: OutboxMessage {
                    id: r.get(1).op(op)?,
                    kind: outbox::parse_kind(&kind)?,
                    code: r.get(3).op(op)?,
                    show_id: r.get(4).op(op)?,
                    payload: r.get(5).op(op)?,
                    created_at_ms: r.get(6).op(op)?,
                },
                attempts: r.get(7).op(op)?,
                last_error: r.get(8).op(op)?,
                contact: Contact {
                    email: r.get(9).op(op)?,
                    phone: r.get(10).op(op)?,
                },
            });
        }
        Ok(out)
    }

    pub(super) fn outbox_pending_blocking(
        conn: &mut Connection,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<PendingMessage>, StoreError> {
        // SQLite integers are signed: "everything due" (u64::MAX, the relay's) is i64::MAX.
        let now_ms = now_ms.min(i64::MAX as u64);
        Self::read_pending(
            conn,
            "WHERE o.state = ?1 AND o.next_attempt_at_ms <= ?2 ORDER BY o.seq LIMIT ?3",
            &[&state::PENDING, &now_ms, &(limit as u64)],
        )
    }

    pub(super) fn outbox_dead_blocking(
        conn: &mut Connection,
        limit: usize,
    ) -> Result<Vec<PendingMessage>, StoreError> {
        Self::read_pending(
            conn,
            "WHERE o.state = ?1 ORDER BY o.seq LIMIT ?2",
            &[&state::DEAD, &(limit as u64)],
        )
    }

    pub(super) fn outbox_mark_all_blocking(
        conn: &mut Connection,
        marks: &[(String, OutboxMark)],
    ) -> Result<(), StoreError> {
        let tx = conn.transaction().op("outbox_mark")?;
        for (id, mark) in marks {
            Self::mark_in(&tx, id, mark)?;
        }
        tx.commit().op("outbox_mark")
    }

    pub(super) fn outbox_mark_blocking(
        conn: &mut Connection,
        id: &str,
        mark: &OutboxMark,
    ) -> Result<(), StoreError> {
        Self::mark_in(conn, id, mark)
    }

    fn mark_in(conn: &Connection, id: &str, mark: &OutboxMark) -> Result<(), StoreError> {
        let op = "outbox_mark";
        let pending = state::PENDING;
        match mark {
            OutboxMark::Sent { at_ms } => conn.execute(
                "UPDATE outbox SET state = ?1, sent_at_ms = ?2 WHERE id = ?3 AND state = ?4",
                params![state::SENT, at_ms, id, pending],
            ),
            OutboxMark::Retry {
                attempts,
                next_at_ms,
                error,
            } => conn.execute(
                "UPDATE outbox SET attempts = ?1, next_attempt_at_ms = ?2, last_error = ?3 \
                 WHERE id = ?4 AND state = ?5",
                params![attempts, next_at_ms, clip(error), id, pending],
            ),
            OutboxMark::Dead { attempts, error } => conn.execute(
                "UPDATE outbox SET state = ?1, attempts = ?2, last_error = ?3 \
                 WHERE id = ?4 AND state = ?5",
                params![state::DEAD, attempts, clip(error), id, pending],
            ),
        }
        .op(op)?;
        Ok(())
    }

    pub(super) fn outbox_replay_blocking(
        conn: &mut Connection,
        ids: &[String],
        now_ms: u64,
    ) -> Result<u64, StoreError> {
        let op = "outbox_replay";
        let tx = conn.transaction().op(op)?;
        let sql = "UPDATE outbox SET state = ?1, attempts = 0, next_attempt_at_ms = ?2 \
                   WHERE state = ?3";
        let mut changed = 0;
        if ids.is_empty() {
            changed += tx
                .execute(sql, params![state::PENDING, now_ms, state::DEAD])
                .op(op)?;
        } else {
            for id in ids {
                changed += tx
                    .execute(
                        &format!("{sql} AND id = ?4"),
                        params![state::PENDING, now_ms, state::DEAD, id],
                    )
                    .op(op)?;
            }
        }
        tx.commit().op(op)?;
        Ok(changed as u64)
    }

    pub(super) fn outbox_stats_blocking(conn: &mut Connection) -> Result<OutboxStats, StoreError> {
        let op = "outbox_stats";
        let mut stats = OutboxStats::default();
        let mut stmt = conn
            .prepare_cached("SELECT state, COUNT(*), MIN(created_at_ms) FROM outbox GROUP BY state")
            .op(op)?;
        let mut rows = stmt.query([]).op(op)?;
        while let Some(r) = rows.next().op(op)? {
            let name: String = r.get(0).op(op)?;
            let count: u64 = r.get(1).op(op)?;
            let oldest: Option<u64> = r.get(2).op(op)?;
            outbox::count_into(&mut stats, &name, count, oldest);
        }
        Ok(stats)
    }

    pub(super) fn outbox_append_blocking(
        conn: &mut Connection,
        messages: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let tx = conn.transaction().op("outbox_append")?;
        Self::insert_outbox(&tx, messages)?;
        tx.commit().op("outbox_append")
    }
}

fn clip(error: &str) -> String {
    error.chars().take(LAST_ERROR_CHARS_MAX).collect()
}
