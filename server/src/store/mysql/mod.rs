//! MySQL store: production durability through mysql_async (MySQL 8 or MariaDB 10.6+).
//!
//! - Migrations are the numbered files of `sql/mysql/`, embedded in the binary
//!   ([`MIGRATIONS`]) and applied by [`Store::migrate`] in order, each at most once, recorded
//!   in `schema_migrations`. A named lock (`GET_LOCK`) serialises nodes that start together.
//! - Every method is one transaction. [`Store::commit_sales`] is the shared
//!   [`group_commit`] algorithm over this store's [`SaleBackend`]: one
//!   transaction for the whole batch with multi-row INSERTs of at most [`MAX_ROWS_PER_INSERT`]
//!   rows each; a batch a rule of the database refuses (a seat already sold: duplicate key,
//!   error 1062) is isolated sale by sale, so only the offenders are
//!   [`SaleOutcome::Conflict`].
//! - A sale transaction that timed out or failed after its `COMMIT` was sent is
//!   [`SaleOutcome::Unknown`], before it `NotCommitted`; it is never retried.
//!   [`Store::resolve_sale`] settles an unknown sale with a locking read (see
//!   `sales.rs`, `try_resolve_sale`, for why it waits for the unknown transaction).
//! - Connection and I/O failures map to [`StoreError::Unavailable`]. The pool drops broken
//!   connections and opens new ones, so the store recovers by itself when MySQL is back; an
//!   operation whose connection broke before it sent `COMMIT` is retried once on a fresh
//!   connection ([`MAX_ATTEMPTS`]). Every operation is bounded by
//!   [`MysqlLimits::operation_timeout`].
//!
//! Files: this one holds the connection, `run`, errors and SQL helpers; `migrate.rs`,
//! `catalog.rs`, `sales.rs`, `blocks.rs`, `terminals.rs`, `reports.rs`, `cluster.rs` hold one
//! concern each; `store_impl.rs` maps the [`Store`] trait onto them.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cinebook_protocol::cluster::AuditEntry;

use async_trait::async_trait;
use cinebook_protocol::types::{
    BookedSeat, Booking, BookingStatus, Category, City, MethodTotals, Money, Movie, Payment,
    PaymentMethod, Price, Role, Screen, Seat, ShiftReport, Show, TerminalId, Theater,
};
use mysql_async::prelude::{FromValue, Queryable};
use mysql_async::{Conn, DriverError, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts};
use mysql_async::{IsolationLevel, Row, Transaction, TxOpts, Value};

use super::audit::{self, audit_detail, sale_detail};
use super::group_commit::{self, BatchFailure, ConflictFacts, SaleBackend};
use super::{
    AdmissionRecord, AdmitOutcome, BlockRecord, CancelRecord, CatalogChanges, CatalogData,
    EpochClaim, EpochState, ExternalId, ExternalKind, SaleOutcome, SaleRecord, SeatRefundRecord,
    Store, StoreError, StoredBooking, TerminalRecord,
};
use cinebook_protocol::types::{SeatId, ShowId};

mod admissions;
mod blocks;
mod catalog;
mod cluster;
mod migrate;
mod outbox;
mod payments;
mod reports;
mod sales;
pub(crate) mod seat_refunds;
mod store_impl;
mod terminals;

pub use migrate::split_statements;

/// One embedded migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Version number, the file's numeric prefix; applied in ascending order.
    pub version: u32,
    /// Short name, the rest of the file name.
    pub name: &'static str,
    /// The SQL: statements separated by `;` at the end of a line, `--` comment lines allowed.
    pub sql: &'static str,
}

/// Every migration this server knows, in order (the files of `sql/mysql/`).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../../../sql/mysql/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "external_ids",
        sql: include_str!("../../../../sql/mysql/0002_external_ids.sql"),
    },
    Migration {
        version: 3,
        name: "hold_ids_and_blocked_seats",
        sql: include_str!("../../../../sql/mysql/0003_hold_ids_and_blocked_seats.sql"),
    },
    Migration {
        version: 4,
        name: "payments",
        sql: include_str!("../../../../sql/mysql/0004_payments.sql"),
    },
    Migration {
        version: 5,
        name: "cluster_lease",
        sql: include_str!("../../../../sql/mysql/0005_cluster_lease.sql"),
    },
    Migration {
        version: 6,
        name: "seat_refunds",
        sql: include_str!("../../../../sql/mysql/0006_seat_refunds.sql"),
    },
    Migration {
        version: 7,
        name: "admissions",
        sql: include_str!("../../../../sql/mysql/0007_admissions.sql"),
    },
    Migration {
        version: 8,
        name: "notifications",
        sql: include_str!("../../../../sql/mysql/0008_notifications.sql"),
    },
];

/// Rows per multi-row INSERT statement: keeps each statement far below `max_allowed_packet`
/// (a row is at most about 2 KiB, so a statement is at most about 1 MiB) and below the
/// 65,535 placeholders a prepared statement may have.
pub const MAX_ROWS_PER_INSERT: usize = 500;

/// Attempts per operation: a second attempt is made only when the connection broke before
/// `COMMIT` was sent (nothing can have been committed), typically a pooled connection that
/// MySQL closed while it was idle.
pub const MAX_ATTEMPTS: u32 = 2;

/// Longest audit `detail` text, in characters (the column is `VARCHAR(2000)`).
pub const AUDIT_DETAIL_MAX_CHARS: usize = 2000;

/// Widths of the text columns, in characters. MySQL (strict mode) rejects a longer value; the
/// memory store rejects it the same way, so that both stores keep one contract. Callers should
/// validate input against these before it reaches the store.
pub mod widths {
    /// City, theater, screen and terminal names.
    pub const NAME: usize = 200;
    /// Movie titles.
    pub const TITLE: usize = 300;
    /// Age ratings.
    pub const RATING: usize = 16;
    /// Seat row names.
    pub const ROW: usize = 16;
    /// Seat labels.
    pub const LABEL: usize = 32;
    /// Booking codes.
    pub const BOOKING_CODE: usize = 32;
    /// Idempotency keys.
    pub const IDEMPOTENCY_KEY: usize = 128;
    /// Payment references.
    pub const PAYMENT_REFERENCE: usize = 200;
    /// Cancellation reasons.
    pub const REASON: usize = 500;
    /// ISO 4217 currency codes (`CHAR(3)`).
    pub const CURRENCY: usize = 3;
    /// Hex SHA-256 token hashes (`CHAR(64)`).
    pub const TOKEN_SHA256: usize = 64;
    /// Gate names of admissions (`admissions.gate`).
    pub const GATE: usize = 64;
    /// Import source names (`external_ids.source`).
    pub const SOURCE: usize = 64;
    /// Upstream ids (`external_ids.external_id`).
    pub const EXTERNAL_ID: usize = 200;
}

/// Currency of a shift report without any activity to take it from.
pub const REPORT_DEFAULT_CURRENCY: &str = "EUR";

/// Seconds a node waits for another node's migration to finish (`GET_LOCK` timeout).
pub const MIGRATION_LOCK_WAIT_SECS: u32 = 60;

/// The named lock that serialises migrations across nodes.
const MIGRATION_LOCK_NAME: &str = "cinebook_schema_migrations";

/// Session settings run on every new (and every reset) connection: strict mode, so that a
/// value that does not fit is an error rather than silently truncated.
const SESSION_SETUP: &str = "SET SESSION sql_mode = \
     'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";

/// MySQL error codes the store interprets.
mod code {
    /// Duplicate entry for a unique key.
    pub const DUP_ENTRY: u16 = 1062;
    /// Column cannot be null.
    pub const BAD_NULL: u16 = 1048;
    /// Foreign key: the referenced row does not exist (old code).
    pub const NO_REFERENCED_ROW: u16 = 1216;
    /// Foreign key: the row is still referenced (old code).
    pub const ROW_IS_REFERENCED: u16 = 1217;
    /// Foreign key: the row is still referenced.
    pub const ROW_IS_REFERENCED_2: u16 = 1451;
    /// Foreign key: the referenced row does not exist.
    pub const NO_REFERENCED_ROW_2: u16 = 1452;
    /// Out-of-range value.
    pub const OUT_OF_RANGE: u16 = 1264;
    /// Incorrect value for a column.
    pub const WRONG_VALUE: u16 = 1366;
    /// Data too long for a column.
    pub const DATA_TOO_LONG: u16 = 1406;
    /// CHECK constraint failed (MySQL).
    pub const CHECK_MYSQL: u16 = 3819;
    /// CHECK constraint failed (MariaDB).
    pub const CHECK_MARIADB: u16 = 4025;
    /// `ALTER TABLE … ADD COLUMN` of a column that exists.
    pub const DUP_FIELDNAME: u16 = 1060;
    /// `ADD KEY` of a key name that exists.
    pub const DUP_KEYNAME: u16 = 1061;
}

/// Whether a migration statement failed only because it was applied before (MySQL has no
/// `ADD COLUMN IF NOT EXISTS`).
fn already_applied(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Server(e)
        if e.code == code::DUP_FIELDNAME || e.code == code::DUP_KEYNAME)
}

/// Connection pool and time limits of a [`MysqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MysqlLimits {
    /// Connections the pool keeps open even when idle.
    pub pool_min_connections: usize,
    /// Most connections the pool opens; further callers wait (within `operation_timeout`).
    pub pool_max_connections: usize,
    /// Longest time one store operation may take, including waiting for a pooled connection;
    /// past it the operation fails with [`StoreError::Unavailable`] (a sale: `NotCommitted`
    /// before its `COMMIT` was sent, `Unknown` after).
    pub operation_timeout: Duration,
    /// Longest time [`Store::migrate`] may take (DDL on a large table can be slow).
    pub migration_timeout: Duration,
    /// Prepared statements cached per connection (multi-row INSERTs of different sizes are
    /// different statements).
    pub statement_cache_size: usize,
}

impl Default for MysqlLimits {
    fn default() -> Self {
        MysqlLimits {
            pool_min_connections: 1,
            pool_max_connections: 16,
            operation_timeout: Duration::from_secs(10),
            migration_timeout: Duration::from_secs(300),
            statement_cache_size: 64,
        }
    }
}

/// The production [`Store`]: MySQL or MariaDB through a mysql_async connection pool.
#[derive(Debug, Clone)]
pub struct MysqlStore {
    pool: Pool,
    limits: MysqlLimits,
    /// The epoch this node leads with; 0 = no fencing (a single node). Shared by clones.
    fence_epoch: Arc<AtomicU64>,
}

/// Why one attempt of an operation failed.
#[derive(Debug)]
enum Fail {
    /// A database error before `COMMIT` was sent: nothing was committed.
    BeforeCommit(mysql_async::Error),
    /// `COMMIT` itself failed: the outcome is unknown.
    AtCommit(mysql_async::Error),
    /// A store-level answer (not found, conflict, corrupt data).
    Store(StoreError),
}

impl From<mysql_async::Error> for Fail {
    fn from(error: mysql_async::Error) -> Self {
        Fail::BeforeCommit(error)
    }
}

impl From<StoreError> for Fail {
    fn from(error: StoreError) -> Self {
        Fail::Store(error)
    }
}

type Attempt<T> = Result<T, Fail>;

/// Attempts of one operation that InnoDB keeps choosing as a deadlock victim.
pub const DEADLOCK_ATTEMPTS_MAX: u32 = 5;

/// Whether MySQL rolled the statement's transaction back to break a deadlock (1213) or gave up
/// waiting for a lock (1205).
fn is_deadlock(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Server(e) if e.code == 1213 || e.code == 1205)
}

/// Whether an attempt that failed with `error` before `COMMIT` was sent (so nothing of it can
/// have been committed) is made again after `tries` attempts: once on a new connection when the
/// connection broke (typically a pooled connection MySQL closed while idle), and up to
/// [`DEADLOCK_ATTEMPTS_MAX`] times when InnoDB rolled it back to break a deadlock.
fn retryable(error: &mysql_async::Error, tries: u32) -> bool {
    (error.is_fatal() && tries < MAX_ATTEMPTS)
        || (is_deadlock(error) && tries < DEADLOCK_ATTEMPTS_MAX)
}

/// Maps a driver error to a [`StoreError`]; `op` names the operation for the message.
fn store_error(op: &str, error: &mysql_async::Error) -> StoreError {
    match error {
        mysql_async::Error::Server(server) => match server.code {
            code::DUP_ENTRY => StoreError::Conflict(format!("{op}: {}", server.message)),
            code::NO_REFERENCED_ROW | code::NO_REFERENCED_ROW_2 => StoreError::NotFound(format!(
                "{op}: a referenced row does not exist: {}",
                server.message
            )),
            code::ROW_IS_REFERENCED
            | code::ROW_IS_REFERENCED_2
            | code::BAD_NULL
            | code::OUT_OF_RANGE
            | code::WRONG_VALUE
            | code::DATA_TOO_LONG
            | code::CHECK_MYSQL
            | code::CHECK_MARIADB => StoreError::Conflict(format!(
                "{op}: rejected by the database: {}",
                server.message
            )),
            _ => StoreError::Unavailable(format!("{op}: {error}")),
        },
        mysql_async::Error::Driver(DriverError::FromValue { .. })
        | mysql_async::Error::Driver(DriverError::FromRow { .. }) => {
            StoreError::Corrupt(format!("{op}: {error}"))
        }
        _ => StoreError::Unavailable(format!("{op}: {error}")),
    }
}

/// Typed access to the columns of one result row; a missing or unreadable value is
/// [`StoreError::Corrupt`], never a panic.
struct Cols {
    row: Row,
    table: &'static str,
}

impl Cols {
    fn new(row: Row, table: &'static str) -> Self {
        Cols { row, table }
    }

    fn take<T: FromValue>(&mut self, index: usize) -> Result<T, StoreError> {
        match self.row.take_opt::<T, usize>(index) {
            Some(Ok(value)) => Ok(value),
            Some(Err(error)) => Err(StoreError::Corrupt(format!(
                "{}: column {index}: {error}",
                self.table
            ))),
            None => Err(StoreError::Corrupt(format!(
                "{}: column {index} missing",
                self.table
            ))),
        }
    }

    fn category(&mut self, index: usize) -> Result<Category, StoreError> {
        let text: String = self.take(index)?;
        Category::parse(&text).ok_or_else(|| {
            StoreError::Corrupt(format!("{}: unknown category {text:?}", self.table))
        })
    }

    fn role(&mut self, index: usize) -> Result<Role, StoreError> {
        let text: String = self.take(index)?;
        Role::parse(&text)
            .ok_or_else(|| StoreError::Corrupt(format!("{}: unknown role {text:?}", self.table)))
    }

    fn method(&mut self, index: usize) -> Result<PaymentMethod, StoreError> {
        let text: String = self.take(index)?;
        PaymentMethod::parse(&text).ok_or_else(|| {
            StoreError::Corrupt(format!("{}: unknown payment method {text:?}", self.table))
        })
    }

    fn status(&mut self, index: usize) -> Result<BookingStatus, StoreError> {
        let text: String = self.take(index)?;
        parse_status(&text)
            .ok_or_else(|| StoreError::Corrupt(format!("{}: unknown status {text:?}", self.table)))
    }
}

/// The stored name of a booking status (the protocol type has no `name()`).
pub fn status_name(status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::Confirmed => "confirmed",
        BookingStatus::Cancelled => "cancelled",
        BookingStatus::Refunded => "refunded",
        BookingStatus::Admitted => "admitted",
    }
}

/// Parses [`status_name`].
pub fn parse_status(text: &str) -> Option<BookingStatus> {
    [
        BookingStatus::Confirmed,
        BookingStatus::Cancelled,
        BookingStatus::Refunded,
        BookingStatus::Admitted,
    ]
    .into_iter()
    .find(|s| status_name(*s).eq_ignore_ascii_case(text))
}

/// Inserts `values` (row-major, `cols` per row) in statements of at most
/// [`MAX_ROWS_PER_INSERT`] rows.
///
/// The statements go over the text protocol with the values escaped by the driver
/// (`Value::as_sql`, for the session's default backslash escaping): a batch's statement differs
/// with every batch size, so preparing it would cost a second round trip each time and thrash
/// the statement cache.
async fn insert_rows<Q: Queryable>(
    conn: &mut Q,
    head: &str,
    cols: usize,
    values: Vec<Value>,
) -> Result<(), mysql_async::Error> {
    debug_assert!(cols > 0 && values.len() % cols == 0, "{head}: ragged rows");
    for statement in values.chunks(cols * MAX_ROWS_PER_INSERT) {
        conn.query_drop(literal_insert_sql(head, cols, statement))
            .await?;
    }
    Ok(())
}

/// `INSERT ... VALUES (..), (..)` with every value written as an escaped SQL literal.
fn literal_insert_sql(head: &str, cols: usize, values: &[Value]) -> String {
    let mut sql = String::with_capacity(head.len() + values.len() * 16);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for (row, chunk) in values.chunks(cols).enumerate() {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for (i, value) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&value.as_sql(false));
        }
        sql.push(')');
    }
    sql
}

/// The booking's seats' position in `Booking::seats`, as stored.
fn position(index: usize) -> Result<u32, StoreError> {
    u32::try_from(index).map_err(|_| StoreError::Conflict("too many seats on a booking".into()))
}

impl MysqlStore {
    /// Opens a pool on `url` (`mysql://user:password@host:port/database`) and checks that the
    /// server answers. Fails with [`StoreError::Unavailable`] when the URL is invalid, the
    /// limits are inconsistent, or the server cannot be reached within
    /// [`MysqlLimits::operation_timeout`].
    pub async fn connect(url: &str, limits: MysqlLimits) -> Result<Self, StoreError> {
        let opts = Opts::from_url(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid MySQL URL: {e}")))?;
        let constraints =
            PoolConstraints::new(limits.pool_min_connections, limits.pool_max_connections)
                .ok_or_else(|| {
                    StoreError::Unavailable(format!(
                        "invalid pool limits: min {} max {} (need 0 < max, min <= max)",
                        limits.pool_min_connections, limits.pool_max_connections
                    ))
                })?;
        let opts = OptsBuilder::from_opts(opts)
            // No `COM_RESET_CONNECTION` + setup query when a connection goes back to the pool:
            // two round trips per store call, and the reset threw away the connection's
            // prepared statements, so every call prepared its statements again. The store
            // keeps no session state (open transactions are rolled back by the pool; the one
            // named lock is taken on a connection that is reset, see `try_migrate`).
            .pool_opts(
                PoolOpts::new()
                    .with_constraints(constraints)
                    .with_reset_connection(false),
            )
            .stmt_cache_size(limits.statement_cache_size)
            .tcp_nodelay(true)
            .setup(vec![SESSION_SETUP]);
        let store = MysqlStore {
            pool: Pool::new(opts),
            limits,
            fence_epoch: Arc::new(AtomicU64::new(0)),
        };
        store.ping().await?;
        Ok(store)
    }

    /// The limits this store was opened with.
    pub fn limits(&self) -> MysqlLimits {
        self.limits
    }

    /// Closes every pooled connection (graceful shutdown).
    pub async fn disconnect(self) -> Result<(), StoreError> {
        self.pool
            .disconnect()
            .await
            .map_err(|e| store_error("disconnect", &e))
    }

    /// Runs `attempt` within the operation timeout, once more if its connection broke before
    /// anything could have been committed.
    async fn run<T, F, Fut>(
        &self,
        op: &'static str,
        timeout: Duration,
        mut attempt: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Attempt<T>> + Send,
        T: Send,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            let result = match tokio::time::timeout(timeout, attempt()).await {
                Ok(result) => result,
                Err(_) => {
                    return Err(StoreError::Unavailable(format!(
                        "{op}: no answer from MySQL within {} ms",
                        timeout.as_millis()
                    )))
                }
            };
            match result {
                Ok(value) => return Ok(value),
                Err(Fail::BeforeCommit(error)) if retryable(&error, tries) => {
                    tracing::warn!(op, %error, "failed before COMMIT; retrying");
                    tokio::time::sleep(Duration::from_millis(2 * u64::from(tries))).await;
                }
                Err(Fail::BeforeCommit(error)) => return Err(store_error(op, &error)),
                Err(Fail::AtCommit(error)) => {
                    tracing::warn!(op, %error, "COMMIT failed; the outcome is unknown");
                    return Err(store_error(op, &error));
                }
                Err(Fail::Store(error)) => return Err(error),
            }
        }
    }

    async fn conn(&self) -> Result<Conn, mysql_async::Error> {
        self.pool.get_conn().await
    }

    async fn begin(&self) -> Result<Transaction<'static>, mysql_async::Error> {
        self.pool.start_transaction(TxOpts::default()).await
    }

    async fn begin_read(&self) -> Result<Transaction<'static>, mysql_async::Error> {
        let mut opts = TxOpts::default();
        opts.with_consistent_snapshot(true)
            .with_readonly(Some(true));
        self.pool.start_transaction(opts).await
    }

    /// With a fence set, checks inside `tx` that the stored epoch is still ours. The shared lock
    /// makes a concurrent epoch claim wait for this transaction (or this one wait for the claim),
    /// so a deposed leader cannot commit after the new one has rebuilt its seats.
    async fn check_fence(&self, tx: &mut Transaction<'static>) -> Attempt<()> {
        let fence = self.fence_epoch.load(Ordering::Acquire);
        if fence == 0 {
            return Ok(());
        }
        let stored: Option<u64> = tx
            .exec_first(
                "SELECT epoch FROM cluster_epoch WHERE id = 1 LOCK IN SHARE MODE",
                (),
            )
            .await?;
        if stored != Some(fence) {
            return Err(Fail::Store(StoreError::Fenced(format!(
                "this node leads epoch {fence}, the cluster is at {}",
                stored.map_or_else(|| "none".to_owned(), |e| e.to_string())
            ))));
        }
        Ok(())
    }

    async fn commit(tx: Transaction<'static>) -> Attempt<()> {
        tx.commit().await.map_err(Fail::AtCommit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_on_semicolons_and_skip_comment_lines() {
        let sql = "-- a comment; with a semicolon\nCREATE TABLE a (x INT);\n\n-- x\nINSERT INTO a VALUES (1);\n";
        assert_eq!(
            split_statements(sql),
            vec!["CREATE TABLE a (x INT)", "INSERT INTO a VALUES (1)"]
        );
    }

    #[test]
    fn the_embedded_migrations_are_numbered_in_order() {
        let versions: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(versions, sorted);
        assert!(split_statements(MIGRATIONS[0].sql).len() >= 15);
    }

    #[test]
    fn literal_inserts_escape_every_string() {
        let values = vec![
            Value::from("it's"),
            Value::from(7u64),
            Value::from("back\\slash\"; DROP TABLE bookings; --"),
            Value::NULL,
        ];
        let sql = literal_insert_sql("INSERT INTO t (a, b)", 2, &values);
        assert_eq!(
            sql,
            "INSERT INTO t (a, b) VALUES ('it\\'s', 7), ('back\\\\slash\\\"; DROP TABLE bookings; --', NULL)"
        );
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            BookingStatus::Confirmed,
            BookingStatus::Cancelled,
            BookingStatus::Refunded,
            BookingStatus::Admitted,
        ] {
            assert_eq!(parse_status(status_name(status)), Some(status));
        }
        assert_eq!(parse_status("sold"), None);
    }

    #[test]
    fn audit_detail_is_cut_at_the_column_width() {
        let long = "é".repeat(AUDIT_DETAIL_MAX_CHARS + 10);
        assert_eq!(audit_detail(long).chars().count(), AUDIT_DETAIL_MAX_CHARS);
        assert_eq!(audit_detail("short".into()), "short");
    }
}
