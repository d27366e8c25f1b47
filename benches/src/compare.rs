//! `compare`: the same workload shapes, connection counts, seat choices and duration against
//! CineBook, Redis holds (`hold`) and MySQL row locks (`sale`, `hot`), in one command.
//!
//! CineBook is a node the tool starts in-process over a fresh database (the default), or one at
//! `--addr`. Each baseline prepares its own tables in its own database. Runs alternate
//! CineBook and its peer for each workload and connection count, so slow drift on a shared
//! machine hits both sides alike.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use cinebook_client::Client;

use crate::catalog::{self, ShowInfo};
use crate::cinebook::{self, admin_config, RunOptions};
use crate::cost::{CpuSource, Meter, RowsSource};
use crate::driver::Limit;
use crate::inprocess::InProcessNode;
use crate::stats::{compare_table, RatioRecord, Report, RunRecord, RunStats};
use crate::verify::{self, AckedSale};
use crate::workload::Workload;
use crate::{mysql_baseline, redis_baseline};

/// The database the row-lock baseline uses.
pub const ROWLOCK_DATABASE: &str = "cinebook_load_rowlock";

/// What `compare` runs.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// An existing CineBook node (`None`: start one in-process).
    pub addrs: Option<Vec<String>>,
    /// Its token (admin to prepare; box-office or admin to verify).
    pub token: Option<String>,
    /// Its database, read by `--verify` (the in-process node's is known).
    pub database: Option<String>,
    /// The MySQL server for the baseline and the in-process node (a URL; its path is ignored).
    pub mysql_url: String,
    /// The Redis server.
    pub redis_url: String,
    /// Connection counts.
    pub connections: Vec<usize>,
    /// Length of each run.
    pub duration: Duration,
    /// Workloads (`hold`, `sale`, `hot`).
    pub workloads: Vec<Workload>,
    /// Shows for `hold` and `sale`.
    pub shows: usize,
    /// Further shows for `hot`, which sells them out one after the other (each run starts on
    /// shows nobody has touched yet).
    pub hot_shows: usize,
    /// Seats per show.
    pub seats: u32,
    /// Seats per hold or sale.
    pub seats_per_op: u32,
    /// Seed of the seat choices.
    pub seed: u64,
    /// Where to write the JSON.
    pub json: Option<PathBuf>,
    /// Verify CineBook's sales afterwards.
    pub verify: bool,
    /// Progress bars.
    pub progress: bool,
    /// Operations in flight per connection, CineBook and Redis (a MySQL connection runs one
    /// transaction at a time, so the row-lock baseline always runs 1).
    pub pipeline: usize,
    /// The process of a node at `--addr`, whose CPU time is read (`None`: not measured; the
    /// in-process node is always measured).
    pub node_pid: Option<u32>,
}

/// The peer a workload is compared with.
pub fn peer(workload: Workload) -> Option<&'static str> {
    match workload {
        Workload::Hold => Some("redis"),
        Workload::Sale | Workload::Hot => Some("mysql-rowlock"),
        Workload::Browse | Workload::Fanout => None,
    }
}

/// Runs the comparison; prints progress lines to stderr and returns the report (the caller
/// prints the table). Fails on the first setup error; a run's own errors are counted, not fatal.
pub async fn compare(options: &CompareOptions) -> Result<(Report, Option<verify::VerifyReport>)> {
    for w in &options.workloads {
        if peer(*w).is_none() {
            anyhow::bail!(
                "compare runs hold, sale and hot; {} has no baseline",
                w.name()
            );
        }
    }
    let mut node = None;
    let (addrs, token, database) = match &options.addrs {
        Some(addrs) => (
            addrs.clone(),
            options.token.clone(),
            options.database.clone(),
        ),
        None => {
            eprintln!("compare: starting an in-process CineBook node over a fresh database");
            let started = InProcessNode::start(&options.mysql_url).await?;
            let info = (
                vec![started.addr.to_string()],
                Some(started.token.clone()),
                Some(started.database_url.clone()),
            );
            node = Some(started);
            info
        }
    };
    let node_cpu = match (&node, options.node_pid) {
        (Some(_), _) => CpuSource::NodeThreads,
        (None, Some(pid)) => CpuSource::Process(pid),
        (None, None) => CpuSource::None,
    };
    let result = compare_with(options, &addrs, token, database.as_deref(), node_cpu).await;
    if let Some(mut node) = node {
        node.stop().await;
    }
    result
}

async fn compare_with(
    options: &CompareOptions,
    addrs: &[String],
    token: Option<String>,
    database: Option<&str>,
    node_cpu: CpuSource,
) -> Result<(Report, Option<verify::VerifyReport>)> {
    let admin = Client::connect(addrs.to_vec(), admin_config(token.clone()))
        .await
        .context("connecting to CineBook")?;
    let started = std::time::Instant::now();
    let total_shows = options.shows + options.hot_shows;
    match catalog::prepare(&admin, total_shows, options.seats).await {
        Ok(p) => eprintln!(
            "compare: catalog ready ({} shows written, {} reused) in {:.1} s",
            p.shows_written,
            p.shows_reused,
            started.elapsed().as_secs_f64()
        ),
        Err(e) => eprintln!("compare: could not prepare the catalog ({e:#}); using what is there"),
    }
    let all = catalog::find(&admin, total_shows).await?;
    let hot_pool: Vec<ShowInfo> = all[options.shows..].to_vec();
    let shows = Arc::new(all[..options.shows].to_vec());
    let needs_mysql = options
        .workloads
        .iter()
        .any(|w| matches!(w, Workload::Sale | Workload::Hot));
    let rowlock_url = if needs_mysql {
        let started = std::time::Instant::now();
        let url = mysql_baseline::prepare(&options.mysql_url, ROWLOCK_DATABASE, &all).await?;
        eprintln!(
            "compare: row-lock baseline ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Some(url)
    } else {
        None
    };
    let limit = Limit::Duration(options.duration);
    let mysql_pid = crate::cost::mysql_server_pid();
    let mut report = Report::default();
    let mut acked: Vec<AckedSale> = Vec::new();
    for workload in &options.workloads {
        for connections in &options.connections {
            let connections = *connections;
            // Both systems of one run draw the same choices; each run draws its own, because
            // CineBook's seats stay sold between runs while the baseline is reset.
            let seed = run_seed(options.seed, *workload, connections);
            // `hot` sells show after show: give CineBook only shows nobody has touched yet, as
            // the baseline (reset before each run) has.
            let cb_shows = if *workload == Workload::Hot {
                let fresh: Vec<ShowInfo> = catalog::find(&admin, total_shows)
                    .await?
                    .into_iter()
                    .skip(options.shows)
                    .filter(|s| s.free == s.seats)
                    .collect();
                if fresh.is_empty() {
                    anyhow::bail!(
                        "every hot show has been sold from: raise --hot-shows or start afresh"
                    );
                }
                Arc::new(fresh)
            } else {
                shows.clone()
            };
            let peer_shows = if *workload == Workload::Hot {
                Arc::new(hot_pool.clone())
            } else {
                shows.clone()
            };
            let selling = matches!(workload, Workload::Sale | Workload::Hot);
            let db_pid = if selling { mysql_pid } else { None };
            let cb_meter = Meter {
                cpu: node_cpu.clone(),
                db_pid,
                rows: match database {
                    Some(url) if selling => RowsSource::Tables(url.to_owned()),
                    _ => RowsSource::None,
                },
            };
            let pipeline = options.pipeline.max(1);
            let before = cb_meter.read(false).await;
            let run = cinebook::run(
                &RunOptions {
                    addrs: addrs.to_vec(),
                    token: token.clone(),
                    connections,
                    pipeline,
                    workload: *workload,
                    seats_per_op: options.seats_per_op,
                    seed,
                    limit,
                    progress: options.progress,
                    email: None,
                },
                cb_shows,
            )
            .await?;
            let after = cb_meter.read(true).await;
            acked.extend(run.acked);
            let mut cb = RunRecord::new("cinebook", workload.name(), connections, &run.stats);
            cb.pipeline = pipeline;
            Meter::fill(&before, &after, &mut cb);
            eprintln!("{}", line(&cb));
            let peer_name = peer(*workload).unwrap_or("none");
            let peer_meter = match (*workload, &rowlock_url) {
                (Workload::Hold, _) => Meter {
                    cpu: CpuSource::Redis(options.redis_url.clone()),
                    db_pid: None,
                    rows: RowsSource::None,
                },
                (_, url) => Meter {
                    cpu: mysql_pid.map_or(CpuSource::None, CpuSource::Process),
                    db_pid,
                    rows: url.clone().map_or(RowsSource::None, RowsSource::RowLock),
                },
            };
            let before = peer_meter.read(false).await;
            let peer_stats: RunStats = match (*workload, &rowlock_url) {
                (Workload::Hold, _) => {
                    redis_baseline::run(
                        &options.redis_url,
                        *workload,
                        shows.clone(),
                        connections,
                        pipeline,
                        options.seats_per_op,
                        seed,
                        limit,
                        options.progress,
                    )
                    .await?
                }
                (_, Some(url)) => {
                    mysql_baseline::run(
                        url,
                        *workload,
                        peer_shows.clone(),
                        connections,
                        options.seats_per_op,
                        seed,
                        limit,
                        options.progress,
                    )
                    .await?
                }
                (_, None) => RunStats::default(),
            };
            let after = peer_meter.read(true).await;
            let mut pr = RunRecord::new(peer_name, workload.name(), connections, &peer_stats);
            pr.pipeline = if *workload == Workload::Hold {
                pipeline
            } else {
                1
            };
            Meter::fill(&before, &after, &mut pr);
            eprintln!("{}", line(&pr));
            let ratio = if pr.ops_per_s > 0.0 {
                crate::stats::round3(cb.ops_per_s / pr.ops_per_s)
            } else {
                0.0
            };
            report.ratios.push(RatioRecord {
                workload: workload.name().into(),
                connections,
                vs: peer_name.into(),
                ratio,
            });
            report.runs.push(cb);
            report.runs.push(pr);
        }
    }
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    let verified = if options.verify {
        let ids: Vec<u64> = all.iter().map(|s| s.id).collect();
        Some(verify::verify(&admin, &ids, &acked, database).await?)
    } else {
        None
    };
    Ok((report, verified))
}

/// The seed of one (workload, connections) run, derived from the command's seed.
pub fn run_seed(seed: u64, workload: Workload, connections: usize) -> u64 {
    let mix = (workload as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F)
        ^ (connections as u64).wrapping_mul(0xE703_7ED1_A0B4_28DB);
    seed.rotate_left(17) ^ mix
}

fn line(r: &RunRecord) -> String {
    format!(
        "  {:<14} {:<5} ×{:<3} {:>9.1} ops/s  p50 {:.3} ms  p99 {:.3} ms  cpu {:?} µs/op  db {:?} µs/op  rows {:?}/op  errors {:?}",
        r.system,
        r.workload,
        r.connections,
        r.ops_per_s,
        r.p50_ms,
        r.p99_ms,
        r.cpu_us_per_op,
        r.db_cpu_us_per_op,
        r.rows_per_op,
        r.errors
    )
}

/// The printed table.
pub fn table(report: &Report) -> String {
    compare_table(report)
}
