//! MySQL store: production durability through mysql_async (MySQL 8 or MariaDB 10.6+).
//!
//! - Migrations are the numbered files of `sql/mysql/`, embedded in the binary
//!   ([`MIGRATIONS`]) and applied by [`Store::migrate`] in order, each at most once, recorded
//!   in `schema_migrations`. A named lock (`GET_LOCK`) serialises nodes that start together.
//! - Every method is one transaction. [`Store::commit_sales`] is group commit: one transaction
//!   for the whole batch with multi-row INSERTs of at most [`MAX_ROWS_PER_INSERT`] rows each. A
//!   row the database rejects (a seat already sold: duplicate key, error 1062) does not poison
//!   the batch: the batch is rolled back and every sale is retried in a transaction of its own,
//!   so only the offenders are reported as [`SaleOutcome::Conflict`].
//! - Connection and I/O failures map to [`StoreError::Unavailable`]. The pool drops broken
//!   connections and opens new ones, so the store recovers by itself when MySQL is back; an
//!   operation whose connection broke before it sent `COMMIT` is retried once on a fresh
//!   connection ([`MAX_ATTEMPTS`]). Every operation is bounded by
//!   [`MysqlLimits::operation_timeout`].

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
    BlockRecord, CancelRecord, CatalogChanges, CatalogData, EpochClaim, EpochState, ExternalId,
    ExternalKind, SaleOutcome, SaleRecord, Store, StoreError, StoredBooking, TerminalRecord,
};
use cinebook_protocol::types::{SeatId, ShowId};

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
        sql: include_str!("../../../sql/mysql/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "external_ids",
        sql: include_str!("../../../sql/mysql/0002_external_ids.sql"),
    },
    Migration {
        version: 3,
        name: "hold_ids_and_blocked_seats",
        sql: include_str!("../../../sql/mysql/0003_hold_ids_and_blocked_seats.sql"),
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
    /// past it the operation fails with [`StoreError::Unavailable`].
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

/// Splits a migration file into statements: `--` comment lines dropped, `;` separates.
pub fn split_statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
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

async fn write_city<Q: Queryable>(q: &mut Q, city: &City) -> Result<(), mysql_async::Error> {
    q.exec_drop(
        "INSERT INTO cities (id, name) VALUES (?, ?) \
         ON DUPLICATE KEY UPDATE name = VALUES(name)",
        (city.id, city.name.as_str()),
    )
    .await
}

async fn write_theater<Q: Queryable>(
    q: &mut Q,
    theater: &Theater,
) -> Result<(), mysql_async::Error> {
    q.exec_drop(
        "INSERT INTO theaters (id, city_id, name) VALUES (?, ?, ?) \
         ON DUPLICATE KEY UPDATE city_id = VALUES(city_id), name = VALUES(name)",
        (theater.id, theater.city_id, theater.name.as_str()),
    )
    .await
}

/// Upserts a screen and replaces its seats; run it inside a transaction.
async fn write_screen<Q: Queryable>(q: &mut Q, screen: &Screen) -> Result<(), mysql_async::Error> {
    q.exec_drop(
        "INSERT INTO screens (id, theater_id, name) VALUES (?, ?, ?) \
         ON DUPLICATE KEY UPDATE theater_id = VALUES(theater_id), name = VALUES(name)",
        (screen.id, screen.theater_id, screen.name.as_str()),
    )
    .await?;
    q.exec_drop("DELETE FROM seats WHERE screen_id = ?", (screen.id,))
        .await?;
    let mut values: Vec<Value> = Vec::with_capacity(screen.seats.len() * 7);
    for seat in &screen.seats {
        values.extend([
            Value::from(screen.id),
            Value::from(seat.id),
            Value::from(seat.row.as_str()),
            Value::from(seat.label.as_str()),
            Value::from(seat.category.name()),
            Value::from(seat.x),
            Value::from(seat.y),
        ]);
    }
    insert_rows(
        q,
        "INSERT INTO seats (screen_id, seat_id, row_name, label, category, x, y)",
        7,
        values,
    )
    .await
}

async fn write_movie<Q: Queryable>(q: &mut Q, movie: &Movie) -> Result<(), mysql_async::Error> {
    q.exec_drop(
        "INSERT INTO movies (id, title, runtime_min, rating) VALUES (?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE title = VALUES(title), runtime_min = VALUES(runtime_min), \
         rating = VALUES(rating)",
        (
            movie.id,
            movie.title.as_str(),
            movie.runtime_min,
            movie.rating.as_str(),
        ),
    )
    .await
}

/// Upserts a show and replaces its prices; run it inside a transaction.
async fn write_show<Q: Queryable>(q: &mut Q, show: &Show) -> Result<(), mysql_async::Error> {
    q.exec_drop(
        "INSERT INTO shows (id, movie_id, screen_id, starts_at_ms, currency) \
         VALUES (?, ?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE movie_id = VALUES(movie_id), screen_id = VALUES(screen_id), \
         starts_at_ms = VALUES(starts_at_ms), currency = VALUES(currency)",
        (
            show.id,
            show.movie_id,
            show.screen_id,
            show.starts_at_ms,
            show.currency.as_str(),
        ),
    )
    .await?;
    q.exec_drop("DELETE FROM show_prices WHERE show_id = ?", (show.id,))
        .await?;
    let mut values: Vec<Value> = Vec::with_capacity(show.prices.len() * 3);
    for price in &show.prices {
        values.extend([
            Value::from(show.id),
            Value::from(price.category.name()),
            Value::from(price.amount_minor),
        ]);
    }
    insert_rows(
        q,
        "INSERT INTO show_prices (show_id, category, amount_minor)",
        3,
        values,
    )
    .await
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
            .pool_opts(PoolOpts::new().with_constraints(constraints))
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

    async fn try_migrate(&self) -> Attempt<()> {
        let mut conn = self.conn().await?;
        conn.query_drop(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
               version INT UNSIGNED NOT NULL, \
               name VARCHAR(200) NOT NULL, \
               applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), \
               PRIMARY KEY (version)\
             ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4",
        )
        .await?;
        let locked: Option<Option<i64>> = conn
            .exec_first(
                "SELECT GET_LOCK(?, ?)",
                (MIGRATION_LOCK_NAME, MIGRATION_LOCK_WAIT_SECS),
            )
            .await?;
        if locked.flatten() != Some(1) {
            return Err(StoreError::Unavailable(format!(
                "migrate: another node held the migration lock for {MIGRATION_LOCK_WAIT_SECS} s"
            ))
            .into());
        }
        let result = Self::apply_migrations(&mut conn).await;
        let released: Result<Option<Option<i64>>, _> = conn
            .exec_first("SELECT RELEASE_LOCK(?)", (MIGRATION_LOCK_NAME,))
            .await;
        if let Err(error) = released {
            tracing::warn!(%error, "could not release the migration lock");
        }
        result
    }

    async fn apply_migrations(conn: &mut Conn) -> Attempt<()> {
        let rows: Vec<Row> = conn
            .query("SELECT version FROM schema_migrations ORDER BY version")
            .await?;
        let mut applied = Vec::with_capacity(rows.len());
        for row in rows {
            let version: u32 = Cols::new(row, "schema_migrations").take(0)?;
            applied.push(version);
        }
        let known_max = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
        if let Some(newest) = applied.iter().copied().max().filter(|v| *v > known_max) {
            tracing::warn!(
                newest,
                known_max,
                "the database has migrations this server does not know (a newer server ran)"
            );
        }
        for migration in MIGRATIONS {
            if applied.contains(&migration.version) {
                continue;
            }
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "applying migration"
            );
            for statement in split_statements(migration.sql) {
                match conn.query_drop(statement).await {
                    Err(error) if already_applied(&error) => {
                        tracing::info!(%error, "migration statement was applied before");
                    }
                    other => other?,
                }
            }
            conn.exec_drop(
                "INSERT IGNORE INTO schema_migrations (version, name) VALUES (?, ?)",
                (migration.version, migration.name),
            )
            .await?;
        }
        Ok(())
    }

    async fn try_load_catalog(&self) -> Attempt<CatalogData> {
        let mut tx = self.begin_read().await?;
        let mut catalog = CatalogData::default();

        let rows: Vec<Row> = tx.query("SELECT id, name FROM cities ORDER BY id").await?;
        for row in rows {
            let mut c = Cols::new(row, "cities");
            catalog.cities.push(City {
                id: c.take(0)?,
                name: c.take(1)?,
            });
        }

        let rows: Vec<Row> = tx
            .query("SELECT id, city_id, name FROM theaters ORDER BY id")
            .await?;
        for row in rows {
            let mut c = Cols::new(row, "theaters");
            catalog.theaters.push(Theater {
                id: c.take(0)?,
                city_id: c.take(1)?,
                name: c.take(2)?,
            });
        }

        let rows: Vec<Row> = tx
            .query(
                "SELECT screen_id, seat_id, row_name, label, category, x, y FROM seats \
                 ORDER BY screen_id, seat_id",
            )
            .await?;
        let mut seats: HashMap<u64, Vec<Seat>> = HashMap::new();
        for row in rows {
            let mut c = Cols::new(row, "seats");
            let screen_id: u64 = c.take(0)?;
            seats.entry(screen_id).or_default().push(Seat {
                id: c.take(1)?,
                row: c.take(2)?,
                label: c.take(3)?,
                category: c.category(4)?,
                x: c.take(5)?,
                y: c.take(6)?,
            });
        }
        let rows: Vec<Row> = tx
            .query("SELECT id, theater_id, name FROM screens ORDER BY id")
            .await?;
        for row in rows {
            let mut c = Cols::new(row, "screens");
            let id: u64 = c.take(0)?;
            catalog.screens.push(Screen {
                id,
                theater_id: c.take(1)?,
                name: c.take(2)?,
                seats: seats.remove(&id).unwrap_or_default(),
            });
        }

        let rows: Vec<Row> = tx
            .query("SELECT id, title, runtime_min, rating FROM movies ORDER BY id")
            .await?;
        for row in rows {
            let mut c = Cols::new(row, "movies");
            catalog.movies.push(Movie {
                id: c.take(0)?,
                title: c.take(1)?,
                runtime_min: c.take(2)?,
                rating: c.take(3)?,
            });
        }

        let rows: Vec<Row> = tx
            .query("SELECT show_id, category, amount_minor FROM show_prices")
            .await?;
        let mut prices: HashMap<u64, Vec<Price>> = HashMap::new();
        for row in rows {
            let mut c = Cols::new(row, "show_prices");
            let show_id: u64 = c.take(0)?;
            prices.entry(show_id).or_default().push(Price {
                category: c.category(1)?,
                amount_minor: c.take(2)?,
            });
        }
        let rows: Vec<Row> = tx
            .query("SELECT id, movie_id, screen_id, starts_at_ms, currency FROM shows ORDER BY id")
            .await?;
        for row in rows {
            let mut c = Cols::new(row, "shows");
            let id: u64 = c.take(0)?;
            let mut show_prices = prices.remove(&id).unwrap_or_default();
            show_prices.sort_by_key(|p| p.category);
            catalog.shows.push(Show {
                id,
                movie_id: c.take(1)?,
                screen_id: c.take(2)?,
                starts_at_ms: c.take(3)?,
                currency: c.take(4)?,
                prices: show_prices,
            });
        }
        tx.commit().await?;
        Ok(catalog)
    }

    async fn try_upsert_city(&self, city: &City) -> Attempt<()> {
        let mut conn = self.conn().await?;
        write_city(&mut conn, city).await?;
        Ok(())
    }

    async fn try_upsert_theater(&self, theater: &Theater) -> Attempt<()> {
        let mut conn = self.conn().await?;
        write_theater(&mut conn, theater).await?;
        Ok(())
    }

    async fn try_upsert_screen(&self, screen: &Screen) -> Attempt<()> {
        let mut tx = self.begin().await?;
        write_screen(&mut tx, screen).await?;
        Self::commit(tx).await
    }

    async fn try_upsert_movie(&self, movie: &Movie) -> Attempt<()> {
        let mut conn = self.conn().await?;
        write_movie(&mut conn, movie).await?;
        Ok(())
    }

    async fn try_upsert_show(&self, show: &Show) -> Attempt<()> {
        let mut tx = self.begin().await?;
        write_show(&mut tx, show).await?;
        Self::commit(tx).await
    }

    async fn try_load_external_ids(&self) -> Attempt<Vec<ExternalId>> {
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = conn
            .query(
                "SELECT source, kind, external_id, internal_id FROM external_ids \
                 ORDER BY source, kind, external_id",
            )
            .await?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            let mut c = Cols::new(row, "external_ids");
            let source: String = c.take(0)?;
            let kind: String = c.take(1)?;
            let kind = ExternalKind::parse(&kind).ok_or_else(|| {
                StoreError::Corrupt(format!("external_ids: unknown kind {kind:?}"))
            })?;
            ids.push(ExternalId {
                source,
                kind,
                external_id: c.take(2)?,
                internal_id: c.take(3)?,
            });
        }
        ids.sort();
        Ok(ids)
    }

    async fn try_apply_catalog(&self, changes: &CatalogChanges) -> Attempt<()> {
        let mut tx = self.begin().await?;
        for city in &changes.cities {
            write_city(&mut tx, city).await?;
        }
        for theater in &changes.theaters {
            write_theater(&mut tx, theater).await?;
        }
        for screen in &changes.screens {
            write_screen(&mut tx, screen).await?;
        }
        for movie in &changes.movies {
            write_movie(&mut tx, movie).await?;
        }
        for show in &changes.shows {
            write_show(&mut tx, show).await?;
        }
        for show_id in &changes.removed_shows {
            let bookings: Option<u64> = tx
                .exec_first(
                    "SELECT COUNT(*) FROM bookings WHERE show_id = ?",
                    (*show_id,),
                )
                .await?;
            if bookings.unwrap_or(0) > 0 {
                tx.rollback().await?;
                return Err(StoreError::Conflict(format!(
                    "show {show_id} has bookings and cannot be removed"
                ))
                .into());
            }
            tx.exec_drop("DELETE FROM shows WHERE id = ?", (*show_id,))
                .await?;
            tx.exec_drop(
                "DELETE FROM external_ids WHERE kind = ? AND internal_id = ?",
                (ExternalKind::Show.name(), *show_id),
            )
            .await?;
        }
        for id in &changes.external_ids {
            // ON DUPLICATE KEY would also swallow a clash on (kind, internal_id): check it.
            let owner: Option<(String, String)> = tx
                .exec_first(
                    "SELECT source, external_id FROM external_ids \
                     WHERE kind = ? AND internal_id = ?",
                    (id.kind.name(), id.internal_id),
                )
                .await?;
            if let Some((source, external_id)) = owner {
                if source != id.source || external_id != id.external_id {
                    tx.rollback().await?;
                    return Err(StoreError::Conflict(format!(
                        "{} {} already has the external id {external_id:?} of source {source:?}",
                        id.kind.name(),
                        id.internal_id
                    ))
                    .into());
                }
            }
            tx.exec_drop(
                "INSERT INTO external_ids (source, kind, external_id, internal_id) \
                 VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE internal_id = VALUES(internal_id)",
                (
                    id.source.as_str(),
                    id.kind.name(),
                    id.external_id.as_str(),
                    id.internal_id,
                ),
            )
            .await?;
        }
        Self::commit(tx).await
    }

    /// Loads bookings, every one or only the one with `code`.
    async fn read_bookings<Q: Queryable>(
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

    async fn try_load_bookings(&self) -> Attempt<Vec<StoredBooking>> {
        let mut tx = self.begin_read().await?;
        let bookings = Self::read_bookings(&mut tx, None).await?;
        tx.commit().await?;
        Ok(bookings)
    }

    /// Writes `sales` in one transaction with multi-row INSERTs; sets `commit_sent` just before
    /// `COMMIT` goes out.
    async fn try_commit_batch(
        &self,
        sales: &[SaleRecord],
        commit_sent: &AtomicBool,
    ) -> Attempt<()> {
        let mut bookings: Vec<Value> = Vec::with_capacity(sales.len() * 11);
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
            ]);
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
                 sold_at_ms, lamport, node_id, idempotency_key, hold_id)",
                11,
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
        let mut tx = self.begin().await?;
        self.check_fence(&mut tx).await?;
        tx.query_drop(statements.join(";\n")).await?;
        // From here on the outcome may be unknown: the INSERTs were acknowledged, so the rows
        // are written and locked by this transaction until it ends (see `try_resolve_sale`).
        commit_sent.store(true, Ordering::SeqCst);
        Self::commit(tx).await
    }

    /// What is stored about `sale`'s code, key and seats (latest committed data).
    async fn try_conflict_facts(&self, sale: &SaleRecord) -> Attempt<ConflictFacts> {
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
    async fn try_resolve_sale(&self, code: &str) -> Attempt<Option<StoredBooking>> {
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

    async fn try_sale_by_key(
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

    async fn try_commit_block(&self, block: &BlockRecord) -> Attempt<()> {
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

    async fn try_load_blocked_seats(&self) -> Attempt<Vec<(ShowId, SeatId)>> {
        let mut conn = self.conn().await?;
        let rows: Vec<(ShowId, SeatId)> = conn
            .query("SELECT show_id, seat_id FROM blocked_seats ORDER BY show_id, seat_id")
            .await?;
        Ok(rows)
    }

    /// One attempt of a sale transaction within the operation timeout, as a [`BatchFailure`]:
    /// a timeout or a failure after `COMMIT` was sent is `Unknown`, before it `NotCommitted`
    /// (or `Refused` for a rule of the database). Retried only when nothing can have been
    /// committed (a broken pooled connection, a deadlock).
    async fn run_sale_batch(&self, sales: &[SaleRecord]) -> Result<(), BatchFailure> {
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

    async fn try_commit_cancel(&self, cancel: &CancelRecord) -> Attempt<()> {
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
        Self::commit(tx).await
    }

    async fn try_add_terminal(
        &self,
        name: &str,
        role: Role,
        token_sha256: &str,
    ) -> Attempt<TerminalId> {
        let mut conn = self.conn().await?;
        conn.exec_drop(
            "INSERT INTO terminals (name, role, token_sha256) VALUES (?, ?, ?)",
            (name, role.name(), token_sha256),
        )
        .await?;
        conn.last_insert_id().ok_or_else(|| {
            StoreError::Corrupt("terminals: no auto-increment id was returned".into()).into()
        })
    }

    fn terminal_from_row(row: Row) -> Result<TerminalRecord, StoreError> {
        let mut c = Cols::new(row, "terminals");
        Ok(TerminalRecord {
            id: c.take(0)?,
            name: c.take(1)?,
            role: c.role(2)?,
            token_sha256: c.take(3)?,
            revoked: c.take::<i64>(4)? != 0,
        })
    }

    async fn try_terminal_by_token(&self, token_sha256: &str) -> Attempt<Option<TerminalRecord>> {
        let mut conn = self.conn().await?;
        let row: Option<Row> = conn
            .exec_first(
                "SELECT id, name, role, token_sha256, revoked FROM terminals \
                 WHERE token_sha256 = ?",
                (token_sha256,),
            )
            .await?;
        Ok(row.map(Self::terminal_from_row).transpose()?)
    }

    async fn try_list_terminals(&self) -> Attempt<Vec<TerminalRecord>> {
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = conn
            .query("SELECT id, name, role, token_sha256, revoked FROM terminals ORDER BY id")
            .await?;
        Ok(rows
            .into_iter()
            .map(Self::terminal_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn try_revoke_terminal(&self, id: TerminalId) -> Attempt<()> {
        let mut conn = self.conn().await?;
        conn.exec_drop("UPDATE terminals SET revoked = TRUE WHERE id = ?", (id,))
            .await?;
        if conn.affected_rows() == 0 {
            let exists: Option<u64> = conn
                .exec_first("SELECT id FROM terminals WHERE id = ?", (id,))
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("terminal {id}")).into());
            }
        }
        Ok(())
    }

    async fn try_shift_report(
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
                    (SELECT COUNT(*) FROM booking_seats_history h WHERE h.code = b.code)\
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
                 FROM refunds r JOIN payments p ON p.code = r.code \
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
                 ) activity ORDER BY at_ms LIMIT 1",
                (terminal_id, from_ms, to_ms, terminal_id, from_ms, to_ms),
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

impl MysqlStore {
    async fn try_current_epoch(&self) -> Attempt<EpochState> {
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

    async fn try_claim_epoch(&self, node_id: u32, seen_epoch: u64) -> Attempt<EpochClaim> {
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

    async fn try_audit_trail(&self, show_id: u64) -> Attempt<Vec<AuditEntry>> {
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

#[async_trait]
impl Store for MysqlStore {
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
