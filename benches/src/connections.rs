//! `cinebook-load connections --count 10000`: the hold rate through `--active` connections while
//! `--count` connections in all are open at once, against the rate through the same
//! `--active` connections alone (measured first, in the same run); and `cinebook-load rss`,
//! the node's resident memory read from `/proc`.
//!
//! Each connection is a terminal's (the token's): guests are capped by the node's
//! `guest_connections_max`. The node needs `--max-connections` and
//! `--connections-per-address-max` above `--count` (every connection comes from 127.0.0.1) and
//! an open-file limit above `--count` plus its database pool (`ulimit -n`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cinebook_client::Client;

use crate::catalog::ShowInfo;
use crate::cinebook::{self, connect_many, RunOptions};
use crate::driver::Limit;
use crate::stats::RunStats;
use crate::workload::Workload;

/// Most connections one `connections` run opens (`count_max`).
pub const CONNECTIONS_COUNT_MAX: usize = 100_000;

/// Open files the load tool keeps besides its connections (stdio, runtime, DNS).
pub const SPARE_FILES: u64 = 256;

/// Options of a `connections` run.
#[derive(Debug, Clone)]
pub struct ConnectionsOptions {
    /// Node addresses.
    pub addrs: Vec<String>,
    /// Terminal token (kiosk or higher: the active connections hold seats).
    pub token: Option<String>,
    /// Connections open at once, the active ones included.
    pub count: usize,
    /// Connections that hold seats.
    pub active: usize,
    /// How long each of the two measurements runs.
    pub duration: Duration,
    /// Seats per hold.
    pub seats_per_op: u32,
    /// Seed of the seat choices.
    pub seed: u64,
}

/// What a `connections` run measured.
#[derive(Debug)]
pub struct ConnectionsReport {
    /// The holds through `active` connections alone.
    pub alone: RunStats,
    /// The holds through the same number of connections with `count` open.
    pub crowded: RunStats,
    /// Connections open during the second measurement (the active ones included).
    pub open: usize,
    /// Idle connections that still answered a ping after the second measurement.
    pub idle_alive: usize,
    /// The soft open-file limit after raising it.
    pub nofile_soft: u64,
}

impl ConnectionsReport {
    /// Crowded holds/s ÷ alone holds/s.
    pub fn ratio(&self) -> f64 {
        let alone = self.alone.ops_per_s();
        if alone > 0.0 {
            self.crowded.ops_per_s() / alone
        } else {
            0.0
        }
    }

    /// The report as text lines.
    pub fn table(&self, active: usize) -> String {
        format!(
            "connections: {open} open (soft RLIMIT_NOFILE {nofile}), {alive} idle ones answered a \
             ping after the run\n\
             holds through {active} connections alone:        {a:>10.0}/s  p99 {ap:.2} ms  errors {ae}\n\
             holds through {active} connections, {open} open: {c:>10.0}/s  p99 {cp:.2} ms  errors {ce}\n\
             ratio crowded ÷ alone: {r:.2}×\n",
            open = self.open,
            nofile = self.nofile_soft,
            alive = self.idle_alive,
            a = self.alone.ops_per_s(),
            ap = self.alone.percentile_ms(0.99),
            ae = self.alone.error_count(),
            c = self.crowded.ops_per_s(),
            cp = self.crowded.percentile_ms(0.99),
            ce = self.crowded.error_count(),
            r = self.ratio(),
        )
    }
}

/// Raises this process's soft `RLIMIT_NOFILE` to at least `wanted` (up to the hard limit) and
/// returns the soft limit now. Fails, saying what to do, when the hard limit is too low.
pub fn raise_nofile(wanted: u64) -> Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")?;
    if soft >= wanted {
        return Ok(soft);
    }
    if hard < wanted {
        bail!(
            "{wanted} open files needed, the hard limit is {hard}: raise it (`ulimit -Hn`, \
             LimitNOFILE= in systemd) or ask for fewer connections"
        );
    }
    setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).context("setrlimit(RLIMIT_NOFILE)")?;
    Ok(wanted)
}

/// Runs the two measurements.
pub async fn run(
    options: &ConnectionsOptions,
    shows: Arc<Vec<ShowInfo>>,
) -> Result<ConnectionsReport> {
    if options.active == 0 || options.active > options.count {
        bail!("--active must be in 1..=--count");
    }
    if options.count > CONNECTIONS_COUNT_MAX {
        bail!("--count is at most {CONNECTIONS_COUNT_MAX}");
    }
    let nofile_soft = raise_nofile(options.count as u64 + SPARE_FILES)?;
    let holds = |seed: u64| RunOptions {
        addrs: options.addrs.clone(),
        token: options.token.clone(),
        connections: options.active,
        pipeline: 1,
        workload: Workload::Hold,
        seats_per_op: options.seats_per_op,
        seed,
        limit: Limit::Duration(options.duration),
        progress: false,
        email: None,
    };
    let alone = cinebook::run(&holds(options.seed), shows.clone())
        .await?
        .stats;
    let idle_count = options.count - options.active;
    let idle = connect_many(&options.addrs, options.token.as_deref(), idle_count, "idle")
        .await
        .with_context(|| {
            format!(
                "opening {idle_count} idle connections: the node needs --max-connections and \
                 --connections-per-address-max above {} and `ulimit -n` above that",
                options.count
            )
        })?;
    let crowded = cinebook::run(&holds(options.seed + 1), shows).await?.stats;
    let idle_alive = alive(&idle).await;
    Ok(ConnectionsReport {
        alone,
        crowded,
        open: idle.len() + options.active,
        idle_alive,
        nofile_soft,
    })
}

/// Idle connections that answer a ping within a second.
async fn alive(idle: &[Client]) -> usize {
    use futures::stream::{self, StreamExt};
    stream::iter(idle)
        .map(|client| async move {
            tokio::time::timeout(Duration::from_secs(1), client.ping())
                .await
                .is_ok_and(|r| r.is_ok())
        })
        .buffer_unordered(256)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await
}

/// A process's resident memory from `/proc/PID/status`: `(VmRSS, VmHWM)` in bytes.
pub fn rss_bytes(pid: u32) -> Result<(u64, u64)> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{path} has no {name}"))?;
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{path}: unreadable {name}"))?;
        Ok(kib * 1024)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}
