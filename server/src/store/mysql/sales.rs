//! Sales: group-commit transactions, how a refusal is explained, resolving unknown outcomes,
//! cancellations.

use super::outbox;
use super::*;

impl MysqlStore {
    /// Loads bookings, every one or only the one with `code`.
    pub(super) async fn read_bookings<Q: Queryable>(
        conn: &mut Q,
        code: Option<&str>,
    ) -> Attempt<Vec<StoredBooking>> {
        let filter = if code.is_some() {
            " WHERE b.code = ?"
        } else {
            ""
        };
        let params = match code {
            Some(code) => Params::Positional(vec![Value::from(code)]),
            None => Params::Empty,
        };
        let rows: Vec<Row> = conn
            .exec(
                format!(
                    "SELECT b.code, b.show_id, b.terminal_id, b.status, b.total_minor, \
                     b.currency, b.sold_at_ms, b.lamport, b.node_id, b.idempotency_key, \
                     p.method, p.amount_minor, p.currency, p.reference, b.hold_id \
                     FROM bookings b LEFT JOIN payments p ON p.code = b.code{filter} \
                     ORDER BY b.lamport, b.node_id, b.code"
                ),
                params.clone(),
            )
            .await?;
        let seat_filter = if code.is_some() {
            " WHERE code = ?"
        } else {
            ""
        };
        let seat_params = match code {
            Some(code) => Params::Positional(vec![Value::from(code), Value::from(code)]),
            None => Params::Empty,
        };
        let seat_rows: Vec<Row> = conn
            .exec(
                format!(
                    "SELECT code, position, seat_id, label, category, price_minor \
                     FROM booking_seats{seat_filter} \
                     UNION ALL \
                     SELECT code, position, seat_id, label, category, price_minor \
                     FROM booking_seats_history{seat_filter}"
                ),
                seat_params,
            )
            .await?;
        let mut seats: HashMap<String, Vec<(u32, BookedSeat)>> = HashMap::new();
        for row in seat_rows {
            let mut c = Cols::new(row, "booking_seats");
            let code: String = c.take(0)?;
            let position: u32 = c.take(1)?;
            seats.entry(code).or_default().push((
                position,
                BookedSeat {
                    seat_id: c.take(2)?,
                    label: c.take(3)?,
                    category: c.category(4)?,
                    price_minor: c.take(5)?,
                },
            ));
        }
        let mut bookings = Vec::with_capacity(rows.len());
        for row in rows {
            let mut c = Cols::new(row, "bookings");
            let code: String = c.take(0)?;
            let show_id = c.take(1)?;
            let terminal_id = c.take(2)?;
            let status = c.status(3)?;
            let total = Money {
                amount_minor: c.take(4)?,
                currency: c.take(5)?,
            };
            let sold_at_ms = c.take(6)?;
            let lamport = c.take(7)?;
            let node_id = c.take(8)?;
            let idempotency_key = c.take(9)?;
            let method: Option<String> = c.take(10)?;
            let method = match method.as_deref().map(PaymentMethod::parse) {
                Some(Some(method)) => method,
                Some(None) => {
                    return Err(StoreError::Corrupt(format!(
                        "booking {code}: unknown payment method {method:?}"
                    ))
                    .into())
                }
                None => {
                    return Err(
                        StoreError::Corrupt(format!("booking {code} has no payment row")).into(),
                    )
                }
            };
            let payment = Payment {
                method,
                amount: Money {
                    amount_minor: c.take(11)?,
                    currency: c.take(12)?,
                },
                reference: c.take(13)?,
            };
            let hold_id = c.take(14)?;
            let mut booked = seats.remove(&code).unwrap_or_default();
            booked.sort_by_key(|(position, _)| *position);
            bookings.push(StoredBooking {
                booking: Booking {
                    code,
                    show_id,
                    seats: booked.into_iter().map(|(_, seat)| seat).collect(),
                    total,
                    payment,
                    status,
                    terminal_id,
                    sold_at_ms,
                    lamport,
                    node_id,
                },
                idempotency_key,
                hold_id,
            });
        }
        Ok(bookings)
    }

    pub(super) async fn try_load_bookings(&self) -> Attempt<Vec<StoredBooking>> {
        let mut tx = self.begin_read().await?;
        let bookings = Self::read_bookings(&mut tx, None).await?;
        tx.commit().await?;
        Ok(bookings)
    }

    /// Writes `sales` in one transaction with multi-row INSERTs; sets `commit_sent` just before
    /// `COMMIT` goes out.
    pub(super) async fn try_commit_batch(
        &self,
        sales: &[SaleRecord],
        commit_sent: &AtomicBool,
    ) -> Attempt<()> {
        let mut bookings: Vec<Value> = Vec::with_capacity(sales.len() * 13);
        let mut outbox_rows: Vec<Value> = Vec::with_capacity(sales.len() * outbox::OUTBOX_INSERT.1);
        let mut seats: Vec<Value> = Vec::new();
        let mut payments: Vec<Value> = Vec::with_capacity(sales.len() * 5);
        let mut audits: Vec<Value> = Vec::with_capacity(sales.len() * 7);
        for sale in sales {
            let b = &sale.booking;
            bookings.extend([
                Value::from(b.code.as_str()),
                Value::from(b.show_id),
                Value::from(b.terminal_id),
                Value::from(status_name(b.status)),
                Value::from(b.total.amount_minor),
                Value::from(b.total.currency.as_str()),
                Value::from(b.sold_at_ms),
                Value::from(b.lamport),
                Value::from(b.node_id),
                Value::from(sale.idempotency_key.as_str()),
                Value::from(sale.hold_id),
                Value::from(sale.contact.email.as_deref()),
                Value::from(sale.contact.phone.as_deref()),
            ]);
            outbox::outbox_values(&sale.outbox, &mut outbox_rows);
            for (index, seat) in b.seats.iter().enumerate() {
                seats.extend([
                    Value::from(b.show_id),
                    Value::from(seat.seat_id),
                    Value::from(b.code.as_str()),
                    Value::from(position(index)?),
                    Value::from(seat.label.as_str()),
                    Value::from(seat.category.name()),
                    Value::from(seat.price_minor),
                ]);
            }
            payments.extend([
                Value::from(b.code.as_str()),
                Value::from(b.payment.method.name()),
                Value::from(b.payment.amount.amount_minor),
                Value::from(b.payment.amount.currency.as_str()),
                Value::from(b.payment.reference.clone()),
            ]);
            audits.extend([
                Value::from(b.show_id),
                Value::from(b.lamport),
                Value::from(b.node_id),
                Value::from("sale"),
                Value::from(b.code.as_str()),
                Value::from(sale_detail(sale)),
                Value::from(b.sold_at_ms),
            ]);
        }
        // The four INSERTs go to the server as one multi-statement query: one round trip.
        let mut statements = Vec::new();
        let tables: [(&str, usize, &[Value]); 4] = [
            (
                "INSERT INTO bookings (code, show_id, terminal_id, status, total_minor, currency, \
                 sold_at_ms, lamport, node_id, idempotency_key, hold_id, contact_email, \
                 contact_phone)",
                13,
                &bookings,
            ),
            (
                "INSERT INTO booking_seats (show_id, seat_id, code, position, label, category, \
                 price_minor)",
                7,
                &seats,
            ),
            (
                "INSERT INTO payments (code, method, amount_minor, currency, reference)",
                5,
                &payments,
            ),
            (
                "INSERT INTO audit_events (show_id, lamport, node_id, kind, code, detail, at_ms)",
                7,
                &audits,
            ),
        ];
        for (head, cols, values) in tables {
            for rows in values.chunks(cols * MAX_ROWS_PER_INSERT) {
                statements.push(literal_insert_sql(head, cols, rows));
            }
        }
        statements.extend(outbox::outbox_statements(&outbox_rows));
        let mut tx = self.begin().await?;
        self.check_fence(&mut tx).await?;
        tx.query_drop(statements.join(";\n")).await?;
        // From here on the outcome may be unknown: the INSERTs were acknowledged, so the rows
        // are written and locked by this transaction until it ends (see `try_resolve_sale`).
        commit_sent.store(true, Ordering::SeqCst);
        Self::commit(tx).await
    }

    /// What is stored about `sale`'s code, key and seats (latest committed data).
    pub(super) async fn try_conflict_facts(&self, sale: &SaleRecord) -> Attempt<ConflictFacts> {
        let b = &sale.booking;
        let mut tx = self.begin_read().await?;
        let by_code = Self::read_bookings(&mut tx, Some(&b.code)).await?.pop();
        let by_key: Option<String> = tx
            .exec_first(
                "SELECT code FROM bookings WHERE terminal_id = ? AND idempotency_key = ?",
                (b.terminal_id, sale.idempotency_key.as_str()),
            )
            .await?;
        let mut seat_owners = Vec::new();
        for seat in &b.seats {
            let owner: Option<String> = tx
                .exec_first(
                    "SELECT code FROM booking_seats WHERE show_id = ? AND seat_id = ?",
                    (b.show_id, seat.seat_id),
                )
                .await?;
            if let Some(owner) = owner {
                seat_owners.push((seat.seat_id, owner));
            }
        }
        tx.commit().await?;
        Ok(ConflictFacts {
            by_code,
            by_key,
            seat_owners,
        })
    }

    /// The booking `code` once no transaction that may write it is open.
    ///
    /// Why the locking read waits for an unknown sale: a sale is [`SaleOutcome::Unknown`] only
    /// when its `COMMIT` was sent, and `COMMIT` is sent only after the server acknowledged the
    /// sale's INSERTs. From that acknowledgement until its transaction ends, InnoDB holds an
    /// exclusive lock on the inserted `bookings` row (an implicit lock, made explicit when
    /// another transaction asks for it). `SELECT … LOCK IN SHARE MODE` on that primary key
    /// therefore waits until the sale's transaction committed (then it reads the row) or rolled
    /// back (then there is none): it cannot return while the outcome is still open. If the
    /// wait is longer than `innodb_lock_wait_timeout` or the operation timeout, this is an
    /// error ("ask again"), never `None`. READ COMMITTED makes the plain reads that follow see
    /// what that transaction committed (and takes no gap lock on a missing row).
    pub(super) async fn try_resolve_sale(&self, code: &str) -> Attempt<Option<StoredBooking>> {
        let mut opts = TxOpts::default();
        opts.with_isolation_level(Some(IsolationLevel::ReadCommitted));
        let mut tx = self.pool.start_transaction(opts).await?;
        let locked: Option<String> = tx
            .exec_first(
                "SELECT code FROM bookings WHERE code = ? LOCK IN SHARE MODE",
                (code,),
            )
            .await?;
        let booking = match locked {
            Some(_) => Self::read_bookings(&mut tx, Some(code)).await?.pop(),
            None => None,
        };
        tx.commit().await?;
        Ok(booking)
    }

    pub(super) async fn try_sale_by_key(
        &self,
        terminal_id: TerminalId,
        key: &str,
    ) -> Attempt<Option<StoredBooking>> {
        let mut tx = self.begin_read().await?;
        let code: Option<String> = tx
            .exec_first(
                "SELECT code FROM bookings WHERE terminal_id = ? AND idempotency_key = ?",
                (terminal_id, key),
            )
            .await?;
        let booking = match code {
            Some(code) => Self::read_bookings(&mut tx, Some(&code)).await?.pop(),
            None => None,
        };
        tx.commit().await?;
        Ok(booking)
    }

    /// One attempt of a sale transaction within the operation timeout, as a [`BatchFailure`]:
    /// a timeout or a failure after `COMMIT` was sent is `Unknown`, before it `NotCommitted`
    /// (or `Refused` for a rule of the database). Retried only when nothing can have been
    /// committed (a broken pooled connection, a deadlock).
    pub(super) async fn run_sale_batch(&self, sales: &[SaleRecord]) -> Result<(), BatchFailure> {
        let op = "commit_sales";
        let timeout = self.limits.operation_timeout;
        let mut tries = 0;
        loop {
            tries += 1;
            let commit_sent = AtomicBool::new(false);
            let attempt = self.try_commit_batch(sales, &commit_sent);
            let result = match tokio::time::timeout(timeout, attempt).await {
                Ok(result) => result,
                Err(_) if commit_sent.load(Ordering::SeqCst) => {
                    tracing::warn!(op, "no answer to COMMIT in time; the outcome is unknown");
                    return Err(BatchFailure::Unknown(format!(
                        "{op}: COMMIT sent, no answer from MySQL within {} ms",
                        timeout.as_millis()
                    )));
                }
                Err(_) => {
                    return Err(BatchFailure::NotCommitted(format!(
                        "{op}: no answer from MySQL within {} ms (before COMMIT)",
                        timeout.as_millis()
                    )))
                }
            };
            let error = match result {
                Ok(()) => return Ok(()),
                Err(Fail::AtCommit(error)) => {
                    tracing::warn!(op, %error, "COMMIT failed; the outcome is unknown");
                    return Err(BatchFailure::Unknown(format!(
                        "{op}: COMMIT failed: {error}"
                    )));
                }
                Err(Fail::BeforeCommit(error)) if retryable(&error, tries) => {
                    tracing::warn!(op, %error, "sale transaction failed before COMMIT; retrying");
                    tokio::time::sleep(Duration::from_millis(2 * u64::from(tries))).await;
                    continue;
                }
                Err(Fail::BeforeCommit(error)) => store_error(op, &error),
                Err(Fail::Store(error)) => error,
            };
            return Err(match error {
                StoreError::Conflict(why) | StoreError::NotFound(why) => BatchFailure::Refused(why),
                other => BatchFailure::NotCommitted(other.to_string()),
            });
        }
    }

    pub(super) async fn try_commit_cancel(&self, cancel: &CancelRecord) -> Attempt<()> {
        let status = if cancel.refund {
            BookingStatus::Refunded
        } else {
            BookingStatus::Cancelled
        };
        let mut tx = self.begin().await?;
        self.check_fence(&mut tx).await?;
        tx.exec_drop(
            "UPDATE bookings SET status = ? WHERE code = ? AND status = ?",
            (
                status_name(status),
                cancel.code.as_str(),
                status_name(BookingStatus::Confirmed),
            ),
        )
        .await?;
        if tx.affected_rows() == 0 {
            let current: Option<String> = tx
                .exec_first(
                    "SELECT status FROM bookings WHERE code = ?",
                    (cancel.code.as_str(),),
                )
                .await?;
            tx.rollback().await?;
            return Err(match current {
                None => StoreError::NotFound(format!("booking {}", cancel.code)),
                Some(current) => StoreError::Conflict(format!(
                    "booking {} is {current}, not confirmed",
                    cancel.code
                )),
            }
            .into());
        }
        let show_id: Option<u64> = tx
            .exec_first(
                "SELECT show_id FROM bookings WHERE code = ?",
                (cancel.code.as_str(),),
            )
            .await?;
        let show_id = show_id.ok_or_else(|| {
            StoreError::Corrupt(format!("booking {} vanished while cancelling", cancel.code))
        })?;
        tx.exec_drop(
            "INSERT INTO booking_seats_history \
             (code, seat_id, show_id, position, label, category, price_minor, released_at_ms) \
             SELECT code, seat_id, show_id, position, label, category, price_minor, ? \
             FROM booking_seats WHERE code = ?",
            (cancel.at_ms, cancel.code.as_str()),
        )
        .await?;
        tx.exec_drop(
            "DELETE FROM booking_seats WHERE code = ?",
            (cancel.code.as_str(),),
        )
        .await?;
        if cancel.refund {
            tx.exec_drop(
                "INSERT INTO refunds (code, amount_minor, currency, terminal_id, at_ms, lamport, \
                 node_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                Params::Positional(vec![
                    Value::from(cancel.code.as_str()),
                    Value::from(cancel.amount.amount_minor),
                    Value::from(cancel.amount.currency.as_str()),
                    Value::from(cancel.terminal_id),
                    Value::from(cancel.at_ms),
                    Value::from(cancel.lamport),
                    Value::from(cancel.node_id),
                    Value::from(cancel.reason.as_str()),
                ]),
            )
            .await?;
        }
        let detail = audit_detail(format!(
            "{} code={} terminal={} refund={} {} reason={}",
            status_name(status),
            cancel.code,
            cancel.terminal_id,
            if cancel.refund {
                cancel.amount.amount_minor
            } else {
                0
            },
            cancel.amount.currency,
            cancel.reason
        ));
        tx.exec_drop(
            "INSERT INTO audit_events (show_id, lamport, node_id, kind, code, detail, at_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            Params::Positional(vec![
                Value::from(show_id),
                Value::from(cancel.lamport),
                Value::from(cancel.node_id),
                Value::from(if cancel.refund { "refund" } else { "cancel" }),
                Value::from(cancel.code.as_str()),
                Value::from(detail),
                Value::from(cancel.at_ms),
            ]),
        )
        .await?;
        outbox::insert_outbox(&mut tx, &cancel.outbox).await?;
        Self::commit(tx).await
    }
}

#[async_trait]
impl SaleBackend for MysqlStore {
    async fn commit_batch(&self, sales: &[SaleRecord]) -> Result<(), BatchFailure> {
        self.run_sale_batch(sales).await
    }

    async fn conflict_facts(&self, sale: &SaleRecord) -> Result<ConflictFacts, StoreError> {
        self.run("conflict_facts", self.limits.operation_timeout, || {
            self.try_conflict_facts(sale)
        })
        .await
    }
}
