//! Cluster fencing epochs and the audit trail.

use super::*;

/// An epoch claim waits this long for the row lock before it kills the transactions holding it.
pub const CLAIM_LOCK_WAIT_MS: u64 = 60;

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
        let me: Option<u64> = tx.query_first("SELECT CONNECTION_ID()").await?;
        // First a plain read (no lock): over a live lease of another node the claim loses at
        // once, without waiting for (or killing) the live leader's sale transactions.
        let seen: Option<(u64, Option<u32>, i64)> = tx
            .query_first(
                "SELECT epoch, leader_node_id, \
                 lease_until_ms >= ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) FROM cluster_epoch \
                 WHERE id = 1",
            )
            .await?;
        let (epoch, leader_node_id, leased) = seen
            .ok_or_else(|| Fail::Store(StoreError::Corrupt("cluster_epoch has no row".into())))?;
        if epoch != seen_epoch || (leased != 0 && leader_node_id != Some(node_id)) {
            tx.rollback().await?;
            return Ok(EpochClaim::Lost(EpochState {
                epoch,
                leader_node_id,
            }));
        }
        // Only over a lease that ran out (or our own): a live leader keeps its epoch.
        {
            let claim = tx.exec_drop(
            "UPDATE cluster_epoch SET epoch = epoch + 1, leader_node_id = ?, lease_until_ms = 0 \
             WHERE id = 1 AND epoch = ? \
             AND (lease_until_ms < ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) OR leader_node_id = ?)",
            (node_id, seen_epoch, node_id),
        );
            tokio::pin!(claim);
            // A sale transaction of a stalled (paused, partitioned) leader holds its shared lock on
            // the row until it resumes: past CLAIM_LOCK_WAIT_MS its connection is killed, which
            // rolls it back (its COMMIT, if it ever comes, fails: an unknown outcome the resolver
            // settles). The claim then goes on; it is never held hostage.
            let waited =
                tokio::time::timeout(Duration::from_millis(CLAIM_LOCK_WAIT_MS), &mut claim);
            match waited.await {
                Ok(result) => result?,
                Err(_) => {
                    if let Some(me) = me {
                        self.kill_blockers(me).await;
                    }
                    claim.await?;
                }
            }
        }
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

    /// Kills the connections whose transactions block connection `waiting` (best effort: needs
    /// the PROCESS privilege to see them and the same user, or CONNECTION ADMIN, to kill them).
    async fn kill_blockers(&self, waiting: u64) {
        let Ok(mut conn) = self.conn().await else {
            return;
        };
        let blockers: Vec<u64> = match conn
            .exec(
                "SELECT DISTINCT b.trx_mysql_thread_id \
                 FROM information_schema.INNODB_LOCK_WAITS w \
                 JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id \
                 JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id \
                 WHERE r.trx_mysql_thread_id = ?",
                (waiting,),
            )
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "epoch claim waits for a lock; cannot see who holds it");
                return;
            }
        };
        for id in blockers {
            tracing::warn!(
                connection = id,
                "epoch claim blocked by a stalled transaction: killing it"
            );
            if let Err(e) = conn.query_drop(format!("KILL CONNECTION {id}")).await {
                tracing::warn!(connection = id, error = %e, "could not kill the blocking connection");
            }
        }
    }

    /// The leader `from` of `epoch` hands the next epoch to `to` in one conditional update, with
    /// a lease of `lease_ms` for `to`: nobody else can claim between the two leaders, and `from`
    /// is fenced from then on (its sale transactions still running commit first: they hold the
    /// row's shared lock).
    pub(super) async fn try_hand_over_epoch(
        &self,
        from: u32,
        epoch: u64,
        to: u32,
        lease_ms: u64,
    ) -> Attempt<Option<u64>> {
        let mut conn = self.conn().await?;
        conn.exec_drop(
            format!(
                "UPDATE cluster_epoch SET epoch = epoch + 1, leader_node_id = ?, \
                 lease_until_ms = ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) + {lease_ms} \
                 WHERE id = 1 AND epoch = ? AND leader_node_id = ?"
            ),
            (to, epoch, from),
        )
        .await?;
        Ok((conn.affected_rows() == 1).then_some(epoch + 1))
    }

    pub(super) async fn try_renew_lease(
        &self,
        node_id: u32,
        epoch: u64,
        lease_ms: u64,
    ) -> Attempt<bool> {
        let mut conn = self.conn().await?;
        let until = if lease_ms == 0 {
            "0".to_owned()
        } else {
            format!("ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) + {lease_ms}")
        };
        conn.exec_drop(
            format!(
                "UPDATE cluster_epoch SET lease_until_ms = {until} \
                 WHERE id = 1 AND epoch = ? AND leader_node_id = ?"
            ),
            (epoch, node_id),
        )
        .await?;
        if conn.affected_rows() == 1 {
            return Ok(true);
        }
        // No row changed: the epoch moved on, or the value was already the same.
        let row: Option<(u64, Option<u32>)> = conn
            .query_first("SELECT epoch, leader_node_id FROM cluster_epoch WHERE id = 1")
            .await?;
        Ok(row == Some((epoch, Some(node_id))))
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
