//! `cinebook-load`: prepare a test catalog, run a workload (and verify that no seat was sold
//! twice), or compare CineBook with Redis holds and MySQL row locks. See docs/BENCHMARKS.md.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cinebook_bench::catalog;
use cinebook_bench::cinebook::{self, admin_config, FanoutOptions, RunOptions};
use cinebook_bench::compare::{self, CompareOptions};
use cinebook_bench::driver::Limit;
use cinebook_bench::stats::{run_table, Report, RunRecord};
use cinebook_bench::verify;
use cinebook_bench::workload::Workload;
use cinebook_client::Client;
use clap::{Args, Parser, Subcommand};

/// Exit code when `--verify` found a violation.
const EXIT_VERIFY_FAILED: u8 = 2;

/// The CineBook load generator.
#[derive(Debug, Parser)]
#[command(name = "cinebook-load", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create (or complete) the load-test catalog through admin requests.
    Prepare(PrepareArgs),
    /// Run one workload against a node and print operations/s, latencies and errors.
    Run(RunArgs),
    /// Run the same workloads against CineBook, Redis holds and MySQL row locks.
    Compare(CompareArgs),
    /// Hold through a few connections while many are open at once (vs. the few alone).
    Connections(ConnectionsArgs),
    /// Print a process's resident memory (the node's: `--pid $(pgrep -n cinebook-server)`).
    Rss(RssArgs),
}

#[derive(Debug, Args)]
struct ConnectionsArgs {
    #[command(flatten)]
    target: Target,
    /// Connections open at once (the active ones included).
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Connections that hold seats, measured alone first, then with `--count` open.
    #[arg(long, default_value_t = 64)]
    active: usize,
    /// How long each measurement runs, e.g. 5s.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    duration: Duration,
    /// Shows to spread the holds over (the first N of the prepared catalog).
    #[arg(long, default_value_t = 2000)]
    shows: usize,
    /// Seats per hold.
    #[arg(long, default_value_t = 2)]
    seats_per_op: u32,
    /// Seed of the seat choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Args)]
struct RssArgs {
    /// The process.
    #[arg(long)]
    pid: u32,
}

async fn connections(args: ConnectionsArgs) -> Result<ExitCode> {
    use cinebook_bench::connections::{self, ConnectionsOptions};
    let client = connect(&args.target).await?;
    let shows = Arc::new(catalog::find(&client, args.shows).await?);
    let options = ConnectionsOptions {
        addrs: args.target.addr.clone(),
        token: args.target.token.clone(),
        count: args.count,
        active: args.active,
        duration: args.duration,
        seats_per_op: args.seats_per_op,
        seed: args.seed,
    };
    let report = connections::run(&options, shows).await?;
    print!("{}", report.table(args.active));
    Ok(ExitCode::SUCCESS)
}

fn rss(args: RssArgs) -> Result<ExitCode> {
    let (rss, hwm) = cinebook_bench::connections::rss_bytes(args.pid)?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "pid {}: rss {:.1} MiB ({rss} bytes), peak {:.1} MiB",
        args.pid,
        mib(rss),
        mib(hwm)
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
struct Target {
    /// Node addresses, comma-separated (HOST:PORT,...).
    #[arg(long, value_delimiter = ',', required = true)]
    addr: Vec<String>,
    /// Terminal token (`cinebook-server terminal add`).
    #[arg(long, env = "CINEBOOK_TOKEN")]
    token: Option<String>,
}

#[derive(Debug, Args)]
struct PrepareArgs {
    #[command(flatten)]
    target: Target,
    /// Shows to create.
    #[arg(long, default_value_t = 2000)]
    shows: usize,
    /// Seats per show (rows of 20).
    #[arg(long, default_value_t = 300)]
    seats: u32,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    target: Target,
    /// Connections (fanout: subscriber connections).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// How long to start operations, e.g. 10s, 500ms, 2m (default 10s).
    #[arg(long, value_parser = parse_duration, conflicts_with = "ops")]
    duration: Option<Duration>,
    /// Operations to start in all, instead of a duration (fanout: sales).
    #[arg(long)]
    ops: Option<u64>,
    /// What each operation does.
    #[arg(long, value_enum, default_value = "sale")]
    workload: Workload,
    /// Shows to spread the load over (the first N of the prepared catalog).
    #[arg(long, default_value_t = 2000)]
    shows: usize,
    /// Seats per hold or sale.
    #[arg(long, default_value_t = 2)]
    seats_per_op: u32,
    /// Operations in flight per connection.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Seed of the seat choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// After the run, check that no seat was sold twice and no acknowledged sale was lost.
    #[arg(long)]
    verify: bool,
    /// The node's MySQL URL: `--verify` also reads the bookings straight from it.
    #[arg(long, env = "CINEBOOK_DATABASE")]
    database: Option<String>,
    /// Every sale gives this customer e-mail, so the node writes and delivers a notification
    /// for it (sale throughput with notifications on; without it, off).
    #[arg(long, value_name = "ADDR")]
    email: Option<String>,
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// An existing node (default: start one in-process over a fresh database).
    #[arg(long, value_delimiter = ',')]
    addr: Option<Vec<String>>,
    /// Its admin token.
    #[arg(long, env = "CINEBOOK_TOKEN")]
    token: Option<String>,
    /// Its MySQL URL, read by --verify.
    #[arg(long)]
    database: Option<String>,
    /// MySQL server for the row-lock baseline (and the in-process node).
    #[arg(long, default_value = "mysql://root@127.0.0.1:3306")]
    mysql: String,
    /// Redis server for the hold baseline.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// Connection counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    connections: Vec<usize>,
    /// Length of each run.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    duration: Duration,
    /// Workloads, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "hold,sale,hot"
    )]
    workloads: Vec<Workload>,
    /// Shows for hold and sale.
    #[arg(long, default_value_t = 2000)]
    shows: usize,
    /// Further shows that hot sells out one after the other.
    #[arg(long, default_value_t = 500)]
    hot_shows: usize,
    /// Seats per show.
    #[arg(long, default_value_t = 300)]
    seats: u32,
    /// Seats per hold or sale.
    #[arg(long, default_value_t = 2)]
    seats_per_op: u32,
    /// Seed of the seat choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the runs and ratios as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Afterwards, verify CineBook's sales.
    #[arg(long)]
    verify: bool,
    /// Operations in flight per connection (CineBook and Redis; the row-lock baseline runs 1).
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// The process id of the node at --addr, to report its CPU time per operation (the
    /// in-process node is always measured).
    #[arg(long)]
    node_pid: Option<u32>,
}

/// Parses `10s`, `500ms`, `2m` or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 10s, 500ms or 2m"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        _ => return Err(format!("unknown unit {unit:?}: use ms, s or m")),
    };
    if !(seconds.is_finite() && seconds > 0.0 && seconds < 86_400.0) {
        return Err(format!("{text:?}: a duration between 1 ms and a day"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn progress_visible() -> bool {
    std::io::stderr().is_terminal()
}

async fn connect(target: &Target) -> Result<Client> {
    Client::connect(target.addr.clone(), admin_config(target.token.clone()))
        .await
        .with_context(|| format!("connecting to {}", target.addr.join(",")))
}

async fn prepare(args: PrepareArgs) -> Result<ExitCode> {
    let client = connect(&args.target).await?;
    let started = std::time::Instant::now();
    let done = catalog::prepare(&client, args.shows, args.seats).await?;
    println!(
        "prepared: {} shows of {} seats ({} written, {} reused{}) in {:.1} s",
        args.shows,
        args.seats,
        done.shows_written,
        done.shows_reused,
        if done.catalog_written {
            ", catalog written"
        } else {
            ""
        },
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let limit = match (args.ops, args.duration) {
        (Some(n), _) => Limit::Ops(n),
        (None, Some(d)) => Limit::Duration(d),
        (None, None) => Limit::Duration(Duration::from_secs(10)),
    };
    if args.pipeline == 0 {
        bail!("--pipeline must be at least 1");
    }
    let client = connect(&args.target).await?;
    let wanted = if args.workload == Workload::Fanout {
        1
    } else {
        args.shows
    };
    let shows = Arc::new(catalog::find(&client, wanted).await?);
    let result = if args.workload == Workload::Fanout {
        let show = *shows.first().context("no show for fanout")?;
        cinebook::fanout(&FanoutOptions {
            addrs: args.target.addr.clone(),
            token: args.target.token.clone(),
            subscribers: args.connections,
            show,
            seats_per_op: args.seats_per_op,
            limit,
            progress: progress_visible(),
        })
        .await?
    } else {
        cinebook::run(
            &RunOptions {
                addrs: args.target.addr.clone(),
                token: args.target.token.clone(),
                connections: args.connections,
                pipeline: args.pipeline,
                workload: args.workload,
                seats_per_op: args.seats_per_op,
                seed: args.seed,
                limit,
                progress: progress_visible(),
                email: args.email.clone(),
            },
            shows.clone(),
        )
        .await?
    };
    let label = if args.workload == Workload::Fanout {
        "fanout (latency: sale acknowledged → push at each subscriber)"
    } else {
        args.workload.name()
    };
    print!(
        "{}",
        run_table("cinebook", label, args.connections, &result.stats)
    );
    if let Some(path) = &args.json {
        let report = Report {
            runs: vec![RunRecord::new(
                "cinebook",
                args.workload.name(),
                args.connections,
                &result.stats,
            )],
            ratios: Vec::new(),
        };
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.verify {
        let ids: Vec<u64> = shows.iter().map(|s| s.id).collect();
        let report = verify::verify(&client, &ids, &result.acked, args.database.as_deref()).await?;
        println!("{}", report.summary());
        if !report.is_ok() {
            for line in report.details() {
                println!("{line}");
            }
            return Ok(ExitCode::from(EXIT_VERIFY_FAILED));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn compare(args: CompareArgs) -> Result<ExitCode> {
    if args.pipeline == 0 {
        bail!("--pipeline must be at least 1");
    }
    let options = CompareOptions {
        addrs: args.addr,
        token: args.token,
        database: args.database,
        mysql_url: args.mysql,
        redis_url: args.redis,
        connections: args.connections,
        duration: args.duration,
        workloads: args.workloads,
        shows: args.shows,
        hot_shows: args.hot_shows,
        seats: args.seats,
        seats_per_op: args.seats_per_op,
        seed: args.seed,
        json: args.json,
        verify: args.verify,
        progress: progress_visible(),
        pipeline: args.pipeline,
        node_pid: args.node_pid,
    };
    let (report, verified) = compare::compare(&options).await?;
    print!("{}", compare::table(&report));
    if let Some(verified) = verified {
        println!("{}", verified.summary());
        if !verified.is_ok() {
            for line in verified.details() {
                println!("{line}");
            }
            return Ok(ExitCode::from(EXIT_VERIFY_FAILED));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Prepare(args) => prepare(args).await,
        Command::Run(args) => run(args).await,
        Command::Compare(args) => compare(args).await,
        Command::Connections(args) => connections(args).await,
        Command::Rss(args) => rss(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cinebook-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
