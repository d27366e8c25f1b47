//! What one run cost, read independently of the machine's noise: CPU time per operation (of the
//! node, and of the peer: Redis or MySQL) and database rows written per sale.
//!
//! - The in-process node's CPU time is the sum, over the threads of this process that belong to
//!   the node (named `cinebook-node*` and `cinebook-worker*`: its tokio runtime, blocking pool
//!   and worker pool), of the time the kernel accounted to them as running (user + sys, from
//!   `/proc/self/task/<tid>/schedstat`, nanoseconds; `stat`'s clock ticks where schedstat is
//!   missing). The load generator's own threads are not counted. A node thread that ended during
//!   the run loses its share (the node's threads live as long as the node, except idle blocking
//!   threads).
//! - A node in another process (`--node-pid`) is read from `/proc/<pid>/stat` (utime + stime).
//! - Redis: `INFO cpu` (`used_cpu_user` + `used_cpu_sys`) before and after.
//! - MySQL: the `mariadbd`/`mysqld` process's `/proc/<pid>/stat`, found by its name; it is
//!   shared with anything else using the server, so it is an upper bound.
//! - Rows written: `COUNT(*)` of every base table of the node's database before and after the
//!   run (rows that were inserted and stay; what a sale writes is never deleted by a run).

use std::time::Duration;

use anyhow::{Context, Result};
use mysql_async::prelude::Queryable;

/// Thread-name prefixes of the in-process node's threads (`comm` is cut at 15 bytes).
pub const NODE_THREAD_PREFIXES: [&str; 2] = ["cinebook-node", "cinebook-worke"];

/// Where a CPU reading comes from.
#[derive(Debug, Clone)]
pub enum CpuSource {
    /// This process's node threads (the in-process node).
    NodeThreads,
    /// A whole process.
    Process(u32),
    /// A Redis server, read through `INFO cpu`.
    Redis(String),
    /// Not measured.
    None,
}

/// CPU time used so far by `source`, or `None` when it cannot be read.
pub async fn cpu_time(source: &CpuSource) -> Option<Duration> {
    match source {
        CpuSource::NodeThreads => node_threads_cpu(),
        CpuSource::Process(pid) => process_cpu(*pid),
        CpuSource::Redis(url) => redis_cpu(url).await.ok(),
        CpuSource::None => None,
    }
}

/// Microseconds of CPU per operation between two readings (rounded to 0.1 µs).
pub fn per_op_us(before: Option<Duration>, after: Option<Duration>, ops: u64) -> Option<f64> {
    let (before, after) = (before?, after?);
    if ops == 0 || after < before {
        return None;
    }
    let us = (after - before).as_secs_f64() * 1e6 / ops as f64;
    Some((us * 10.0).round() / 10.0)
}

/// Clock ticks per second of `/proc/.../stat` (USER_HZ; 100 on every Linux this runs on).
const USER_HZ: u64 = 100;

fn node_threads_cpu() -> Option<Duration> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let mut total = Duration::ZERO;
    for task in tasks.flatten() {
        let dir = task.path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        let comm = comm.trim_end();
        if !NODE_THREAD_PREFIXES.iter().any(|p| comm.starts_with(p)) {
            continue;
        }
        let ran = std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .map(Duration::from_nanos)
            .or_else(|| stat_cpu(&std::fs::read_to_string(dir.join("stat")).ok()?));
        total += ran.unwrap_or_default();
    }
    Some(total)
}

/// utime + stime of a `/proc/.../stat` line (fields 14 and 15, after the `(comm)`).
fn stat_cpu(stat: &str) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

fn process_cpu(pid: u32) -> Option<Duration> {
    stat_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The pid of the local MySQL server process (`mariadbd` or `mysqld`), if one runs here.
pub fn mysql_server_pid() -> Option<u32> {
    let entries = std::fs::read_dir("/proc").ok()?;
    entries.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
        matches!(comm.trim_end(), "mariadbd" | "mysqld").then_some(pid)
    })
}

async fn redis_cpu(url: &str) -> Result<Duration> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut conn).await?;
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    Ok(Duration::from_secs_f64(
        field("used_cpu_user") + field("used_cpu_sys"),
    ))
}

/// Rows in every base table of the database at `url`, summed.
pub async fn rows_in(url: &str) -> Result<u64> {
    let opts = mysql_async::Opts::from_url(url).with_context(|| format!("invalid URL {url:?}"))?;
    let database = opts
        .db_name()
        .map(str::to_owned)
        .context("the node's database URL names no database")?;
    let mut conn = mysql_async::Conn::new(opts).await?;
    let tables: Vec<String> = conn
        .exec(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = ? AND table_type = 'BASE TABLE'",
            (database.as_str(),),
        )
        .await?;
    let mut total = 0u64;
    for table in tables {
        let escaped = table.replace('`', "``");
        let n: Option<u64> = conn
            .query_first(format!("SELECT COUNT(*) FROM `{escaped}`"))
            .await?;
        total += n.unwrap_or(0);
    }
    let _ = conn.disconnect().await;
    Ok(total)
}

/// Rows per operation between two counts (rounded to 0.01).
pub fn rows_per_op(before: Option<u64>, after: Option<u64>, ops: u64) -> Option<f64> {
    let (before, after) = (before?, after?);
    if ops == 0 || after < before {
        return None;
    }
    Some(((after - before) as f64 / ops as f64 * 100.0).round() / 100.0)
}

/// Where the rows a run wrote are counted.
#[derive(Debug, Clone)]
pub enum RowsSource {
    /// Every base table of the node's database (before and after).
    Tables(String),
    /// The row-lock baseline at this URL: bookings inserted plus seats updated, which the
    /// baseline resets to none at the start of each run.
    RowLock(String),
    /// Not counted.
    None,
}

/// What one run is measured with.
#[derive(Debug, Clone)]
pub struct Meter {
    /// The system's own CPU.
    pub cpu: CpuSource,
    /// The MySQL server process, for sales.
    pub db_pid: Option<u32>,
    /// The rows written.
    pub rows: RowsSource,
}

/// One reading of a [`Meter`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    cpu: Option<Duration>,
    db: Option<Duration>,
    rows: Option<u64>,
}

impl Meter {
    /// Reads everything now; `after` tells the row-lock baseline's count (before its run it is
    /// zero by construction: the run resets the tables).
    pub async fn read(&self, after: bool) -> Reading {
        let rows = match &self.rows {
            RowsSource::Tables(url) => rows_in(url).await.ok(),
            RowsSource::RowLock(_) if !after => Some(0),
            RowsSource::RowLock(url) => rowlock_rows(url).await.ok(),
            RowsSource::None => None,
        };
        Reading {
            cpu: cpu_time(&self.cpu).await,
            db: self.db_pid.and_then(process_cpu),
            rows,
        }
    }

    /// Fills `record`'s cost fields from two readings around its run.
    pub fn fill(before: &Reading, after: &Reading, record: &mut crate::stats::RunRecord) {
        record.cpu_us_per_op = per_op_us(before.cpu, after.cpu, record.ops);
        record.db_cpu_us_per_op = per_op_us(before.db, after.db, record.ops);
        record.rows_per_op = rows_per_op(before.rows, after.rows, record.ops);
    }
}

async fn rowlock_rows(url: &str) -> Result<u64> {
    let opts = mysql_async::Opts::from_url(url).with_context(|| format!("invalid URL {url:?}"))?;
    let mut conn = mysql_async::Conn::new(opts).await?;
    let bookings: Option<u64> = conn.query_first("SELECT COUNT(*) FROM bookings").await?;
    let seats: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM show_seats WHERE booking_id IS NOT NULL")
        .await?;
    let _ = conn.disconnect().await;
    Ok(bookings.unwrap_or(0) + seats.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields() {
        let line = "1234 (cinebook-node-r) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(stat_cpu(line), Some(Duration::from_secs(3)));
        assert_eq!(stat_cpu("garbage"), None);
    }

    #[test]
    fn per_op_figures() {
        let (a, b) = (Some(Duration::from_secs(1)), Some(Duration::from_secs(2)));
        assert_eq!(per_op_us(a, b, 1_000_000), Some(1.0));
        assert_eq!(per_op_us(a, b, 0), None);
        assert_eq!(per_op_us(b, a, 10), None);
        assert_eq!(rows_per_op(Some(10), Some(60), 10), Some(5.0));
        assert_eq!(rows_per_op(None, Some(60), 10), None);
    }

    #[test]
    fn this_process_has_no_node_threads_yet() {
        // Only the test harness's threads: none is named like a node thread, so zero.
        assert_eq!(node_threads_cpu(), Some(Duration::ZERO));
    }
}
