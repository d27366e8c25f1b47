//! SQLite store: the embedded default, one file (`./cinebook-data/cinebook.sqlite3` for the
//! `cinebook-server` binary), through rusqlite with its bundled SQLite.
//!
//! It keeps [`super::mysql::MysqlStore`]'s contract (the shared tests in
//! [`crate::testing::contract`] run against both) and its durability promise:
//!
//! - **A sale is durable before it is acknowledged.** The database runs in WAL mode with
//!   `synchronous=FULL`: every `COMMIT` fsyncs the write-ahead log before it returns. With
//!   `synchronous=NORMAL`, WAL mode only syncs at checkpoints, so a power loss (not a process
//!   crash) can lose the last committed transactions, which would be sales the customer already
//!   has tickets for. [`SqliteStore::open`] reads both settings back and refuses to start when
//!   SQLite did not take them.
//! - **Group commit**: [`Store::commit_sales`] runs the shared
//!   [`group_commit`] algorithm: the whole batch in one `BEGIN IMMEDIATE`
//!   transaction, so a batch costs one fsync however many sales it carries; a row the database
//!   refuses (a seat already sold: `booking_seats` has PRIMARY KEY (show_id, seat_id)) does not
//!   poison the batch, only the offenders are reported as [`SaleOutcome::Conflict`]. A failed
//!   `COMMIT` (an I/O error) is [`SaleOutcome::Unknown`]: the transaction is rolled back when
//!   it is dropped, and [`Store::resolve_sale`], which waits for the one connection, reads the
//!   definite answer.
//! - **Never blocks the runtime**: rusqlite is blocking, so the one connection lives behind a
//!   mutex and every operation runs on tokio's blocking pool (`spawn_blocking`). SQLite allows
//!   one writer at a time anyway; one connection keeps writes in submission order.
//! - Migrations are the numbered files of `sql/sqlite/`, embedded in the binary
//!   ([`MIGRATIONS`]), each applied at most once inside one transaction together with its
//!   `schema_migrations` row (SQLite DDL is transactional).
//! - Column widths are CHECK constraints with the MySQL widths ([`super::mysql::widths`]);
//!   foreign keys are enforced (`PRAGMA foreign_keys = ON`).
//!
//! One node only: the embedded store has no cluster fencing (`cluster_epoch`); a cluster runs on
//! MySQL.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cinebook_protocol::types::{
    BookedSeat, Booking, BookingStatus, Category, City, MethodTotals, Money, Movie, Payment,
    PaymentMethod, Price, Role, Screen, Seat, ShiftReport, Show, TerminalId, Theater,
};
use parking_lot::Mutex;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Transaction};
use rusqlite::{Row, TransactionBehavior};

// The audit text is the same in both SQL stores: one definition, in audit.rs.
use super::audit::{self, audit_detail, sale_detail};
use super::group_commit::{self, BatchFailure, ConflictFacts, SaleBackend};
use super::mysql::{parse_status, status_name, Migration, REPORT_DEFAULT_CURRENCY};
use super::{
    AdmissionRecord, AdmitOutcome, BlockRecord, CancelRecord, CatalogChanges, CatalogData,
    ExternalId, ExternalKind, SaleOutcome, SaleRecord, SeatRefundRecord, Store, StoreError,
    StoredBooking, TerminalRecord,
};
use crate::notify::message::{OutboxMark, OutboxMessage, OutboxStats, PendingMessage};
use cinebook_protocol::cluster::AuditEntry;
use cinebook_protocol::types::{SeatId, ShowId};

mod admissions;
mod outbox;
mod payments;
mod seat_refunds;

/// Every migration of the embedded store, in order (the files of `sql/sqlite/`).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../../sql/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "hold_ids_and_blocked_seats",
        sql: include_str!("../../../sql/sqlite/0002_hold_ids_and_blocked_seats.sql"),
    },
    Migration {
        version: 3,
        name: "payments",
        sql: include_str!("../../../sql/sqlite/0003_payments.sql"),
    },
    Migration {
        version: 4,
        name: "seat_refunds",
        sql: include_str!("../../../sql/sqlite/0004_seat_refunds.sql"),
    },
    Migration {
        version: 5,
        name: "admissions",
        sql: include_str!("../../../sql/sqlite/0005_admissions.sql"),
    },
    Migration {
        version: 6,
        name: "notifications",
        sql: include_str!("../../../sql/sqlite/0006_notifications.sql"),
    },
];

/// The database file name inside a data directory.
pub const DATABASE_FILE: &str = "cinebook.sqlite3";

/// Longest audit `detail` text, in characters (the column's CHECK).
pub const AUDIT_DETAIL_MAX_CHARS: usize = super::mysql::AUDIT_DETAIL_MAX_CHARS;

/// Time limits of a [`SqliteStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteLimits {
    /// How long a statement waits for another process's write lock (`PRAGMA busy_timeout`),
    /// such as a `cinebook-server import` running next to the node.
    pub busy_timeout: Duration,
}

impl Default for SqliteLimits {
    fn default() -> Self {
        SqliteLimits {
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The embedded [`Store`]; see the module documentation.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

/// Maps a rusqlite error to a [`StoreError`]; `op` names the operation for the message.
fn store_error(op: &str, error: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    match &error {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::ConstraintViolation => {
                if failure.extended_code == ffi::SQLITE_CONSTRAINT_FOREIGNKEY {
                    StoreError::NotFound(format!("{op}: a referenced row does not exist: {error}"))
                } else {
                    StoreError::Conflict(format!("{op}: rejected by the database: {error}"))
                }
            }
            ErrorCode::TooBig => StoreError::Conflict(format!("{op}: {error}")),
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                StoreError::Corrupt(format!("{op}: {error}"))
            }
            _ => StoreError::Unavailable(format!("{op}: {error}")),
        },
        rusqlite::Error::ToSqlConversionFailure(_) => {
            StoreError::Conflict(format!("{op}: a value is out of range: {error}"))
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::InvalidColumnIndex(_) => StoreError::Corrupt(format!("{op}: {error}")),
        _ => StoreError::Unavailable(format!("{op}: {error}")),
    }
}

/// A rusqlite result as a store result, naming the operation.
trait Op<T> {
    fn op(self, op: &str) -> Result<T, StoreError>;
}

impl<T> Op<T> for Result<T, rusqlite::Error> {
    fn op(self, op: &str) -> Result<T, StoreError> {
        self.map_err(|e| store_error(op, e))
    }
}

fn parsed<T>(value: Option<T>, table: &str, what: &str, text: &str) -> Result<T, StoreError> {
    value.ok_or_else(|| StoreError::Corrupt(format!("{table}: unknown {what} {text:?}")))
}

fn category(row: &Row<'_>, index: usize, table: &str) -> Result<Category, StoreError> {
    let text: String = row.get(index).op(table)?;
    parsed(Category::parse(&text), table, "category", &text)
}

fn count(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} count {value}")))
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) the database file at `path`, switches it
    /// to WAL with `synchronous=FULL` and enforced foreign keys, and checks that SQLite took
    /// those settings. Does not migrate: call [`Store::migrate`].
    pub async fn open(path: &Path, limits: SqliteLimits) -> Result<Self, StoreError> {
        let path = path.to_path_buf();
        let opened = path.clone();
        let conn = tokio::task::spawn_blocking(move || Self::open_blocking(&opened, limits))
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!("open: the opening task failed: {e}"))
            })??;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// Opens `DATABASE_FILE` inside the directory `dir`.
    pub async fn open_dir(dir: &Path, limits: SqliteLimits) -> Result<Self, StoreError> {
        Self::open(&dir.join(DATABASE_FILE), limits).await
    }

    fn open_blocking(path: &Path, limits: SqliteLimits) -> Result<Connection, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The directory 0700, its files 0600 (store/private.rs).
            super::private::prepare(parent, path).map_err(|e| {
                StoreError::Unavailable(format!("cannot prepare {}: {e}", parent.display()))
            })?;
        }
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(limits.busy_timeout).op("open")?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .op("open: journal_mode")?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "{}: SQLite refused WAL mode (journal_mode is {mode})",
                path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .op("open: pragmas")?;
        let (journal, synchronous, foreign_keys) = Self::settings(&conn)?;
        if !journal.eq_ignore_ascii_case("wal") || synchronous != 2 || foreign_keys != 1 {
            return Err(StoreError::Unavailable(format!(
                "{}: SQLite did not take the durability settings (journal_mode {journal}, \
                 synchronous {synchronous}, foreign_keys {foreign_keys})",
                path.display()
            )));
        }
        Ok(conn)
    }

    fn settings(conn: &Connection) -> Result<(String, i64, i64), StoreError> {
        let journal: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .op("journal_mode")?;
        let synchronous: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .op("synchronous")?;
        let foreign_keys: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .op("foreign_keys")?;
        Ok((journal, synchronous, foreign_keys))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The durability settings in force: (`journal_mode`, `synchronous` where 2 is FULL,
    /// `foreign_keys`).
    pub async fn durability_settings(&self) -> Result<(String, i64, i64), StoreError> {
        self.call("settings", |conn| Self::settings(conn)).await
    }

    /// The versions recorded in `schema_migrations`, in order.
    pub async fn applied_migrations(&self) -> Result<Vec<(u32, String)>, StoreError> {
        self.call("applied_migrations", |conn| {
            let mut stmt = conn
                .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
                .op("applied_migrations")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .op("applied_migrations")?;
            rows.collect::<Result<Vec<_>, _>>().op("applied_migrations")
        })
        .await
    }

    /// Runs `work` on the connection on tokio's blocking pool.
    async fn call<T, F>(&self, op: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock();
            work(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("{op}: the database task failed: {e}")))?
    }

    fn write_tx<'c>(conn: &'c mut Connection, op: &str) -> Result<Transaction<'c>, StoreError> {
        conn.transaction_with_behavior(TransactionBehavior::Immediate)
            .op(op)
    }

    fn migrate_blocking(conn: &mut Connection) -> Result<(), StoreError> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
               version INTEGER NOT NULL PRIMARY KEY, \
               name TEXT NOT NULL, \
               applied_at_ms INTEGER NOT NULL)",
        )
        .op("migrate")?;
        for migration in MIGRATIONS {
            let tx = Self::write_tx(conn, "migrate")?;
            let applied: Option<u32> = tx
                .query_row(
                    "SELECT version FROM schema_migrations WHERE version = ?1",
                    params![migration.version],
                    |r| r.get(0),
                )
                .optional()
                .op("migrate")?;
            if applied.is_some() {
                continue;
            }
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "applying SQLite migration"
            );
            tx.execute_batch(migration.sql).op("migrate")?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?1, ?2, ?3)",
                params![migration.version, migration.name, crate::node::now_ms()],
            )
            .op("migrate")?;
            tx.commit().op("migrate")?;
        }
        let newest: Option<u32> = conn
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .op("migrate")?;
        let known = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
        if let Some(newest) = newest.filter(|v| *v > known) {
            tracing::warn!(
                newest,
                known,
                "the database has migrations this server does not know (a newer server ran)"
            );
        }
        Ok(())
    }

    fn load_catalog_blocking(conn: &mut Connection) -> Result<CatalogData, StoreError> {
        let op = "load_catalog";
        let tx = conn.transaction().op(op)?;
        let mut catalog = CatalogData::default();
        {
            let mut stmt = tx
                .prepare("SELECT id, name FROM cities ORDER BY id")
                .op(op)?;
            let mut rows = stmt.query([]).op(op)?;
            while let Some(r) = rows.next().op(op)? {
                catalog.cities.push(City {
                    id: r.get(0).op("cities")?,
                    name: r.get(1).op("cities")?,
                });
            }
            let mut stmt = tx
                .prepare("SELECT id, city_id, name FROM theaters ORDER BY id")
                .op(op)?;
            let mut rows = stmt.query([]).op(op)?;
            while let Some(r) = rows.next().op(op)? {
                catalog.theaters.push(Theater {
                    id: r.get(0).op("theaters")?,
                    city_id: r.get(1).op("theaters")?,
                    name: r.get(2).op("theaters")?,
                });
            }
            let mut seats: HashMap<u64, Vec<Seat>> = HashMap::new();
            let mut stmt = tx
                .prepare(
                    "SELECT screen_id, seat_id, row_name, label, category, x, y FROM seats \
                     ORDER BY screen_id, seat_id",
                )
                .op(op)?;
            let mut rows = stmt.query([]).op(op)?;
            while let Some(r) = rows.next().op(op)? {
                let screen_id: u64 = r.get(0).op("seats")?;
                seats.entry(screen_id).or_default().push(Seat {
                    id: r.get(1).op("seats")?,
                    row: r.get(2).op("seats")?,
                    label: r.get(3).op("seats")?,
                    category: category(r, 4, "seats")?,
                    x: r.get(5).op("seats")?,
                    y: r.get(6).op("seats")?,
                });
            }
            let mut stmt = tx
                .prepare("SELECT id, theater_id, name FROM screens ORDER BY id")
                .op(op)?;
            let mut rows = stmt.query([]).op(op)?;
            while let Some(r) = rows.next().op(op)? {
                let id: u64 = r.get(0).op("screens")?;
                catalog.screens.push(Screen {
                    id,
                    theater_id: r.get(1).op("screens")?,
                    name: r.get(2).op("screens")?,
                    seats: seats.remove(&id).unwrap_or_default(),
                });
            }
            let mut stmt = tx
                .prepare("SELECT id, title, runtime_min, rating FROM movies ORDER BY id")
                .op(op)?;
            let mut rows = stmt.query([]).op(op)?;
            while let Some(r) = rows.next().op(op)? {
                catalog.movies.push(Movie {
                    id: r.get(0).op("movies")?,
                    title: r.get(1).op("movies")?,
                    runtime_min: r.get(2).op("movies")?,
                    rating: r.get(3).op("movies")?,
                });
            }
            let mut prices: HashMap<u64, Vec<Price>> = HashMap::new();
            let mut stmt = tx
                .prepare("SELECT show_id, category, amount_minor FROM show_prices")
                .op(op)?;
            let mut rows = stmt.query([]).op(op)?;
            while let Some(r) = rows.next().op(op)? {
                let show_id: u64 = r.get(0).op("show_prices")?;
                prices.entry(show_id).or_default().push(Price {
                    category: category(r, 1, "show_prices")?,
                    amount_minor: r.get(2).op("show_prices")?,
                });
            }
            let mut stmt = tx
                .prepare(
                    "SELECT id, movie_id, screen_id, starts_at_ms, currency FROM shows \
                     ORDER BY id",
                )
                .op(op)?;
            let mut rows = stmt.query([]).op(op)?;
            while let Some(r) = rows.next().op(op)? {
                let id: u64 = r.get(0).op("shows")?;
                let mut show_prices = prices.remove(&id).unwrap_or_default();
                show_prices.sort_by_key(|p| p.category);
                catalog.shows.push(Show {
                    id,
                    movie_id: r.get(1).op("shows")?,
                    screen_id: r.get(2).op("shows")?,
                    starts_at_ms: r.get(3).op("shows")?,
                    currency: r.get(4).op("shows")?,
                    prices: show_prices,
                });
            }
        }
        tx.commit().op(op)?;
        Ok(catalog)
    }

    fn write_city(tx: &Transaction<'_>, city: &City) -> Result<(), StoreError> {
        tx.prepare_cached(
            "INSERT INTO cities (id, name) VALUES (?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        )
        .and_then(|mut s| s.execute(params![city.id, city.name]))
        .op("upsert_city")?;
        Ok(())
    }

    fn write_theater(tx: &Transaction<'_>, theater: &Theater) -> Result<(), StoreError> {
        tx.prepare_cached(
            "INSERT INTO theaters (id, city_id, name) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET city_id = excluded.city_id, name = excluded.name",
        )
        .and_then(|mut s| s.execute(params![theater.id, theater.city_id, theater.name]))
        .op("upsert_theater")?;
        Ok(())
    }

    fn write_screen(tx: &Transaction<'_>, screen: &Screen) -> Result<(), StoreError> {
        let op = "upsert_screen";
        tx.prepare_cached(
            "INSERT INTO screens (id, theater_id, name) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET theater_id = excluded.theater_id, \
             name = excluded.name",
        )
        .and_then(|mut s| s.execute(params![screen.id, screen.theater_id, screen.name]))
        .op(op)?;
        tx.execute("DELETE FROM seats WHERE screen_id = ?1", params![screen.id])
            .op(op)?;
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO seats (screen_id, seat_id, row_name, label, category, x, y) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .op(op)?;
        for seat in &screen.seats {
            insert
                .execute(params![
                    screen.id,
                    seat.id,
                    seat.row,
                    seat.label,
                    seat.category.name(),
                    seat.x,
                    seat.y
                ])
                .op(op)?;
        }
        Ok(())
    }

    fn write_movie(tx: &Transaction<'_>, movie: &Movie) -> Result<(), StoreError> {
        tx.prepare_cached(
            "INSERT INTO movies (id, title, runtime_min, rating) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
             runtime_min = excluded.runtime_min, rating = excluded.rating",
        )
        .and_then(|mut s| {
            s.execute(params![
                movie.id,
                movie.title,
                movie.runtime_min,
                movie.rating
            ])
        })
        .op("upsert_movie")?;
        Ok(())
    }

    fn write_show(tx: &Transaction<'_>, show: &Show) -> Result<(), StoreError> {
        let op = "upsert_show";
        tx.prepare_cached(
            "INSERT INTO shows (id, movie_id, screen_id, starts_at_ms, currency) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (id) DO UPDATE SET movie_id = excluded.movie_id, \
             screen_id = excluded.screen_id, starts_at_ms = excluded.starts_at_ms, \
             currency = excluded.currency",
        )
        .and_then(|mut s| {
            s.execute(params![
                show.id,
                show.movie_id,
                show.screen_id,
                show.starts_at_ms,
                show.currency
            ])
        })
        .op(op)?;
        tx.execute(
            "DELETE FROM show_prices WHERE show_id = ?1",
            params![show.id],
        )
        .op(op)?;
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO show_prices (show_id, category, amount_minor) VALUES (?1, ?2, ?3)",
            )
            .op(op)?;
        for price in &show.prices {
            insert
                .execute(params![show.id, price.category.name(), price.amount_minor])
                .op(op)?;
        }
        Ok(())
    }

    /// Runs one catalog write in its own transaction.
    async fn catalog_write<V, F>(
        &self,
        op: &'static str,
        value: V,
        write: F,
    ) -> Result<(), StoreError>
    where
        V: Send + 'static,
        F: FnOnce(&Transaction<'_>, &V) -> Result<(), StoreError> + Send + 'static,
    {
        self.call(op, move |conn| {
            let tx = Self::write_tx(conn, op)?;
            write(&tx, &value)?;
            tx.commit().op(op)
        })
        .await
    }

    fn apply_catalog_blocking(
        conn: &mut Connection,
        changes: &CatalogChanges,
    ) -> Result<(), StoreError> {
        let op = "apply_catalog";
        let tx = Self::write_tx(conn, op)?;
        for city in &changes.cities {
            Self::write_city(&tx, city)?;
        }
        for theater in &changes.theaters {
            Self::write_theater(&tx, theater)?;
        }
        for screen in &changes.screens {
            Self::write_screen(&tx, screen)?;
        }
        for movie in &changes.movies {
            Self::write_movie(&tx, movie)?;
        }
        for show in &changes.shows {
            Self::write_show(&tx, show)?;
        }
        for show_id in &changes.removed_shows {
            let bookings: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM bookings WHERE show_id = ?1",
                    params![show_id],
                    |r| r.get(0),
                )
                .op(op)?;
            if bookings > 0 {
                return Err(StoreError::Conflict(format!(
                    "show {show_id} has bookings and cannot be removed"
                )));
            }
            tx.execute("DELETE FROM shows WHERE id = ?1", params![show_id])
                .op(op)?;
            tx.execute(
                "DELETE FROM external_ids WHERE kind = ?1 AND internal_id = ?2",
                params![ExternalKind::Show.name(), show_id],
            )
            .op(op)?;
        }
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO external_ids (source, kind, external_id, internal_id) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (source, kind, external_id) \
                     DO UPDATE SET internal_id = excluded.internal_id",
                )
                .op(op)?;
            for id in &changes.external_ids {
                upsert
                    .execute(params![
                        id.source,
                        id.kind.name(),
                        id.external_id,
                        id.internal_id
                    ])
                    .op(op)?;
            }
        }
        tx.commit().op(op)
    }

    fn load_external_ids_blocking(conn: &mut Connection) -> Result<Vec<ExternalId>, StoreError> {
        let op = "load_external_ids";
        let mut stmt = conn
            .prepare(
                "SELECT source, kind, external_id, internal_id FROM external_ids \
                 ORDER BY source, kind, external_id",
            )
            .op(op)?;
        let mut rows = stmt.query([]).op(op)?;
        let mut ids = Vec::new();
        while let Some(r) = rows.next().op(op)? {
            let kind: String = r.get(1).op("external_ids")?;
            ids.push(ExternalId {
                source: r.get(0).op("external_ids")?,
                kind: parsed(ExternalKind::parse(&kind), "external_ids", "kind", &kind)?,
                external_id: r.get(2).op("external_ids")?,
                internal_id: r.get(3).op("external_ids")?,
            });
        }
        ids.sort();
        Ok(ids)
    }

    /// Loads bookings, every one or only the one with `code`.
    fn read_bookings(
        conn: &Connection,
        code: Option<&str>,
    ) -> Result<Vec<StoredBooking>, StoreError> {
        let op = "load_bookings";
        let filter = if code.is_some() {
            " WHERE b.code = ?1"
        } else {
            ""
        };
        let seat_filter = if code.is_some() {
            " WHERE code = ?1"
        } else {
            ""
        };
        let args: Vec<&dyn rusqlite::ToSql> = match &code {
            Some(code) => vec![code as &dyn rusqlite::ToSql],
            None => Vec::new(),
        };
        let mut seats: HashMap<String, Vec<(u32, BookedSeat)>> = HashMap::new();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT code, position, seat_id, label, category, price_minor \
                 FROM booking_seats{seat_filter} \
                 UNION ALL \
                 SELECT code, position, seat_id, label, category, price_minor \
                 FROM booking_seats_history{seat_filter}"
            ))
            .op(op)?;
        let mut rows = stmt.query(args.as_slice()).op(op)?;
        while let Some(r) = rows.next().op(op)? {
            let code: String = r.get(0).op("booking_seats")?;
            let position: u32 = r.get(1).op("booking_seats")?;
            seats.entry(code).or_default().push((
                position,
                BookedSeat {
                    seat_id: r.get(2).op("booking_seats")?,
                    label: r.get(3).op("booking_seats")?,
                    category: category(r, 4, "booking_seats")?,
                    price_minor: r.get(5).op("booking_seats")?,
                },
            ));
        }
        let mut stmt = conn
            .prepare(&format!(
                "SELECT b.code, b.show_id, b.terminal_id, b.status, b.total_minor, \
                 b.currency, b.sold_at_ms, b.lamport, b.node_id, b.idempotency_key, \
                 p.method, p.amount_minor, p.currency, p.reference, b.hold_id \
                 FROM bookings b LEFT JOIN payments p ON p.code = b.code{filter} \
                 ORDER BY b.lamport, b.node_id, b.code"
            ))
            .op(op)?;
        let mut rows = stmt.query(args.as_slice()).op(op)?;
        let mut bookings = Vec::new();
        while let Some(r) = rows.next().op(op)? {
            let t = "bookings";
            let code: String = r.get(0).op(t)?;
            let status: String = r.get(3).op(t)?;
            let status = parsed(parse_status(&status), t, "status", &status)?;
            let method: Option<String> = r.get(10).op(t)?;
            let Some(method) = method else {
                return Err(StoreError::Corrupt(format!(
                    "booking {code} has no payment row"
                )));
            };
            let method = parsed(PaymentMethod::parse(&method), t, "payment method", &method)?;
            let payment = Payment {
                method,
                amount: Money {
                    amount_minor: r.get(11).op(t)?,
                    currency: r.get(12).op(t)?,
                },
                reference: r.get(13).op(t)?,
            };
            let mut booked = seats.remove(&code).unwrap_or_default();
            booked.sort_by_key(|(position, _)| *position);
            bookings.push(StoredBooking {
                booking: Booking {
                    show_id: r.get(1).op(t)?,
                    seats: booked.into_iter().map(|(_, seat)| seat).collect(),
                    total: Money {
                        amount_minor: r.get(4).op(t)?,
                        currency: r.get(5).op(t)?,
                    },
                    payment,
                    status,
                    terminal_id: r.get(2).op(t)?,
                    sold_at_ms: r.get(6).op(t)?,
                    lamport: r.get(7).op(t)?,
                    node_id: r.get(8).op(t)?,
                    code,
                },
                idempotency_key: r.get(9).op(t)?,
                hold_id: r.get(14).op(t)?,
            });
        }
        Ok(bookings)
    }

    /// Writes `sales` in one transaction: all or nothing. A failed `COMMIT` is `Unknown`.
    fn commit_batch_blocking(
        conn: &mut Connection,
        sales: &[SaleRecord],
    ) -> Result<(), BatchFailure> {
        let op = "commit_sales";
        let failure = |error: StoreError| match error {
            StoreError::Conflict(why) | StoreError::NotFound(why) => BatchFailure::Refused(why),
            other => BatchFailure::NotCommitted(other.to_string()),
        };
        let tx = Self::write_tx(conn, op).map_err(failure)?;
        Self::insert_sales(&tx, sales).map_err(failure)?;
        tx.commit()
            .map_err(|e| BatchFailure::Unknown(format!("{op}: COMMIT failed: {e}")))
    }

    /// The INSERTs of `sales` inside `tx`.
    fn insert_sales(tx: &Transaction<'_>, sales: &[SaleRecord]) -> Result<(), StoreError> {
        let op = "commit_sales";
        {
            let mut booking = tx
                .prepare_cached(
                    "INSERT INTO bookings (code, show_id, terminal_id, status, total_minor, \
                     currency, sold_at_ms, lamport, node_id, idempotency_key, hold_id, \
                     contact_email, contact_phone) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .op(op)?;
            let mut seat = tx
                .prepare_cached(
                    "INSERT INTO booking_seats (show_id, seat_id, code, position, label, \
                     category, price_minor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .op(op)?;
            let mut payment = tx
                .prepare_cached(
                    "INSERT INTO payments (code, method, amount_minor, currency, reference) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .op(op)?;
            let mut audit = tx
                .prepare_cached(
                    "INSERT INTO audit_events (show_id, lamport, node_id, kind, code, detail, \
                     at_ms) VALUES (?1, ?2, ?3, 'sale', ?4, ?5, ?6)",
                )
                .op(op)?;
            for sale in sales {
                let b = &sale.booking;
                booking
                    .execute(params![
                        b.code,
                        b.show_id,
                        b.terminal_id,
                        status_name(b.status),
                        b.total.amount_minor,
                        b.total.currency,
                        b.sold_at_ms,
                        b.lamport,
                        b.node_id,
                        sale.idempotency_key,
                        sale.hold_id,
                        sale.contact.email,
                        sale.contact.phone
                    ])
                    .op(op)?;
                for (position, s) in b.seats.iter().enumerate() {
                    seat.execute(params![
                        b.show_id,
                        s.seat_id,
                        b.code,
                        position,
                        s.label,
                        s.category.name(),
                        s.price_minor
                    ])
                    .op(op)?;
                }
                payment
                    .execute(params![
                        b.code,
                        b.payment.method.name(),
                        b.payment.amount.amount_minor,
                        b.payment.amount.currency,
                        b.payment.reference
                    ])
                    .op(op)?;
                audit
                    .execute(params![
                        b.show_id,
                        b.lamport,
                        b.node_id,
                        b.code,
                        sale_detail(sale),
                        b.sold_at_ms
                    ])
                    .op(op)?;
                Self::insert_outbox(tx, &sale.outbox)?;
            }
        }
        Ok(())
    }

    /// What is stored about `sale`'s code, key and seats.
    fn conflict_facts_blocking(
        conn: &Connection,
        sale: &SaleRecord,
    ) -> Result<ConflictFacts, StoreError> {
        let op = "conflict_facts";
        let b = &sale.booking;
        let by_code = Self::read_bookings(conn, Some(&b.code))?.pop();
        let by_key = Self::code_by_key(conn, b.terminal_id, &sale.idempotency_key)?;
        let mut seat_owners = Vec::new();
        let mut stmt = conn
            .prepare_cached("SELECT code FROM booking_seats WHERE show_id = ?1 AND seat_id = ?2")
            .op(op)?;
        for seat in &b.seats {
            let owner: Option<String> = stmt
                .query_row(params![b.show_id, seat.seat_id], |r| r.get(0))
                .optional()
                .op(op)?;
            if let Some(owner) = owner {
                seat_owners.push((seat.seat_id, owner));
            }
        }
        Ok(ConflictFacts {
            by_code,
            by_key,
            seat_owners,
        })
    }

    /// The code of the booking with this terminal's idempotency key.
    fn code_by_key(
        conn: &Connection,
        terminal_id: TerminalId,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        conn.query_row(
            "SELECT code FROM bookings WHERE terminal_id = ?1 AND idempotency_key = ?2",
            params![terminal_id, key],
            |r| r.get(0),
        )
        .optional()
        .op("sale_by_key")
    }

    /// One booking read in a transaction of its own.
    fn booking_blocking(
        conn: &mut Connection,
        code: &str,
    ) -> Result<Option<StoredBooking>, StoreError> {
        let tx = conn.transaction().op("resolve_sale")?;
        let booking = Self::read_bookings(&tx, Some(code))?.pop();
        tx.commit().op("resolve_sale")?;
        Ok(booking)
    }

    fn commit_block_blocking(conn: &mut Connection, block: &BlockRecord) -> Result<(), StoreError> {
        let op = "commit_block";
        let tx = Self::write_tx(conn, op)?;
        {
            let sql = if block.blocked {
                "INSERT OR IGNORE INTO blocked_seats (show_id, seat_id) VALUES (?1, ?2)"
            } else {
                "DELETE FROM blocked_seats WHERE show_id = ?1 AND seat_id = ?2"
            };
            let mut stmt = tx.prepare_cached(sql).op(op)?;
            for seat in &block.seats {
                stmt.execute(params![block.show_id, seat]).op(op)?;
            }
            tx.execute(
                "INSERT INTO audit_events (show_id, lamport, node_id, kind, code, detail, at_ms) \
                 VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6)",
                params![
                    block.show_id,
                    block.lamport,
                    block.node_id,
                    audit::block_kind(block),
                    audit::block_detail(block),
                    block.at_ms
                ],
            )
            .op(op)?;
        }
        tx.commit().op(op)
    }

    fn load_blocked_seats_blocking(
        conn: &mut Connection,
    ) -> Result<Vec<(ShowId, SeatId)>, StoreError> {
        let op = "load_blocked_seats";
        let mut stmt = conn
            .prepare("SELECT show_id, seat_id FROM blocked_seats ORDER BY show_id, seat_id")
            .op(op)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).op(op)?;
        rows.collect::<Result<Vec<_>, _>>().op(op)
    }

    fn commit_cancel_blocking(
        conn: &mut Connection,
        cancel: &CancelRecord,
    ) -> Result<(), StoreError> {
        let op = "commit_cancel";
        let status = if cancel.refund {
            BookingStatus::Refunded
        } else {
            BookingStatus::Cancelled
        };
        let tx = Self::write_tx(conn, op)?;
        let changed = tx
            .execute(
                "UPDATE bookings SET status = ?1 WHERE code = ?2 AND status = ?3",
                params![
                    status_name(status),
                    cancel.code,
                    status_name(BookingStatus::Confirmed)
                ],
            )
            .op(op)?;
        let show_id: Option<(u64, String)> = tx
            .query_row(
                "SELECT show_id, status FROM bookings WHERE code = ?1",
                params![cancel.code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .op(op)?;
        let show_id = match (changed, show_id) {
            (_, None) => return Err(StoreError::NotFound(format!("booking {}", cancel.code))),
            (0, Some((_, current))) => {
                return Err(StoreError::Conflict(format!(
                    "booking {} is {current}, not confirmed",
                    cancel.code
                )))
            }
            (_, Some((show_id, _))) => show_id,
        };
        tx.execute(
            "INSERT INTO booking_seats_history \
             (code, seat_id, show_id, position, label, category, price_minor, released_at_ms) \
             SELECT code, seat_id, show_id, position, label, category, price_minor, ?1 \
             FROM booking_seats WHERE code = ?2",
            params![cancel.at_ms, cancel.code],
        )
        .op(op)?;
        tx.execute(
            "DELETE FROM booking_seats WHERE code = ?1",
            params![cancel.code],
        )
        .op(op)?;
        if cancel.refund {
            tx.execute(
                "INSERT INTO refunds (code, amount_minor, currency, terminal_id, at_ms, lamport, \
                 node_id, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    cancel.code,
                    cancel.amount.amount_minor,
                    cancel.amount.currency,
                    cancel.terminal_id,
                    cancel.at_ms,
                    cancel.lamport,
                    cancel.node_id,
                    cancel.reason
                ],
            )
            .op(op)?;
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
        tx.execute(
            "INSERT INTO audit_events (show_id, lamport, node_id, kind, code, detail, at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                show_id,
                cancel.lamport,
                cancel.node_id,
                if cancel.refund { "refund" } else { "cancel" },
                cancel.code,
                detail,
                cancel.at_ms
            ],
        )
        .op(op)?;
        Self::insert_outbox(&tx, &cancel.outbox)?;
        tx.commit().op(op)
    }

    fn terminal_from_row(r: &Row<'_>) -> Result<TerminalRecord, StoreError> {
        let t = "terminals";
        let role: String = r.get(2).op(t)?;
        Ok(TerminalRecord {
            id: r.get(0).op(t)?,
            name: r.get(1).op(t)?,
            role: parsed(Role::parse(&role), t, "role", &role)?,
            token_sha256: r.get(3).op(t)?,
            revoked: r.get::<_, i64>(4).op(t)? != 0,
        })
    }

    fn shift_report_blocking(
        conn: &mut Connection,
        terminal_id: TerminalId,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<ShiftReport, StoreError> {
        let op = "shift_report";
        let tx = conn.transaction().op(op)?;
        let mut lines: BTreeMap<PaymentMethod, MethodTotals> = BTreeMap::new();
        let empty = |method| MethodTotals {
            method,
            sales: 0,
            seats: 0,
            sales_minor: 0,
            refunds: 0,
            refunds_minor: 0,
        };
        let currency: Option<String>;
        {
            let mut stmt = tx
                .prepare(
                    "SELECT p.method, COUNT(*), \
                     COALESCE(SUM(\
                        (SELECT COUNT(*) FROM booking_seats s WHERE s.code = b.code) + \
                        (SELECT COUNT(*) FROM booking_seats_history h WHERE h.code = b.code) + \
                        (SELECT COUNT(*) FROM seat_refund_seats r WHERE r.code = b.code)\
                     ), 0), \
                     COALESCE(SUM(p.amount_minor), 0) \
                     FROM bookings b JOIN payments p ON p.code = b.code \
                     WHERE b.terminal_id = ?1 AND b.sold_at_ms >= ?2 AND b.sold_at_ms < ?3 \
                     GROUP BY p.method",
                )
                .op(op)?;
            let mut rows = stmt.query(params![terminal_id, from_ms, to_ms]).op(op)?;
            while let Some(r) = rows.next().op(op)? {
                let method: String = r.get(0).op(op)?;
                let method = parsed(PaymentMethod::parse(&method), op, "method", &method)?;
                let line = lines.entry(method).or_insert_with(|| empty(method));
                line.sales = count(r.get(1).op(op)?, "sales")?;
                line.seats = count(r.get(2).op(op)?, "seats")?;
                line.sales_minor = r.get(3).op(op)?;
            }
            let mut stmt = tx
                .prepare(
                    "SELECT p.method, COUNT(*), COALESCE(SUM(r.amount_minor), 0) \
                     FROM (SELECT code, amount_minor, terminal_id, at_ms FROM refunds \
                           UNION ALL \
                           SELECT code, amount_minor, terminal_id, at_ms FROM seat_refunds) r \
                     JOIN payments p ON p.code = r.code \
                     WHERE r.terminal_id = ?1 AND r.at_ms >= ?2 AND r.at_ms < ?3 \
                     GROUP BY p.method",
                )
                .op(op)?;
            let mut rows = stmt.query(params![terminal_id, from_ms, to_ms]).op(op)?;
            while let Some(r) = rows.next().op(op)? {
                let method: String = r.get(0).op(op)?;
                let method = parsed(PaymentMethod::parse(&method), op, "method", &method)?;
                let line = lines.entry(method).or_insert_with(|| empty(method));
                line.refunds = count(r.get(1).op(op)?, "refunds")?;
                line.refunds_minor = r.get(2).op(op)?;
            }
            currency = tx
                .query_row(
                    "SELECT currency FROM ( \
                       SELECT b.currency AS currency, b.sold_at_ms AS at_ms FROM bookings b \
                       WHERE b.terminal_id = ?1 AND b.sold_at_ms >= ?2 AND b.sold_at_ms < ?3 \
                       UNION ALL \
                       SELECT r.currency, r.at_ms FROM refunds r \
                       WHERE r.terminal_id = ?1 AND r.at_ms >= ?2 AND r.at_ms < ?3 \
                       UNION ALL \
                       SELECT r.currency, r.at_ms FROM seat_refunds r \
                       WHERE r.terminal_id = ?1 AND r.at_ms >= ?2 AND r.at_ms < ?3 \
                     ) ORDER BY at_ms LIMIT 1",
                    params![terminal_id, from_ms, to_ms],
                    |r| r.get(0),
                )
                .optional()
                .op(op)?;
        }
        tx.commit().op(op)?;
        Ok(ShiftReport {
            terminal_id,
            from_ms,
            to_ms,
            currency: currency.unwrap_or_else(|| REPORT_DEFAULT_CURRENCY.to_owned()),
            lines: lines.into_values().collect(),
        })
    }
}

#[async_trait]
impl SaleBackend for SqliteStore {
    async fn commit_batch(&self, sales: &[SaleRecord]) -> Result<(), BatchFailure> {
        let sales = sales.to_vec();
        let conn = self.conn.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock();
            Self::commit_batch_blocking(&mut conn, &sales)
        });
        match task.await {
            Ok(result) => result,
            // The task panicked or was cancelled; it may have reached COMMIT.
            Err(error) => Err(BatchFailure::Unknown(format!(
                "commit_sales: the database task failed: {error}"
            ))),
        }
    }

    async fn conflict_facts(&self, sale: &SaleRecord) -> Result<ConflictFacts, StoreError> {
        let sale = sale.clone();
        self.call("conflict_facts", move |conn| {
            Self::conflict_facts_blocking(conn, &sale)
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn payments(&self) -> Option<&dyn super::payments::PaymentStore> {
        Some(self)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.call("migrate", Self::migrate_blocking).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.call("ping", |conn| {
            conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .op("ping")
                .map(|_| ())
        })
        .await
    }

    async fn load_catalog(&self) -> Result<CatalogData, StoreError> {
        self.call("load_catalog", Self::load_catalog_blocking).await
    }

    async fn upsert_city(&self, city: &City) -> Result<(), StoreError> {
        self.catalog_write("upsert_city", city.clone(), Self::write_city)
            .await
    }

    async fn upsert_theater(&self, theater: &Theater) -> Result<(), StoreError> {
        self.catalog_write("upsert_theater", theater.clone(), Self::write_theater)
            .await
    }

    async fn upsert_screen(&self, screen: &Screen) -> Result<(), StoreError> {
        self.catalog_write("upsert_screen", screen.clone(), Self::write_screen)
            .await
    }

    async fn upsert_movie(&self, movie: &Movie) -> Result<(), StoreError> {
        self.catalog_write("upsert_movie", movie.clone(), Self::write_movie)
            .await
    }

    async fn upsert_show(&self, show: &Show) -> Result<(), StoreError> {
        self.catalog_write("upsert_show", show.clone(), Self::write_show)
            .await
    }

    async fn load_external_ids(&self) -> Result<Vec<ExternalId>, StoreError> {
        self.call("load_external_ids", Self::load_external_ids_blocking)
            .await
    }

    async fn apply_catalog(&self, changes: &CatalogChanges) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let changes = changes.clone();
        self.call("apply_catalog", move |conn| {
            Self::apply_catalog_blocking(conn, &changes)
        })
        .await
    }

    async fn load_bookings(&self) -> Result<Vec<StoredBooking>, StoreError> {
        self.call("load_bookings", |conn| {
            let tx = conn.transaction().op("load_bookings")?;
            let bookings = Self::read_bookings(&tx, None)?;
            tx.commit().op("load_bookings")?;
            Ok(bookings)
        })
        .await
    }

    async fn commit_sales(&self, sales: &[SaleRecord]) -> Vec<SaleOutcome> {
        group_commit::commit_sales(self, sales).await
    }

    async fn resolve_sale(&self, code: &str) -> Result<Option<StoredBooking>, StoreError> {
        // The one connection is behind a mutex held for a whole commit: once this read has
        // it, no sale transaction is open, and a failed COMMIT's transaction was rolled back.
        let code = code.to_owned();
        self.call("resolve_sale", move |conn| {
            Self::booking_blocking(conn, &code)
        })
        .await
    }

    async fn sale_by_key(
        &self,
        terminal_id: TerminalId,
        idempotency_key: &str,
    ) -> Result<Option<StoredBooking>, StoreError> {
        let key = idempotency_key.to_owned();
        self.call("sale_by_key", move |conn| {
            match Self::code_by_key(conn, terminal_id, &key)? {
                Some(code) => Self::booking_blocking(conn, &code),
                None => Ok(None),
            }
        })
        .await
    }

    async fn commit_block(&self, block: &BlockRecord) -> Result<(), StoreError> {
        let block = block.clone();
        self.call("commit_block", move |conn| {
            Self::commit_block_blocking(conn, &block)
        })
        .await
    }

    async fn load_blocked_seats(&self) -> Result<Vec<(ShowId, SeatId)>, StoreError> {
        self.call("load_blocked_seats", Self::load_blocked_seats_blocking)
            .await
    }

    async fn commit_cancel(&self, cancel: &CancelRecord) -> Result<(), StoreError> {
        let cancel = cancel.clone();
        self.call("commit_cancel", move |conn| {
            Self::commit_cancel_blocking(conn, &cancel)
        })
        .await
    }

    async fn commit_seat_refund(&self, refund: &SeatRefundRecord) -> Result<(), StoreError> {
        let refund = refund.clone();
        self.call("commit_seat_refund", move |conn| {
            Self::commit_seat_refund_blocking(conn, &refund)
        })
        .await
    }

    async fn commit_admission(&self, record: &AdmissionRecord) -> Result<AdmitOutcome, StoreError> {
        let record = record.clone();
        self.call("commit_admission", move |conn| {
            Self::commit_admission_blocking(conn, &record)
        })
        .await
    }

    async fn outbox_pending(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<PendingMessage>, StoreError> {
        self.call("outbox_pending", move |conn| {
            Self::outbox_pending_blocking(conn, now_ms, limit)
        })
        .await
    }

    async fn outbox_mark(&self, id: &str, mark: &OutboxMark) -> Result<(), StoreError> {
        let (id, mark) = (id.to_owned(), mark.clone());
        self.call("outbox_mark", move |conn| {
            Self::outbox_mark_blocking(conn, &id, &mark)
        })
        .await
    }

    async fn outbox_mark_all(&self, marks: &[(String, OutboxMark)]) -> Result<(), StoreError> {
        let marks = marks.to_vec();
        self.call("outbox_mark", move |conn| {
            Self::outbox_mark_all_blocking(conn, &marks)
        })
        .await
    }

    async fn outbox_dead(&self, limit: usize) -> Result<Vec<PendingMessage>, StoreError> {
        self.call("outbox_dead", move |conn| {
            Self::outbox_dead_blocking(conn, limit)
        })
        .await
    }

    async fn outbox_replay(&self, ids: &[String]) -> Result<u64, StoreError> {
        let ids = ids.to_vec();
        let now = crate::notify::now_ms();
        self.call("outbox_replay", move |conn| {
            Self::outbox_replay_blocking(conn, &ids, now)
        })
        .await
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        self.call("outbox_stats", Self::outbox_stats_blocking).await
    }

    async fn upsert_show_announced(
        &self,
        show: &Show,
        messages: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let value = (show.clone(), messages.to_vec());
        self.catalog_write("upsert_show", value, |tx, (show, messages)| {
            Self::write_show(tx, show)?;
            Self::insert_outbox(tx, messages)
        })
        .await
    }

    async fn outbox_append(&self, messages: &[OutboxMessage]) -> Result<(), StoreError> {
        let messages = messages.to_vec();
        self.call("outbox_append", move |conn| {
            Self::outbox_append_blocking(conn, &messages)
        })
        .await
    }

    async fn add_terminal(
        &self,
        name: &str,
        role: Role,
        token_sha256: &str,
    ) -> Result<TerminalId, StoreError> {
        let (name, token) = (name.to_owned(), token_sha256.to_owned());
        self.call("add_terminal", move |conn| {
            conn.execute(
                "INSERT INTO terminals (name, role, token_sha256) VALUES (?1, ?2, ?3)",
                params![name, role.name(), token],
            )
            .op("add_terminal")?;
            u64::try_from(conn.last_insert_rowid())
                .map_err(|_| StoreError::Corrupt("terminals: a negative id was assigned".into()))
        })
        .await
    }

    async fn terminal_by_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<TerminalRecord>, StoreError> {
        let token = token_sha256.to_owned();
        self.call("terminal_by_token", move |conn| {
            let op = "terminal_by_token";
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, name, role, token_sha256, revoked FROM terminals \
                     WHERE token_sha256 = ?1",
                )
                .op(op)?;
            let mut rows = stmt.query(params![token]).op(op)?;
            match rows.next().op(op)? {
                Some(r) => Self::terminal_from_row(r).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn audit_trail(&self, show_id: u64) -> Result<Vec<AuditEntry>, StoreError> {
        self.call("audit_trail", move |conn| {
            let op = "audit_trail";
            let mut stmt = conn
                .prepare(
                    "SELECT lamport, node_id, kind, code, detail, at_ms FROM audit_events \
                     WHERE show_id = ?1 ORDER BY lamport, node_id, id",
                )
                .op(op)?;
            let rows = stmt
                .query_map(params![show_id], |r| {
                    Ok(AuditEntry {
                        lamport: r.get(0)?,
                        node_id: r.get(1)?,
                        kind: r.get(2)?,
                        code: r.get(3)?,
                        detail: r.get(4)?,
                        at_ms: r.get(5)?,
                    })
                })
                .op(op)?;
            rows.collect::<Result<Vec<_>, _>>().op(op)
        })
        .await
    }

    async fn list_terminals(&self) -> Result<Vec<TerminalRecord>, StoreError> {
        self.call("list_terminals", |conn| {
            let op = "list_terminals";
            let mut stmt = conn
                .prepare("SELECT id, name, role, token_sha256, revoked FROM terminals ORDER BY id")
                .op(op)?;
            let mut rows = stmt.query([]).op(op)?;
            let mut all = Vec::new();
            while let Some(r) = rows.next().op(op)? {
                all.push(Self::terminal_from_row(r)?);
            }
            Ok(all)
        })
        .await
    }

    async fn revoke_terminal(&self, id: TerminalId) -> Result<(), StoreError> {
        self.call("revoke_terminal", move |conn| {
            let op = "revoke_terminal";
            conn.execute(
                "UPDATE terminals SET revoked = 1 WHERE id = ?1",
                params![id],
            )
            .op(op)?;
            let exists: Option<i64> = conn
                .query_row("SELECT 1 FROM terminals WHERE id = ?1", params![id], |r| {
                    r.get(0)
                })
                .optional()
                .op(op)?;
            match exists {
                Some(_) => Ok(()),
                None => Err(StoreError::NotFound(format!("terminal {id}"))),
            }
        })
        .await
    }

    async fn shift_report(
        &self,
        terminal_id: TerminalId,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<ShiftReport, StoreError> {
        self.call("shift_report", move |conn| {
            Self::shift_report_blocking(conn, terminal_id, from_ms, to_ms)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_migrations_are_numbered_in_order() {
        let versions: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(versions, sorted);
        assert!(MIGRATIONS[0].sql.contains("PRIMARY KEY (show_id, seat_id)"));
    }

    #[test]
    fn constraint_errors_map_to_store_errors() {
        let conn = Connection::open_in_memory().expect("memory database");
        conn.execute_batch(
            "PRAGMA foreign_keys = ON; \
             CREATE TABLE p (id INTEGER PRIMARY KEY); \
             CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES p (id), \
               t TEXT CHECK (length(t) <= 2));",
        )
        .expect("schema");
        let missing_parent = conn
            .execute("INSERT INTO c (id, p) VALUES (1, 9)", [])
            .expect_err("foreign key");
        assert!(matches!(
            store_error("t", missing_parent),
            StoreError::NotFound(_)
        ));
        conn.execute("INSERT INTO p (id) VALUES (1)", [])
            .expect("p");
        let too_long = conn
            .execute("INSERT INTO c (id, p, t) VALUES (1, 1, 'abc')", [])
            .expect_err("check");
        assert!(matches!(
            store_error("t", too_long),
            StoreError::Conflict(_)
        ));
        let duplicate = conn
            .execute("INSERT INTO p (id) VALUES (1)", [])
            .expect_err("primary key");
        assert!(matches!(
            store_error("t", duplicate),
            StoreError::Conflict(_)
        ));
        let out_of_range = conn
            .execute("INSERT INTO p (id) VALUES (?1)", params![u64::MAX])
            .expect_err("u64 above i64::MAX");
        assert!(matches!(
            store_error("t", out_of_range),
            StoreError::Conflict(_)
        ));
    }
}
