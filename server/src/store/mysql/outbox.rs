//! The outbox (`sql/mysql/0008_notifications.sql`): rows written inside the transaction of the
//! change they announce (the sale batch's multi-statement query, a cancel, a partial refund),
//! then read, marked and replayed by the notifier or the relay.

use super::*;
use crate::notify::message::{OutboxMark, OutboxMessage, OutboxStats, PendingMessage};
use crate::store::outbox::{self, state, LAST_ERROR_CHARS_MAX};
use cinebook_protocol::types::Contact;

/// The `INSERT` head of outbox rows, and its column count.
pub(super) const OUTBOX_INSERT: (&str, usize) = (
    "INSERT INTO outbox (id, kind, code, show_id, payload, created_at_ms, next_attempt_at_ms)",
    7,
);

const PENDING_SELECT: &str = "SELECT o.seq, o.id, o.kind, o.code, o.show_id, o.payload, \
     o.created_at_ms, o.attempts, o.last_error, b.contact_email, b.contact_phone \
     FROM outbox o LEFT JOIN bookings b ON b.code = o.code";

/// The values of `messages` for [`OUTBOX_INSERT`].
pub(super) fn outbox_values(messages: &[OutboxMessage], into: &mut Vec<Value>) {
    for m in messages {
        into.extend([
            Value::from(m.id.as_str()),
            Value::from(m.kind.name()),
            Value::from(m.code.as_str()),
            Value::from(m.show_id),
            Value::from(m.payload.as_str()),
            Value::from(m.created_at_ms),
            Value::from(m.created_at_ms),
        ]);
    }
}

/// A row whose id is stored already is kept as it is (the same notice written twice, such as
/// a show moved back and forth).
const OUTBOX_KEEP_EXISTING: &str = " ON DUPLICATE KEY UPDATE id = id";

/// The multi-row `INSERT`s of `values` (from [`outbox_values`]).
pub(super) fn outbox_statements(values: &[Value]) -> Vec<String> {
    let (head, cols) = OUTBOX_INSERT;
    values
        .chunks(cols * MAX_ROWS_PER_INSERT)
        .map(|rows| {
            format!(
                "{}{OUTBOX_KEEP_EXISTING}",
                literal_insert_sql(head, cols, rows)
            )
        })
        .collect()
}

/// Writes `messages` inside `tx`.
pub(super) async fn insert_outbox<Q: Queryable>(
    tx: &mut Q,
    messages: &[OutboxMessage],
) -> Result<(), mysql_async::Error> {
    let mut values = Vec::with_capacity(messages.len() * OUTBOX_INSERT.1);
    outbox_values(messages, &mut values);
    for statement in outbox_statements(&values) {
        tx.query_drop(statement).await?;
    }
    Ok(())
}

fn clip(error: &str) -> String {
    error.chars().take(LAST_ERROR_CHARS_MAX).collect()
}

impl MysqlStore {
    async fn read_pending(&self, filter: &str, params: Params) -> Attempt<Vec<PendingMessage>> {
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = conn
            .exec(format!("{PENDING_SELECT} {filter}"), params)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut c = Cols::new(row, "outbox");
            let seq = c.take(0)?;
            let id = c.take(1)?;
            let kind: String = c.take(2)?;
            out.push(PendingMessage {
                seq,
                message: OutboxMessage {
                    id,
                    kind: outbox::parse_kind(&kind)?,
                    code: c.take(3)?,
                    show_id: c.take(4)?,
                    payload: c.take(5)?,
                    created_at_ms: c.take(6)?,
                },
                attempts: c.take(7)?,
                last_error: c.take(8)?,
                contact: Contact {
                    email: c.take(9)?,
                    phone: c.take(10)?,
                },
            });
        }
        Ok(out)
    }

    pub(super) async fn try_outbox_pending(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Attempt<Vec<PendingMessage>> {
        self.read_pending(
            "WHERE o.state = ? AND o.next_attempt_at_ms <= ? ORDER BY o.seq LIMIT ?",
            Params::Positional(vec![
                Value::from(state::PENDING),
                Value::from(now_ms),
                Value::from(limit as u64),
            ]),
        )
        .await
    }

    pub(super) async fn try_outbox_dead(&self, limit: usize) -> Attempt<Vec<PendingMessage>> {
        self.read_pending(
            "WHERE o.state = ? ORDER BY o.seq LIMIT ?",
            Params::Positional(vec![Value::from(state::DEAD), Value::from(limit as u64)]),
        )
        .await
    }

    pub(super) async fn try_outbox_mark_all(&self, marks: &[(String, OutboxMark)]) -> Attempt<()> {
        let mut tx = self.begin().await?;
        for (id, mark) in marks {
            let (sql, params) = mark_statement(id, mark);
            tx.exec_drop(sql, Params::Positional(params)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn try_outbox_mark(&self, id: &str, mark: &OutboxMark) -> Attempt<()> {
        let mut conn = self.conn().await?;
        let (sql, params) = mark_statement(id, mark);
        conn.exec_drop(sql, Params::Positional(params)).await?;
        Ok(())
    }

    pub(super) async fn try_outbox_replay(&self, ids: &[String], now_ms: u64) -> Attempt<u64> {
        let mut tx = self.begin().await?;
        let sql = "UPDATE outbox SET state = ?, attempts = 0, next_attempt_at_ms = ? \
                   WHERE state = ?";
        let mut changed = 0;
        if ids.is_empty() {
            tx.exec_drop(sql, (state::PENDING, now_ms, state::DEAD))
                .await?;
            changed += tx.affected_rows();
        } else {
            for id in ids {
                tx.exec_drop(
                    format!("{sql} AND id = ?"),
                    (state::PENDING, now_ms, state::DEAD, id.as_str()),
                )
                .await?;
                changed += tx.affected_rows();
            }
        }
        tx.commit().await?;
        Ok(changed)
    }

    pub(super) async fn try_outbox_stats(&self) -> Attempt<OutboxStats> {
        let mut conn = self.conn().await?;
        let rows: Vec<(String, u64, Option<u64>)> = conn
            .query("SELECT state, COUNT(*), MIN(created_at_ms) FROM outbox GROUP BY state")
            .await?;
        let mut stats = OutboxStats::default();
        for (name, count, oldest) in rows {
            outbox::count_into(&mut stats, &name, count, oldest);
        }
        Ok(stats)
    }

    pub(super) async fn try_outbox_append(&self, messages: &[OutboxMessage]) -> Attempt<()> {
        let mut conn = self.conn().await?;
        for m in messages {
            conn.exec_drop(
                "INSERT INTO outbox (id, kind, code, show_id, payload, created_at_ms, \
                 next_attempt_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE id = id",
                (
                    m.id.as_str(),
                    m.kind.name(),
                    m.code.as_str(),
                    m.show_id,
                    m.payload.as_str(),
                    m.created_at_ms,
                    m.created_at_ms,
                ),
            )
            .await?;
        }
        Ok(())
    }
}

/// The conditional `UPDATE` of one mark.
fn mark_statement(id: &str, mark: &OutboxMark) -> (&'static str, Vec<Value>) {
    let pending = state::PENDING;
    let (sql, params): (&str, Vec<Value>) = match mark {
        OutboxMark::Sent { at_ms } => (
            "UPDATE outbox SET state = ?, sent_at_ms = ? WHERE id = ? AND state = ?",
            vec![
                state::SENT.into(),
                (*at_ms).into(),
                id.into(),
                pending.into(),
            ],
        ),
        OutboxMark::Retry {
            attempts,
            next_at_ms,
            error,
        } => (
            "UPDATE outbox SET attempts = ?, next_attempt_at_ms = ?, last_error = ? \
                 WHERE id = ? AND state = ?",
            vec![
                (*attempts).into(),
                (*next_at_ms).into(),
                clip(error).into(),
                id.into(),
                pending.into(),
            ],
        ),
        OutboxMark::Dead { attempts, error } => (
            "UPDATE outbox SET state = ?, attempts = ?, last_error = ? \
                 WHERE id = ? AND state = ?",
            vec![
                state::DEAD.into(),
                (*attempts).into(),
                clip(error).into(),
                id.into(),
                pending.into(),
            ],
        ),
    };
    (sql, params)
}
