//! Payment orders, payments and refunds (`sql/mysql/0004_payments.sql`); the rules are
//! [`crate::store::payments`]'s.

use super::*;
use crate::store::payments::{
    parse_role, parse_seats, parse_state, seats_text, states_sql, OrderChange, OrderRecord,
    PaymentRow, PaymentStore, RefundRow, ORDER_COLUMNS, PAYMENT_COLUMNS, REFUND_COLUMNS,
};
use cinebook_protocol::types::PaymentOrderState;

fn order_from_row(row: Row) -> Result<OrderRecord, StoreError> {
    let mut c = Cols::new(row, "payment_orders");
    Ok(OrderRecord {
        order_id: c.take(0)?,
        terminal_id: c.take(1)?,
        role: parse_role(&c.take::<String>(2)?)?,
        hold_id: c.take(3)?,
        show_id: c.take(4)?,
        seats: parse_seats(&c.take::<String>(5)?)?,
        amount_minor: c.take(6)?,
        currency: c.take(7)?,
        gateway_order_id: c.take(8)?,
        idempotency_key: c.take(9)?,
        state: parse_state(&c.take::<String>(10)?)?,
        payment_id: c.take(11)?,
        booking_code: c.take(12)?,
        reason: c.take(13)?,
        window_ends_at_ms: c.take(14)?,
        created_at_ms: c.take(15)?,
        updated_at_ms: c.take(16)?,
        contact: cinebook_protocol::types::Contact {
            email: c.take(17)?,
            phone: c.take(18)?,
        },
    })
}

fn refund_from_row(row: Row) -> Result<RefundRow, StoreError> {
    let mut c = Cols::new(row, "payment_refunds");
    Ok(RefundRow {
        receipt: c.take(0)?,
        order_id: c.take(1)?,
        payment_id: c.take(2)?,
        booking_code: c.take(3)?,
        gateway_refund_id: c.take(4)?,
        amount_minor: c.take(5)?,
        currency: c.take(6)?,
        state: c.take(7)?,
        created_at_ms: c.take(8)?,
        updated_at_ms: c.take(9)?,
    })
}

fn payment_from_row(row: Row) -> Result<PaymentRow, StoreError> {
    let mut c = Cols::new(row, "payment_records");
    Ok(PaymentRow {
        payment_id: c.take(0)?,
        order_id: c.take(1)?,
        amount_minor: c.take(2)?,
        currency: c.take(3)?,
        status: c.take(4)?,
        at_ms: c.take(5)?,
    })
}

fn is_duplicate(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Server(e) if e.code == code::DUP_ENTRY)
}

impl MysqlStore {
    async fn try_orders_where(&self, filter: &str, params: Params) -> Attempt<Vec<OrderRecord>> {
        let mut conn = self.conn().await?;
        let sql = format!("SELECT {ORDER_COLUMNS} FROM payment_orders WHERE {filter}");
        let rows: Vec<Row> = conn.exec(sql, params).await?;
        Ok(rows
            .into_iter()
            .map(order_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn try_create_order(&self, o: &OrderRecord) -> Attempt<OrderRecord> {
        let by_key = "terminal_id = ? AND idempotency_key = ?";
        let key = || Params::from((o.terminal_id, o.idempotency_key.clone()));
        if let Some(existing) = self.try_orders_where(by_key, key()).await?.pop() {
            return Ok(existing);
        }
        let mut conn = self.conn().await?;
        let sql = format!(
            "INSERT INTO payment_orders ({ORDER_COLUMNS}) VALUES \
             (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        let values: Vec<Value> = vec![
            o.order_id.into(),
            o.terminal_id.into(),
            o.role.name().into(),
            o.hold_id.into(),
            o.show_id.into(),
            seats_text(&o.seats).into(),
            o.amount_minor.into(),
            o.currency.clone().into(),
            o.gateway_order_id.clone().into(),
            o.idempotency_key.clone().into(),
            o.state.name().into(),
            o.payment_id.clone().into(),
            o.booking_code.clone().into(),
            o.reason.clone().into(),
            o.window_ends_at_ms.into(),
            o.created_at_ms.into(),
            o.updated_at_ms.into(),
            o.contact.email.clone().into(),
            o.contact.phone.clone().into(),
        ];
        match conn.exec_drop(sql, Params::Positional(values)).await {
            Ok(()) => Ok(o.clone()),
            Err(e) if is_duplicate(&e) => {
                // A concurrent create with the same key won: answer its order.
                let existing = self.try_orders_where(by_key, key()).await?.pop();
                existing.ok_or_else(|| {
                    StoreError::Conflict(format!("payment order {} exists", o.order_id)).into()
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn try_change_order(
        &self,
        order_id: u64,
        from: &[PaymentOrderState],
        ch: &OrderChange,
    ) -> Attempt<bool> {
        let mut conn = self.conn().await?;
        let sql = format!(
            "UPDATE payment_orders SET state = ?, \
             gateway_order_id = COALESCE(?, gateway_order_id), \
             payment_id = COALESCE(?, payment_id), booking_code = COALESCE(?, booking_code), \
             reason = COALESCE(?, reason), updated_at_ms = ? \
             WHERE order_id = ? AND {}",
            states_sql(from)
        );
        let params = Params::Positional(vec![
            ch.state.name().into(),
            ch.gateway_order_id.clone().into(),
            ch.payment_id.clone().into(),
            ch.booking_code.clone().into(),
            ch.reason.clone().into(),
            ch.at_ms.into(),
            order_id.into(),
        ]);
        match conn.exec_drop(sql, params).await {
            Ok(()) => {}
            Err(e) if is_duplicate(&e) => {
                return Err(StoreError::Conflict(format!(
                    "gateway order {:?} belongs to another order",
                    ch.gateway_order_id
                ))
                .into())
            }
            Err(e) => return Err(e.into()),
        }
        if conn.affected_rows() > 0 {
            return Ok(true);
        }
        let exists: Option<u64> = conn
            .exec_first(
                "SELECT order_id FROM payment_orders WHERE order_id = ?",
                (order_id,),
            )
            .await?;
        match exists {
            Some(_) => Ok(false),
            None => Err(StoreError::NotFound(format!("payment order {order_id}")).into()),
        }
    }

    async fn try_record_payment(&self, p: &PaymentRow) -> Attempt<()> {
        let mut conn = self.conn().await?;
        conn.exec_drop(
            format!(
                "INSERT INTO payment_records ({PAYMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE status = VALUES(status), at_ms = VALUES(at_ms)"
            ),
            (
                p.payment_id.clone(),
                p.order_id,
                p.amount_minor,
                p.currency.clone(),
                p.status.clone(),
                p.at_ms,
            ),
        )
        .await?;
        Ok(())
    }

    async fn try_order_payments(&self, order_id: u64) -> Attempt<Vec<PaymentRow>> {
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = conn
            .exec(
                format!(
                    "SELECT {PAYMENT_COLUMNS} FROM payment_records WHERE order_id = ? \
                     ORDER BY at_ms, payment_id"
                ),
                (order_id,),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(payment_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn try_record_refund(&self, r: &RefundRow) -> Attempt<()> {
        let mut conn = self.conn().await?;
        let values: Vec<Value> = vec![
            r.receipt.clone().into(),
            r.order_id.into(),
            r.payment_id.clone().into(),
            r.booking_code.clone().into(),
            r.gateway_refund_id.clone().into(),
            r.amount_minor.into(),
            r.currency.clone().into(),
            r.state.clone().into(),
            r.created_at_ms.into(),
            r.updated_at_ms.into(),
        ];
        let sql = format!(
            "INSERT INTO payment_refunds ({REFUND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE \
             gateway_refund_id = COALESCE(VALUES(gateway_refund_id), gateway_refund_id), \
             state = VALUES(state), updated_at_ms = VALUES(updated_at_ms)"
        );
        conn.exec_drop(sql, Params::Positional(values)).await?;
        Ok(())
    }

    async fn try_refunds_where(&self, filter: &str, params: Params) -> Attempt<Vec<RefundRow>> {
        let mut conn = self.conn().await?;
        let sql = format!("SELECT {REFUND_COLUMNS} FROM payment_refunds WHERE {filter}");
        let rows: Vec<Row> = conn.exec(sql, params).await?;
        Ok(rows
            .into_iter()
            .map(refund_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn try_refund_processed(&self, id: &str, state: &str, at_ms: u64) -> Attempt<bool> {
        let mut conn = self.conn().await?;
        conn.exec_drop(
            "UPDATE payment_refunds SET state = ?, updated_at_ms = ? WHERE gateway_refund_id = ?",
            (state, at_ms, id),
        )
        .await?;
        if conn.affected_rows() > 0 {
            return Ok(true);
        }
        let exists: Option<String> = conn
            .exec_first(
                "SELECT receipt FROM payment_refunds WHERE gateway_refund_id = ?",
                (id,),
            )
            .await?;
        Ok(exists.is_some())
    }
}

#[async_trait]
impl PaymentStore for MysqlStore {
    async fn create_order(&self, order: &OrderRecord) -> Result<OrderRecord, StoreError> {
        self.run("create_order", self.limits.operation_timeout, || {
            self.try_create_order(order)
        })
        .await
    }

    async fn order(&self, order_id: u64) -> Result<Option<OrderRecord>, StoreError> {
        self.run("order", self.limits.operation_timeout, || async move {
            let mut found = self
                .try_orders_where("order_id = ?", Params::from((order_id,)))
                .await?;
            Ok(found.pop())
        })
        .await
    }

    async fn order_by_gateway_id(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.run(
            "order_by_gateway_id",
            self.limits.operation_timeout,
            || async move {
                let mut found = self
                    .try_orders_where("gateway_order_id = ?", Params::from((id,)))
                    .await?;
                Ok(found.pop())
            },
        )
        .await
    }

    async fn order_by_booking(&self, code: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.run(
            "order_by_booking",
            self.limits.operation_timeout,
            || async move {
                let mut found = self
                    .try_orders_where("booking_code = ?", Params::from((code,)))
                    .await?;
                Ok(found.pop())
            },
        )
        .await
    }

    async fn open_orders(&self) -> Result<Vec<OrderRecord>, StoreError> {
        let filter = format!(
            "{} ORDER BY created_at_ms, order_id",
            states_sql(&[
                PaymentOrderState::Creating,
                PaymentOrderState::AwaitingPayment,
                PaymentOrderState::Captured,
                PaymentOrderState::RefundPending,
            ])
        );
        self.run("open_orders", self.limits.operation_timeout, || {
            self.try_orders_where(&filter, Params::Empty)
        })
        .await
    }

    async fn all_orders(&self) -> Result<Vec<OrderRecord>, StoreError> {
        self.run("all_orders", self.limits.operation_timeout, || {
            self.try_orders_where("TRUE ORDER BY created_at_ms, order_id", Params::Empty)
        })
        .await
    }

    async fn change_order(
        &self,
        order_id: u64,
        from: &[PaymentOrderState],
        change: &OrderChange,
    ) -> Result<bool, StoreError> {
        self.run("change_order", self.limits.operation_timeout, || {
            self.try_change_order(order_id, from, change)
        })
        .await
    }

    async fn record_payment(&self, payment: &PaymentRow) -> Result<(), StoreError> {
        self.run("record_payment", self.limits.operation_timeout, || {
            self.try_record_payment(payment)
        })
        .await
    }

    async fn order_payments(&self, order_id: u64) -> Result<Vec<PaymentRow>, StoreError> {
        self.run("order_payments", self.limits.operation_timeout, || {
            self.try_order_payments(order_id)
        })
        .await
    }

    async fn record_refund(&self, refund: &RefundRow) -> Result<(), StoreError> {
        self.run("record_refund", self.limits.operation_timeout, || {
            self.try_record_refund(refund)
        })
        .await
    }

    async fn refund(&self, receipt: &str) -> Result<Option<RefundRow>, StoreError> {
        self.run("refund", self.limits.operation_timeout, || async move {
            let mut found = self
                .try_refunds_where("receipt = ?", Params::from((receipt,)))
                .await?;
            Ok(found.pop())
        })
        .await
    }

    async fn all_refunds(&self) -> Result<Vec<RefundRow>, StoreError> {
        self.run("all_refunds", self.limits.operation_timeout, || {
            self.try_refunds_where("TRUE ORDER BY seq", Params::Empty)
        })
        .await
    }

    async fn refund_processed(
        &self,
        gateway_refund_id: &str,
        state: &str,
        at_ms: u64,
    ) -> Result<bool, StoreError> {
        self.run("refund_processed", self.limits.operation_timeout, || {
            self.try_refund_processed(gateway_refund_id, state, at_ms)
        })
        .await
    }
}
