//! [`Store`] for [`MysqlStore`]: each method one operation through `run`.

use super::*;
use crate::notify::message::{OutboxMark, OutboxMessage, OutboxStats, PendingMessage};

#[async_trait]
impl Store for MysqlStore {
    fn payments(&self) -> Option<&dyn crate::store::payments::PaymentStore> {
        Some(self)
    }

    async fn current_epoch(&self) -> Result<EpochState, StoreError> {
        self.run("current_epoch", self.limits.operation_timeout, || {
            self.try_current_epoch()
        })
        .await
    }

    async fn claim_epoch(&self, node_id: u32, seen_epoch: u64) -> Result<EpochClaim, StoreError> {
        self.run("claim_epoch", self.limits.operation_timeout, || {
            self.try_claim_epoch(node_id, seen_epoch)
        })
        .await
    }

    async fn hand_over_epoch(
        &self,
        from: u32,
        epoch: u64,
        to: u32,
        lease_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        self.run("hand_over_epoch", self.limits.operation_timeout, || {
            self.try_hand_over_epoch(from, epoch, to, lease_ms)
        })
        .await
    }

    async fn renew_lease(
        &self,
        node_id: u32,
        epoch: u64,
        lease_ms: u64,
    ) -> Result<bool, StoreError> {
        self.run("renew_lease", self.limits.operation_timeout, || {
            self.try_renew_lease(node_id, epoch, lease_ms)
        })
        .await
    }

    fn set_fence(&self, epoch: Option<u64>) {
        self.fence_epoch
            .store(epoch.unwrap_or(0), Ordering::Release);
    }

    async fn audit_trail(&self, show_id: u64) -> Result<Vec<AuditEntry>, StoreError> {
        self.run("audit_trail", self.limits.operation_timeout, || {
            self.try_audit_trail(show_id)
        })
        .await
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.run("migrate", self.limits.migration_timeout, || {
            self.try_migrate()
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run("ping", self.limits.operation_timeout, || async {
            let mut conn = self.conn().await?;
            conn.ping().await?;
            Ok(())
        })
        .await
    }

    async fn load_catalog(&self) -> Result<CatalogData, StoreError> {
        self.run("load_catalog", self.limits.operation_timeout, || {
            self.try_load_catalog()
        })
        .await
    }

    async fn upsert_city(&self, city: &City) -> Result<(), StoreError> {
        self.run("upsert_city", self.limits.operation_timeout, || {
            self.try_upsert_city(city)
        })
        .await
    }

    async fn upsert_theater(&self, theater: &Theater) -> Result<(), StoreError> {
        self.run("upsert_theater", self.limits.operation_timeout, || {
            self.try_upsert_theater(theater)
        })
        .await
    }

    async fn upsert_screen(&self, screen: &Screen) -> Result<(), StoreError> {
        self.run("upsert_screen", self.limits.operation_timeout, || {
            self.try_upsert_screen(screen)
        })
        .await
    }

    async fn upsert_movie(&self, movie: &Movie) -> Result<(), StoreError> {
        self.run("upsert_movie", self.limits.operation_timeout, || {
            self.try_upsert_movie(movie)
        })
        .await
    }

    async fn upsert_show(&self, show: &Show) -> Result<(), StoreError> {
        self.run("upsert_show", self.limits.operation_timeout, || {
            self.try_upsert_show(show)
        })
        .await
    }

    async fn load_external_ids(&self) -> Result<Vec<ExternalId>, StoreError> {
        self.run("load_external_ids", self.limits.operation_timeout, || {
            self.try_load_external_ids()
        })
        .await
    }

    async fn apply_catalog(&self, changes: &CatalogChanges) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        // A large import writes thousands of rows in this one transaction: it gets the
        // migration's time limit rather than the per-operation one.
        self.run("apply_catalog", self.limits.migration_timeout, || {
            self.try_apply_catalog(changes)
        })
        .await
    }

    async fn load_bookings(&self) -> Result<Vec<StoredBooking>, StoreError> {
        self.run("load_bookings", self.limits.operation_timeout, || {
            self.try_load_bookings()
        })
        .await
    }

    async fn commit_sales(&self, sales: &[SaleRecord]) -> Vec<SaleOutcome> {
        group_commit::commit_sales(self, sales).await
    }

    async fn resolve_sale(&self, code: &str) -> Result<Option<StoredBooking>, StoreError> {
        self.run("resolve_sale", self.limits.operation_timeout, || {
            self.try_resolve_sale(code)
        })
        .await
    }

    async fn sale_by_key(
        &self,
        terminal_id: TerminalId,
        idempotency_key: &str,
    ) -> Result<Option<StoredBooking>, StoreError> {
        self.run("sale_by_key", self.limits.operation_timeout, || {
            self.try_sale_by_key(terminal_id, idempotency_key)
        })
        .await
    }

    async fn commit_block(&self, block: &BlockRecord) -> Result<(), StoreError> {
        self.run("commit_block", self.limits.operation_timeout, || {
            self.try_commit_block(block)
        })
        .await
    }

    async fn load_blocked_seats(&self) -> Result<Vec<(ShowId, SeatId)>, StoreError> {
        self.run("load_blocked_seats", self.limits.operation_timeout, || {
            self.try_load_blocked_seats()
        })
        .await
    }

    async fn commit_cancel(&self, cancel: &CancelRecord) -> Result<(), StoreError> {
        self.run("commit_cancel", self.limits.operation_timeout, || {
            self.try_commit_cancel(cancel)
        })
        .await
    }

    async fn commit_admission(&self, record: &AdmissionRecord) -> Result<AdmitOutcome, StoreError> {
        self.run("commit_admission", self.limits.operation_timeout, || {
            self.try_commit_admission(record)
        })
        .await
    }

    async fn outbox_pending(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<PendingMessage>, StoreError> {
        self.run("outbox_pending", self.limits.operation_timeout, || {
            self.try_outbox_pending(now_ms, limit)
        })
        .await
    }

    async fn outbox_mark(&self, id: &str, mark: &OutboxMark) -> Result<(), StoreError> {
        self.run("outbox_mark", self.limits.operation_timeout, || {
            self.try_outbox_mark(id, mark)
        })
        .await
    }

    async fn outbox_mark_all(&self, marks: &[(String, OutboxMark)]) -> Result<(), StoreError> {
        self.run("outbox_mark", self.limits.operation_timeout, || {
            self.try_outbox_mark_all(marks)
        })
        .await
    }

    async fn outbox_dead(&self, limit: usize) -> Result<Vec<PendingMessage>, StoreError> {
        self.run("outbox_dead", self.limits.operation_timeout, || {
            self.try_outbox_dead(limit)
        })
        .await
    }

    async fn outbox_replay(&self, ids: &[String]) -> Result<u64, StoreError> {
        let now = crate::notify::now_ms();
        self.run("outbox_replay", self.limits.operation_timeout, || {
            self.try_outbox_replay(ids, now)
        })
        .await
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        self.run("outbox_stats", self.limits.operation_timeout, || {
            self.try_outbox_stats()
        })
        .await
    }

    async fn upsert_show_announced(
        &self,
        show: &Show,
        messages: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        self.run("upsert_show", self.limits.operation_timeout, || {
            self.try_upsert_show_announced(show, messages)
        })
        .await
    }

    async fn outbox_append(&self, messages: &[OutboxMessage]) -> Result<(), StoreError> {
        self.run("outbox_append", self.limits.operation_timeout, || {
            self.try_outbox_append(messages)
        })
        .await
    }

    async fn commit_seat_refund(&self, refund: &SeatRefundRecord) -> Result<(), StoreError> {
        self.run("commit_seat_refund", self.limits.operation_timeout, || {
            self.try_commit_seat_refund(refund)
        })
        .await
    }

    async fn add_terminal(
        &self,
        name: &str,
        role: Role,
        token_sha256: &str,
    ) -> Result<TerminalId, StoreError> {
        self.run("add_terminal", self.limits.operation_timeout, || {
            self.try_add_terminal(name, role, token_sha256)
        })
        .await
    }

    async fn terminal_by_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<TerminalRecord>, StoreError> {
        self.run("terminal_by_token", self.limits.operation_timeout, || {
            self.try_terminal_by_token(token_sha256)
        })
        .await
    }

    async fn list_terminals(&self) -> Result<Vec<TerminalRecord>, StoreError> {
        self.run("list_terminals", self.limits.operation_timeout, || {
            self.try_list_terminals()
        })
        .await
    }

    async fn revoke_terminal(&self, id: TerminalId) -> Result<(), StoreError> {
        self.run("revoke_terminal", self.limits.operation_timeout, || {
            self.try_revoke_terminal(id)
        })
        .await
    }

    async fn shift_report(
        &self,
        terminal_id: TerminalId,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<ShiftReport, StoreError> {
        self.run("shift_report", self.limits.operation_timeout, || {
            self.try_shift_report(terminal_id, from_ms, to_ms)
        })
        .await
    }
}
