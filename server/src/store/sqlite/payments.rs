//! Payment orders, payments and refunds in the embedded store (`sql/sqlite/0003_payments.sql`);
//! the rules are [`crate::store::payments`]'s.

use async_trait::async_trait;
use cinebook_protocol::types::PaymentOrderState;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::{Op, SqliteStore};
use crate::store::payments::{
    parse_role, parse_seats, parse_state, seats_text, states_sql, OrderChange, OrderRecord,
    PaymentRow, PaymentStore, RefundRow, ORDER_COLUMNS, PAYMENT_COLUMNS, REFUND_COLUMNS,
};
use crate::store::StoreError;

const T: &str = "payment_orders";

fn order_from_row(r: &Row<'_>) -> Result<OrderRecord, StoreError> {
    Ok(OrderRecord {
        order_id: r.get(0).op(T)?,
        terminal_id: r.get(1).op(T)?,
        role: parse_role(&r.get::<_, String>(2).op(T)?)?,
        hold_id: r.get(3).op(T)?,
        show_id: r.get(4).op(T)?,
        seats: parse_seats(&r.get::<_, String>(5).op(T)?)?,
        amount_minor: r.get(6).op(T)?,
        currency: r.get(7).op(T)?,
        gateway_order_id: r.get(8).op(T)?,
        idempotency_key: r.get(9).op(T)?,
        state: parse_state(&r.get::<_, String>(10).op(T)?)?,
        payment_id: r.get(11).op(T)?,
        booking_code: r.get(12).op(T)?,
        reason: r.get(13).op(T)?,
        window_ends_at_ms: r.get(14).op(T)?,
        created_at_ms: r.get(15).op(T)?,
        updated_at_ms: r.get(16).op(T)?,
        contact: cinebook_protocol::types::Contact {
            email: r.get(17).op(T)?,
            phone: r.get(18).op(T)?,
        },
    })
}

fn refund_from_row(r: &Row<'_>) -> Result<RefundRow, StoreError> {
    let t = "payment_refunds";
    Ok(RefundRow {
        receipt: r.get(0).op(t)?,
        order_id: r.get(1).op(t)?,
        payment_id: r.get(2).op(t)?,
        booking_code: r.get(3).op(t)?,
        gateway_refund_id: r.get(4).op(t)?,
        amount_minor: r.get(5).op(t)?,
        currency: r.get(6).op(t)?,
        state: r.get(7).op(t)?,
        created_at_ms: r.get(8).op(t)?,
        updated_at_ms: r.get(9).op(t)?,
    })
}

fn payment_from_row(r: &Row<'_>) -> Result<PaymentRow, StoreError> {
    let t = "payment_records";
    Ok(PaymentRow {
        payment_id: r.get(0).op(t)?,
        order_id: r.get(1).op(t)?,
        amount_minor: r.get(2).op(t)?,
        currency: r.get(3).op(t)?,
        status: r.get(4).op(t)?,
        at_ms: r.get(5).op(t)?,
    })
}

fn select<T>(
    conn: &Connection,
    sql: &str,
    params: Vec<Value>,
    map: fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare(sql).op(sql)?;
    let mut rows = stmt.query(params_from_iter(params)).op(sql)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().op(sql)? {
        out.push(map(row)?);
    }
    Ok(out)
}

fn orders_where(
    conn: &Connection,
    filter: &str,
    params: Vec<Value>,
) -> Result<Vec<OrderRecord>, StoreError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM payment_orders WHERE {filter}");
    select(conn, &sql, params, order_from_row)
}

fn int(value: u64) -> Result<Value, StoreError> {
    i64::try_from(value)
        .map(Value::Integer)
        .map_err(|_| StoreError::Conflict(format!("{value} does not fit the embedded store")))
}

fn text(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::Text)
}

fn create_order_blocking(
    conn: &mut Connection,
    o: &OrderRecord,
) -> Result<OrderRecord, StoreError> {
    let tx = SqliteStore::write_tx(conn, "create_order")?;
    let by_key = "terminal_id = ?1 AND idempotency_key = ?2";
    let key = vec![int(o.terminal_id)?, Value::Text(o.idempotency_key.clone())];
    if let Some(existing) = orders_where(&tx, by_key, key)?.pop() {
        return Ok(existing);
    }
    let sql = format!(
        "INSERT INTO payment_orders ({ORDER_COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
    );
    let values = vec![
        int(o.order_id)?,
        int(o.terminal_id)?,
        Value::Text(o.role.name().to_owned()),
        int(o.hold_id)?,
        int(o.show_id)?,
        Value::Text(seats_text(&o.seats)),
        Value::Integer(o.amount_minor),
        Value::Text(o.currency.clone()),
        text(&o.gateway_order_id),
        Value::Text(o.idempotency_key.clone()),
        Value::Text(o.state.name().to_owned()),
        text(&o.payment_id),
        text(&o.booking_code),
        text(&o.reason),
        int(o.window_ends_at_ms)?,
        int(o.created_at_ms)?,
        int(o.updated_at_ms)?,
        text(&o.contact.email),
        text(&o.contact.phone),
    ];
    tx.execute(&sql, params_from_iter(values))
        .op("create_order")?;
    tx.commit().op("create_order")?;
    Ok(o.clone())
}

fn change_order_blocking(
    conn: &mut Connection,
    order_id: u64,
    from: &[PaymentOrderState],
    ch: &OrderChange,
) -> Result<bool, StoreError> {
    let sql = format!(
        "UPDATE payment_orders SET state = ?1, \
         gateway_order_id = COALESCE(?2, gateway_order_id), \
         payment_id = COALESCE(?3, payment_id), booking_code = COALESCE(?4, booking_code), \
         reason = COALESCE(?5, reason), updated_at_ms = ?6 WHERE order_id = ?7 AND {}",
        states_sql(from)
    );
    let values = vec![
        Value::Text(ch.state.name().to_owned()),
        text(&ch.gateway_order_id),
        text(&ch.payment_id),
        text(&ch.booking_code),
        text(&ch.reason),
        int(ch.at_ms)?,
        int(order_id)?,
    ];
    let changed = conn
        .execute(&sql, params_from_iter(values))
        .op("change_order")?;
    if changed > 0 {
        return Ok(true);
    }
    let exists: Option<i64> = conn
        .query_row(
            "SELECT order_id FROM payment_orders WHERE order_id = ?1",
            params![int(order_id)?],
            |r| r.get(0),
        )
        .optional()
        .op("change_order")?;
    match exists {
        Some(_) => Ok(false),
        None => Err(StoreError::NotFound(format!("payment order {order_id}"))),
    }
}

fn record_refund_blocking(conn: &mut Connection, r: &RefundRow) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO payment_refunds ({REFUND_COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (receipt) DO UPDATE SET \
         gateway_refund_id = COALESCE(excluded.gateway_refund_id, gateway_refund_id), \
         state = excluded.state, updated_at_ms = excluded.updated_at_ms"
    );
    let values = vec![
        Value::Text(r.receipt.clone()),
        int(r.order_id)?,
        Value::Text(r.payment_id.clone()),
        text(&r.booking_code),
        text(&r.gateway_refund_id),
        Value::Integer(r.amount_minor),
        Value::Text(r.currency.clone()),
        Value::Text(r.state.clone()),
        int(r.created_at_ms)?,
        int(r.updated_at_ms)?,
    ];
    conn.execute(&sql, params_from_iter(values))
        .op("record_refund")?;
    Ok(())
}

fn open_filter() -> String {
    format!(
        "{} ORDER BY created_at_ms, order_id",
        states_sql(&[
            PaymentOrderState::Creating,
            PaymentOrderState::AwaitingPayment,
            PaymentOrderState::Captured,
            PaymentOrderState::RefundPending,
        ])
    )
}

#[async_trait]
impl PaymentStore for SqliteStore {
    async fn create_order(&self, order: &OrderRecord) -> Result<OrderRecord, StoreError> {
        let order = order.clone();
        self.call("create_order", move |c| create_order_blocking(c, &order))
            .await
    }

    async fn order(&self, order_id: u64) -> Result<Option<OrderRecord>, StoreError> {
        self.call("order", move |c| {
            Ok(orders_where(c, "order_id = ?1", vec![int(order_id)?])?.pop())
        })
        .await
    }

    async fn order_by_gateway_id(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let id = id.to_owned();
        self.call("order_by_gateway_id", move |c| {
            Ok(orders_where(c, "gateway_order_id = ?1", vec![Value::Text(id)])?.pop())
        })
        .await
    }

    async fn order_by_booking(&self, code: &str) -> Result<Option<OrderRecord>, StoreError> {
        let code = code.to_owned();
        self.call("order_by_booking", move |c| {
            Ok(orders_where(c, "booking_code = ?1", vec![Value::Text(code)])?.pop())
        })
        .await
    }

    async fn open_orders(&self) -> Result<Vec<OrderRecord>, StoreError> {
        self.call("open_orders", |c| {
            orders_where(c, &open_filter(), Vec::new())
        })
        .await
    }

    async fn all_orders(&self) -> Result<Vec<OrderRecord>, StoreError> {
        self.call("all_orders", |c| {
            orders_where(c, "1 ORDER BY created_at_ms, order_id", Vec::new())
        })
        .await
    }

    async fn change_order(
        &self,
        order_id: u64,
        from: &[PaymentOrderState],
        change: &OrderChange,
    ) -> Result<bool, StoreError> {
        let (from, change) = (from.to_vec(), change.clone());
        self.call("change_order", move |c| {
            change_order_blocking(c, order_id, &from, &change)
        })
        .await
    }

    async fn record_payment(&self, p: &PaymentRow) -> Result<(), StoreError> {
        let p = p.clone();
        self.call("record_payment", move |c| {
            let sql = format!(
                "INSERT INTO payment_records ({PAYMENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (payment_id) DO UPDATE SET status = excluded.status, \
                 at_ms = excluded.at_ms"
            );
            let values = vec![
                Value::Text(p.payment_id.clone()),
                int(p.order_id)?,
                Value::Integer(p.amount_minor),
                Value::Text(p.currency.clone()),
                Value::Text(p.status.clone()),
                int(p.at_ms)?,
            ];
            c.execute(&sql, params_from_iter(values))
                .op("record_payment")?;
            Ok(())
        })
        .await
    }

    async fn order_payments(&self, order_id: u64) -> Result<Vec<PaymentRow>, StoreError> {
        self.call("order_payments", move |c| {
            let sql = format!(
                "SELECT {PAYMENT_COLUMNS} FROM payment_records WHERE order_id = ?1 \
                 ORDER BY at_ms, payment_id"
            );
            select(c, &sql, vec![int(order_id)?], payment_from_row)
        })
        .await
    }

    async fn record_refund(&self, refund: &RefundRow) -> Result<(), StoreError> {
        let refund = refund.clone();
        self.call("record_refund", move |c| record_refund_blocking(c, &refund))
            .await
    }

    async fn refund(&self, receipt: &str) -> Result<Option<RefundRow>, StoreError> {
        let receipt = receipt.to_owned();
        self.call("refund", move |c| {
            let sql = format!("SELECT {REFUND_COLUMNS} FROM payment_refunds WHERE receipt = ?1");
            Ok(select(c, &sql, vec![Value::Text(receipt)], refund_from_row)?.pop())
        })
        .await
    }

    async fn all_refunds(&self) -> Result<Vec<RefundRow>, StoreError> {
        self.call("all_refunds", |c| {
            let sql = format!("SELECT {REFUND_COLUMNS} FROM payment_refunds ORDER BY seq");
            select(c, &sql, Vec::new(), refund_from_row)
        })
        .await
    }

    async fn refund_processed(
        &self,
        gateway_refund_id: &str,
        state: &str,
        at_ms: u64,
    ) -> Result<bool, StoreError> {
        let (id, state) = (gateway_refund_id.to_owned(), state.to_owned());
        self.call("refund_processed", move |c| {
            let changed = c
                .execute(
                    "UPDATE payment_refunds SET state = ?1, updated_at_ms = ?2 \
                     WHERE gateway_refund_id = ?3",
                    params![state, int(at_ms)?, id],
                )
                .op("refund_processed")?;
            Ok(changed > 0)
        })
        .await
    }
}
