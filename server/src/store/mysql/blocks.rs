//! Blocked seats: durable, fenced, audited.

use super::*;

impl MysqlStore {
    pub(super) async fn try_commit_block(&self, block: &BlockRecord) -> Attempt<()> {
        let mut tx = self.begin().await?;
        self.check_fence(&mut tx).await?;
        if !block.seats.is_empty() {
            let values: Vec<Value> = block
                .seats
                .iter()
                .flat_map(|seat| [Value::from(block.show_id), Value::from(*seat)])
                .collect();
            // Not INSERT IGNORE: that would also ignore the foreign key of an unknown show.
            let sql = if block.blocked {
                let insert =
                    literal_insert_sql("INSERT INTO blocked_seats (show_id, seat_id)", 2, &values);
                format!("{insert} ON DUPLICATE KEY UPDATE seat_id = seat_id")
            } else {
                let seats: Vec<String> = block.seats.iter().map(|s| s.to_string()).collect();
                format!(
                    "DELETE FROM blocked_seats WHERE show_id = {} AND seat_id IN ({})",
                    block.show_id,
                    seats.join(", ")
                )
            };
            tx.query_drop(sql).await?;
        }
        tx.exec_drop(
            "INSERT INTO audit_events (show_id, lamport, node_id, kind, code, detail, at_ms) \
             VALUES (?, ?, ?, ?, NULL, ?, ?)",
            (
                block.show_id,
                block.lamport,
                block.node_id,
                audit::block_kind(block),
                audit::block_detail(block),
                block.at_ms,
            ),
        )
        .await?;
        Self::commit(tx).await
    }

    pub(super) async fn try_load_blocked_seats(&self) -> Attempt<Vec<(ShowId, SeatId)>> {
        let mut conn = self.conn().await?;
        let rows: Vec<(ShowId, SeatId)> = conn
            .query("SELECT show_id, seat_id FROM blocked_seats ORDER BY show_id, seat_id")
            .await?;
        Ok(rows)
    }
}
