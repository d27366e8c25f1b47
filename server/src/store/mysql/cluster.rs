//! Cluster fencing epochs and the audit trail.

use super::*;

impl MysqlStore {
    pub(super) async fn try_current_epoch(&self) -> Attempt<EpochState> {
        let mut conn = self.conn().await?;
        let row: Option<(u64, Option<u32>)> = conn
            .query_first("SELECT epoch, leader_node_id FROM cluster_epoch WHERE id = 1")
            .await?;
        let (epoch, leader_node_id) =
            row.ok_or_else(|| Fail::Store(StoreError::Corrupt("cluster_epoch has no row".into())))?;
        Ok(EpochState {
            epoch,
            leader_node_id,
        })
    }

    pub(super) async fn try_claim_epoch(
        &self,
        node_id: u32,
        seen_epoch: u64,
    ) -> Attempt<EpochClaim> {
        let mut tx = self.begin().await?;
        tx.exec_drop(
            "UPDATE cluster_epoch SET epoch = epoch + 1, leader_node_id = ? WHERE id = 1 AND epoch = ?",
            (node_id, seen_epoch),
        )
        .await?;
        if tx.affected_rows() == 1 {
            Self::commit(tx).await?;
            return Ok(EpochClaim::Claimed(seen_epoch + 1));
        }
        let row: Option<(u64, Option<u32>)> = tx
            .query_first("SELECT epoch, leader_node_id FROM cluster_epoch WHERE id = 1")
            .await?;
        tx.rollback().await?;
        let (epoch, leader_node_id) =
            row.ok_or_else(|| Fail::Store(StoreError::Corrupt("cluster_epoch has no row".into())))?;
        Ok(EpochClaim::Lost(EpochState {
            epoch,
            leader_node_id,
        }))
    }

    pub(super) async fn try_audit_trail(&self, show_id: u64) -> Attempt<Vec<AuditEntry>> {
        let mut conn = self.conn().await?;
        let rows: Vec<(u64, u32, String, Option<String>, String, u64)> = conn
            .exec(
                "SELECT lamport, node_id, kind, code, detail, at_ms FROM audit_events \
                 WHERE show_id = ? ORDER BY lamport, node_id, id",
                (show_id,),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(lamport, node_id, kind, code, detail, at_ms)| AuditEntry {
                lamport,
                node_id,
                kind,
                code,
                detail,
                at_ms,
            })
            .collect())
    }
}
