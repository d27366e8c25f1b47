//! Shift reports.

use super::*;

impl MysqlStore {
    pub(super) async fn try_shift_report(
        &self,
        terminal_id: TerminalId,
        from_ms: u64,
        to_ms: u64,
    ) -> Attempt<ShiftReport> {
        let mut tx = self.begin_read().await?;
        let mut lines: BTreeMap<PaymentMethod, MethodTotals> = BTreeMap::new();
        let empty = |method| MethodTotals {
            method,
            sales: 0,
            seats: 0,
            sales_minor: 0,
            refunds: 0,
            refunds_minor: 0,
        };
        let count = |n: u64, what: &str| {
            u32::try_from(n)
                .map_err(|_| StoreError::Corrupt(format!("shift report: {what} count {n}")))
        };
        let sales: Vec<Row> = tx
            .exec(
                "SELECT p.method, COUNT(*), \
                 CAST(COALESCE(SUM(\
                    (SELECT COUNT(*) FROM booking_seats s WHERE s.code = b.code) + \
                    (SELECT COUNT(*) FROM booking_seats_history h WHERE h.code = b.code) + \
                    (SELECT COUNT(*) FROM seat_refund_seats r WHERE r.code = b.code)\
                 ), 0) AS UNSIGNED), \
                 CAST(COALESCE(SUM(p.amount_minor), 0) AS SIGNED) \
                 FROM bookings b JOIN payments p ON p.code = b.code \
                 WHERE b.terminal_id = ? AND b.sold_at_ms >= ? AND b.sold_at_ms < ? \
                 GROUP BY p.method",
                (terminal_id, from_ms, to_ms),
            )
            .await?;
        for row in sales {
            let mut c = Cols::new(row, "shift report sales");
            let method = c.method(0)?;
            let line = lines.entry(method).or_insert_with(|| empty(method));
            line.sales = count(c.take(1)?, "sales")?;
            line.seats = count(c.take(2)?, "seats")?;
            line.sales_minor = c.take(3)?;
        }
        let refunds: Vec<Row> = tx
            .exec(
                "SELECT p.method, COUNT(*), CAST(COALESCE(SUM(r.amount_minor), 0) AS SIGNED) \
                 FROM (SELECT code, amount_minor, terminal_id, at_ms FROM refunds \
                       UNION ALL \
                       SELECT code, amount_minor, terminal_id, at_ms FROM seat_refunds) r \
                 JOIN payments p ON p.code = r.code \
                 WHERE r.terminal_id = ? AND r.at_ms >= ? AND r.at_ms < ? \
                 GROUP BY p.method",
                (terminal_id, from_ms, to_ms),
            )
            .await?;
        for row in refunds {
            let mut c = Cols::new(row, "shift report refunds");
            let method = c.method(0)?;
            let line = lines.entry(method).or_insert_with(|| empty(method));
            line.refunds = count(c.take(1)?, "refunds")?;
            line.refunds_minor = c.take(2)?;
        }
        let currency: Option<String> = tx
            .exec_first(
                "SELECT currency FROM ( \
                   SELECT b.currency, b.sold_at_ms AS at_ms FROM bookings b \
                   WHERE b.terminal_id = ? AND b.sold_at_ms >= ? AND b.sold_at_ms < ? \
                   UNION ALL \
                   SELECT r.currency, r.at_ms FROM refunds r \
                   WHERE r.terminal_id = ? AND r.at_ms >= ? AND r.at_ms < ? \
                   UNION ALL \
                   SELECT r.currency, r.at_ms FROM seat_refunds r \
                   WHERE r.terminal_id = ? AND r.at_ms >= ? AND r.at_ms < ? \
                 ) activity ORDER BY at_ms LIMIT 1",
                Params::Positional(
                    [terminal_id, from_ms, to_ms]
                        .repeat(3)
                        .into_iter()
                        .map(Value::from)
                        .collect(),
                ),
            )
            .await?;
        tx.commit().await?;
        Ok(ShiftReport {
            terminal_id,
            from_ms,
            to_ms,
            currency: currency.unwrap_or_else(|| REPORT_DEFAULT_CURRENCY.to_owned()),
            lines: lines.into_values().collect(),
        })
    }
}
