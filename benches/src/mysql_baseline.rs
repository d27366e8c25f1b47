//! The MySQL row-lock baseline, the way many booking systems sell: one transaction per sale —
//! `SELECT … FOR UPDATE` the seats, check they are free, `INSERT` the booking, `UPDATE` the seats,
//! `COMMIT`. For `hot`, the transaction takes the first free adjacent seats of the show the same
//! way (`SELECT … WHERE booking_id IS NULL ORDER BY seat_id LIMIT … FOR UPDATE`).
//!
//! It uses its own database with two tables, `show_seats` (one row per seat of every show, with
//! the booking that owns it) and `bookings`, filled for the same shows and seats as CineBook's
//! catalog and reset before every run. Each connection runs one transaction at a time (a MySQL
//! connection cannot pipeline transactions), so `pipeline` does not apply.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use futures::stream::{self, StreamExt, TryStreamExt};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row, TxOpts, Value};
use rand::rngs::StdRng;

use crate::catalog::{ShowInfo, CURRENCY, PRICE_MINOR, ROW_WIDTH};
use crate::driver::{self, Limit, OpOutcome, Worker};
use crate::stats::RunStats;
use crate::workload::{first_adjacent, worker_rng, HotCursor, SeatPicker, Workload};

/// Free seats a `hot` transaction locks at first; it scans the whole show only when they hold no
/// adjacent block.
pub const HOT_WINDOW: usize = 64;

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> Result<String> {
    let (before_query, query) = match url.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (url, None),
    };
    let Some(scheme_end) = before_query.find("://") else {
        bail!("{url:?} is not a mysql://user@host:port URL");
    };
    let authority_start = scheme_end + 3;
    let path_start = before_query[authority_start..]
        .find('/')
        .map_or(before_query.len(), |i| i + authority_start);
    let mut out = format!("{}/{database}", &before_query[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

async fn connect(url: &str) -> Result<Conn> {
    let opts = Opts::from_url(url).with_context(|| format!("invalid MySQL URL {url:?}"))?;
    Conn::new(opts)
        .await
        .with_context(|| format!("connecting to MySQL at {url}"))
}

/// Creates (or empties) the baseline database `database` on the server of `server_url` with
/// every seat of `shows` free. Returns the database's URL.
pub async fn prepare(server_url: &str, database: &str, shows: &[ShowInfo]) -> Result<String> {
    if !database
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        bail!("database name {database:?}: use letters, digits and _ only");
    }
    let mut conn = connect(&with_database(server_url, "")?).await?;
    conn.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4"
    ))
    .await
    .context("creating the row-lock baseline database")?;
    drop(conn);
    let url = with_database(server_url, database)?;
    let mut conn = connect(&url).await?;
    for sql in [
        "DROP TABLE IF EXISTS show_seats",
        "DROP TABLE IF EXISTS bookings",
        "DROP TABLE IF EXISTS load_shows",
        "DROP TABLE IF EXISTS load_seat_numbers",
        "CREATE TABLE show_seats (
            show_id     BIGINT UNSIGNED NOT NULL,
            seat_id     INT UNSIGNED    NOT NULL,
            row_no      INT UNSIGNED    NOT NULL,
            price_minor BIGINT          NOT NULL,
            booking_id  BIGINT UNSIGNED NULL,
            PRIMARY KEY (show_id, seat_id)
        ) ENGINE = InnoDB",
        "CREATE TABLE bookings (
            id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
            show_id           BIGINT UNSIGNED NOT NULL,
            seats             VARCHAR(400)    NOT NULL,
            total_minor       BIGINT          NOT NULL,
            currency          CHAR(3)         NOT NULL,
            payment_method    VARCHAR(16)     NOT NULL,
            payment_reference VARCHAR(200)    NULL,
            sold_at_ms        BIGINT UNSIGNED NOT NULL,
            PRIMARY KEY (id),
            KEY idx_bookings_show (show_id)
        ) ENGINE = InnoDB",
        "CREATE TABLE load_shows (id BIGINT UNSIGNED NOT NULL, seats INT UNSIGNED NOT NULL, \
         PRIMARY KEY (id)) ENGINE = InnoDB",
        "CREATE TABLE load_seat_numbers (n INT UNSIGNED NOT NULL, PRIMARY KEY (n)) \
         ENGINE = InnoDB",
    ] {
        conn.query_drop(sql)
            .await
            .with_context(|| format!("preparing the row-lock baseline: {sql}"))?;
    }
    for chunk in shows.chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|s| format!("({}, {})", s.id, s.seats))
            .collect();
        conn.query_drop(format!(
            "INSERT INTO load_shows (id, seats) VALUES {}",
            values.join(", ")
        ))
        .await
        .context("listing the baseline's shows")?;
    }
    let seats_max = shows.iter().map(|s| s.seats).max().unwrap_or(0);
    let numbers: Vec<u32> = (0..seats_max).collect();
    for chunk in numbers.chunks(1000) {
        let values: Vec<String> = chunk.iter().map(|n| format!("({n})")).collect();
        conn.query_drop(format!(
            "INSERT INTO load_seat_numbers (n) VALUES {}",
            values.join(", ")
        ))
        .await
        .context("numbering the baseline's seats")?;
    }
    conn.query_drop(format!(
        "INSERT INTO show_seats (show_id, seat_id, row_no, price_minor, booking_id) \
         SELECT s.id, n.n, n.n DIV {ROW_WIDTH}, {PRICE_MINOR}, NULL \
         FROM load_shows s JOIN load_seat_numbers n ON n.n < s.seats"
    ))
    .await
    .context("filling show_seats")?;
    let _ = conn.disconnect().await;
    Ok(url)
}

/// Frees every seat and deletes every booking of the baseline database at `url`.
pub async fn reset(url: &str) -> Result<()> {
    let mut conn = connect(url).await?;
    conn.query_drop("UPDATE show_seats SET booking_id = NULL WHERE booking_id IS NOT NULL")
        .await
        .context("freeing the baseline's seats")?;
    conn.query_drop("TRUNCATE TABLE bookings")
        .await
        .context("emptying the baseline's bookings")?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// Why a sale transaction did not commit.
#[derive(Debug)]
enum SaleError {
    /// A seat was not free.
    Taken,
    /// No free adjacent seats left in the show.
    SoldOut,
    /// MySQL refused or failed.
    Mysql(mysql_async::Error),
}

impl From<mysql_async::Error> for SaleError {
    fn from(e: mysql_async::Error) -> Self {
        SaleError::Mysql(e)
    }
}

impl SaleError {
    fn code(&self) -> String {
        match self {
            SaleError::Taken => "SeatUnavailable".into(),
            SaleError::SoldOut => "SoldOut".into(),
            SaleError::Mysql(mysql_async::Error::Server(e)) => match e.code {
                1213 => "Deadlock".into(),
                1205 => "LockWaitTimeout".into(),
                code => format!("MySQL:{code}"),
            },
            SaleError::Mysql(_) => "MySQL:io".into(),
        }
    }
}

/// A row-lock worker: one connection, one transaction at a time.
#[derive(Debug)]
pub struct RowLockWorker {
    conn: Conn,
    rng: StdRng,
    workload: Workload,
    picker: Arc<SeatPicker>,
    hot: Arc<HotCursor>,
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One sale of exactly `seats` (`Some`) or of the first free adjacent `count` seats (`None`).
async fn sell(
    conn: &mut Conn,
    show: u64,
    seats: Option<&[u32]>,
    count: usize,
) -> Result<(), SaleError> {
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    let chosen: Vec<u32> = match seats {
        Some(seats) => {
            let sql = format!(
                "SELECT seat_id, booking_id FROM show_seats WHERE show_id = ? AND seat_id IN ({}) \
                 FOR UPDATE",
                placeholders(seats.len())
            );
            let mut params = vec![Value::from(show)];
            params.extend(seats.iter().map(|s| Value::from(*s)));
            let rows: Vec<Row> = tx.exec(sql, params).await?;
            let mut free = 0;
            for row in rows {
                let parsed = mysql_async::from_row_opt::<(u32, Option<u64>)>(row);
                if matches!(parsed, Ok((_, None))) {
                    free += 1;
                }
            }
            if free != seats.len() {
                tx.rollback().await?;
                return Err(SaleError::Taken);
            }
            seats.to_vec()
        }
        None => {
            let mut limit = format!(" LIMIT {HOT_WINDOW}");
            loop {
                let sql = format!(
                    "SELECT seat_id FROM show_seats WHERE show_id = ? AND booking_id IS NULL \
                     ORDER BY seat_id{limit} FOR UPDATE"
                );
                let rows: Vec<Row> = tx.exec(sql, (show,)).await?;
                // A row that does not parse is not counted as free.
                let free: Vec<u32> = rows
                    .into_iter()
                    .filter_map(|row| mysql_async::from_row_opt::<u32>(row).ok())
                    .collect();
                if let Some(block) = first_adjacent(&free, count) {
                    break block;
                }
                if free.len() < HOT_WINDOW || limit.is_empty() {
                    tx.rollback().await?;
                    return Err(SaleError::SoldOut);
                }
                limit.clear();
            }
        }
    };
    let list: Vec<String> = chosen.iter().map(u32::to_string).collect();
    tx.exec_drop(
        "INSERT INTO bookings (show_id, seats, total_minor, currency, payment_method, \
         payment_reference, sold_at_ms) VALUES (?, ?, ?, ?, 'card', 'cinebook-load', ?)",
        (
            show,
            list.join(","),
            PRICE_MINOR * chosen.len() as i64,
            CURRENCY,
            now_ms(),
        ),
    )
    .await?;
    let booking_id = tx.last_insert_id().unwrap_or(0);
    let sql = format!(
        "UPDATE show_seats SET booking_id = ? WHERE show_id = ? AND seat_id IN ({})",
        placeholders(chosen.len())
    );
    let mut params = vec![Value::from(booking_id), Value::from(show)];
    params.extend(chosen.iter().map(|s| Value::from(*s)));
    tx.exec_drop(sql, params).await?;
    tx.commit().await?;
    Ok(())
}

impl Worker for RowLockWorker {
    async fn op(&mut self) -> OpOutcome {
        let started = Instant::now();
        let result = match self.workload {
            Workload::Sale => {
                let (show, seats) = self.picker.pick(&mut self.rng);
                sell(&mut self.conn, show, Some(&seats), seats.len()).await
            }
            Workload::Hot => {
                let index = self.hot.current();
                let Some(show) = self.picker.shows().get(index).map(|s| s.id) else {
                    return OpOutcome::Exhausted;
                };
                let result = sell(
                    &mut self.conn,
                    show,
                    None,
                    self.picker.seats_per_op() as usize,
                )
                .await;
                if matches!(result, Err(SaleError::SoldOut)) {
                    self.hot.sold_out(index);
                }
                result
            }
            _ => return OpOutcome::Exhausted,
        };
        match result {
            Ok(()) => OpOutcome::Ok {
                latency: started.elapsed(),
            },
            Err(e) => OpOutcome::Err(e.code()),
        }
    }
}

/// Runs `sale` or `hot` against the baseline database at `url` (reset first).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    url: &str,
    workload: Workload,
    shows: Arc<Vec<ShowInfo>>,
    connections: usize,
    seats_per_op: u32,
    seed: u64,
    limit: Limit,
    progress: bool,
) -> Result<RunStats> {
    if !matches!(workload, Workload::Sale | Workload::Hot) {
        bail!("the MySQL row-lock baseline sells: only the sale and hot workloads apply");
    }
    reset(url).await?;
    let picker = Arc::new(SeatPicker::new(shows, seats_per_op)?);
    let hot = Arc::new(HotCursor::default());
    let conns: Vec<Conn> = stream::iter(0..connections)
        .map(|_| connect(url))
        .buffered(crate::cinebook::CONNECT_IN_FLIGHT)
        .try_collect()
        .await?;
    let workers: Vec<RowLockWorker> = conns
        .into_iter()
        .enumerate()
        .map(|(worker, conn)| RowLockWorker {
            conn,
            // The same generator as CineBook's worker of the same index (pipeline 1).
            rng: worker_rng(seed, worker),
            workload,
            picker: picker.clone(),
            hot: hot.clone(),
        })
        .collect();
    let label = format!("mysql-rowlock {} ×{connections}", workload.name());
    let (stats, workers) = driver::drive(workers, limit, &label, progress).await?;
    for w in workers {
        let _ = w.conn.disconnect().await;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_in_url_is_replaced() {
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306/cinebook", "x").ok(),
            Some("mysql://root@127.0.0.1:3306/x".into())
        );
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306", "y").ok(),
            Some("mysql://root@127.0.0.1:3306/y".into())
        );
        assert_eq!(
            with_database("mysql://u:p@h/db?pool_max=3", "z").ok(),
            Some("mysql://u:p@h/z?pool_max=3".into())
        );
        assert!(with_database("nonsense", "z").is_err());
    }
}
