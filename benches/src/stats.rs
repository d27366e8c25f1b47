//! Latencies (hdrhistogram, microseconds), errors by code, the printed tables and the JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency recorded exactly, in microseconds (larger values are clamped to it).
pub const LATENCY_MAX_US: u64 = 120_000_000;

/// A new latency histogram: 1 µs to [`LATENCY_MAX_US`], 3 significant figures.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)
        .expect("constant histogram bounds are valid (1 <= low, high >= 2 * low, 3 figures)")
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct RunStats {
    /// Successful operations.
    pub ops: u64,
    /// Wall time from the first operation's start to the last one's end.
    pub elapsed: Duration,
    /// Latency of successful operations, microseconds.
    pub latency_us: Histogram<u64>,
    /// Failed operations by error code name.
    pub errors: BTreeMap<String, u64>,
}

impl Default for RunStats {
    fn default() -> Self {
        Self {
            ops: 0,
            elapsed: Duration::ZERO,
            latency_us: new_histogram(),
            errors: BTreeMap::new(),
        }
    }
}

impl RunStats {
    /// Records one success.
    pub fn success(&mut self, latency: Duration) {
        self.ops += 1;
        self.record_latency(latency);
    }

    /// Records a latency without counting an operation (fanout: one sale, many pushes).
    pub fn record_latency(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(LATENCY_MAX_US)
            .clamp(1, LATENCY_MAX_US);
        self.latency_us.saturating_record(us);
    }

    /// Records one failure.
    pub fn error(&mut self, code: &str) {
        *self.errors.entry(code.to_string()).or_default() += 1;
    }

    /// Adds another worker's figures (elapsed is set by the driver).
    pub fn merge(&mut self, other: &RunStats) {
        self.ops += other.ops;
        // Same bounds on both sides; a failure would only mean a lost worker's latencies.
        let _ = self.latency_us.add(&other.latency_us);
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
    }

    /// Successful operations per second.
    pub fn ops_per_s(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ops as f64 / secs
        } else {
            0.0
        }
    }

    /// A latency percentile in milliseconds (0 when nothing was recorded).
    pub fn percentile_ms(&self, q: f64) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    /// The largest latency in milliseconds.
    pub fn max_ms(&self) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.max() as f64 / 1000.0
    }

    /// Errors in all.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// One run as the JSON reports it (the field names are the issue's).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRecord {
    /// `cinebook`, `redis` or `mysql-rowlock`.
    pub system: String,
    /// The workload's name.
    pub workload: String,
    /// Connections used.
    pub connections: usize,
    /// Successful operations.
    pub ops: u64,
    /// Seconds measured.
    pub duration_s: f64,
    /// Successful operations per second.
    pub ops_per_s: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Failed operations by error code.
    pub errors: BTreeMap<String, u64>,
    /// Operations in flight per connection.
    pub pipeline: usize,
    /// CPU time of the system itself per successful operation, µs (the in-process node's
    /// threads, Redis's `INFO cpu`, the MySQL server process); `null` when not measured.
    pub cpu_us_per_op: Option<f64>,
    /// CPU time of the MySQL server process per successful operation, µs (sale and hot; the
    /// server is shared with anything else that uses it, so an upper bound).
    pub db_cpu_us_per_op: Option<f64>,
    /// Database rows written per successful operation (sale and hot).
    pub rows_per_op: Option<f64>,
}

impl RunRecord {
    /// The record of `stats`.
    pub fn new(system: &str, workload: &str, connections: usize, stats: &RunStats) -> Self {
        Self {
            system: system.into(),
            workload: workload.into(),
            connections,
            ops: stats.ops,
            duration_s: round3(stats.elapsed.as_secs_f64()),
            ops_per_s: round3(stats.ops_per_s()),
            p50_ms: round3(stats.percentile_ms(0.50)),
            p99_ms: round3(stats.percentile_ms(0.99)),
            errors: stats.errors.clone(),
            pipeline: 1,
            cpu_us_per_op: None,
            db_cpu_us_per_op: None,
            rows_per_op: None,
        }
    }
}

/// CineBook's ops/s over a peer's, for one workload and connection count.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RatioRecord {
    /// The workload's name.
    pub workload: String,
    /// Connections used.
    pub connections: usize,
    /// The peer: `redis` or `mysql-rowlock`.
    pub vs: String,
    /// CineBook's ops/s divided by the peer's.
    pub ratio: f64,
}

/// The JSON document `run --json` and `compare --json` write.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Report {
    /// Every run.
    pub runs: Vec<RunRecord>,
    /// Every ratio (empty for `run`).
    pub ratios: Vec<RatioRecord>,
}

/// Rounds to three decimals for readable JSON.
pub fn round3(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

/// The table `run` prints.
pub fn run_table(system: &str, workload: &str, connections: usize, stats: &RunStats) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{system} {workload}: {connections} connections, {} ops in {:.2} s",
        stats.ops,
        stats.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "{:>12} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "ops/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    let _ = writeln!(
        out,
        "{:>12.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
        stats.ops_per_s(),
        stats.percentile_ms(0.50),
        stats.percentile_ms(0.90),
        stats.percentile_ms(0.99),
        stats.percentile_ms(0.999),
        stats.max_ms()
    );
    if stats.errors.is_empty() {
        let _ = writeln!(out, "errors: none");
    } else {
        let list: Vec<String> = stats
            .errors
            .iter()
            .map(|(code, n)| format!("{code}={n}"))
            .collect();
        let _ = writeln!(out, "errors: {}", list.join(" "));
    }
    out
}

/// The table `compare` prints: ratios first, then every run.
pub fn compare_table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ratios (CineBook ops/s ÷ peer ops/s):");
    let _ = writeln!(
        out,
        "{:<8} {:>5} {:<14} {:>8}",
        "workload", "conns", "vs", "ratio"
    );
    for r in &report.ratios {
        let _ = writeln!(
            out,
            "{:<8} {:>5} {:<14} {:>7.2}×",
            r.workload, r.connections, r.vs, r.ratio
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<14} {:<8} {:>5} {:>9} {:>10} {:>8} {:>8} {:>9} {:>9} {:>7}  errors",
        "system",
        "workload",
        "conns",
        "ops",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "cpu µs/op",
        "db µs/op",
        "rows/op"
    );
    for r in &report.runs {
        let errors: Vec<String> = r.errors.iter().map(|(c, n)| format!("{c}={n}")).collect();
        let _ = writeln!(
            out,
            "{:<14} {:<8} {:>5} {:>9} {:>10.1} {:>8.3} {:>8.3} {:>9} {:>9} {:>7}  {}",
            r.system,
            r.workload,
            r.connections,
            r.ops,
            r.ops_per_s,
            r.p50_ms,
            r.p99_ms,
            figure(r.cpu_us_per_op, 1),
            figure(r.db_cpu_us_per_op, 1),
            figure(r.rows_per_op, 2),
            if errors.is_empty() {
                "-".to_string()
            } else {
                errors.join(" ")
            }
        );
    }
    out
}

/// A measured figure with `decimals`, or `-` when not measured.
fn figure(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rates() {
        let mut a = RunStats::default();
        for ms in 1..=100u64 {
            a.success(Duration::from_millis(ms));
        }
        let mut b = RunStats::default();
        b.error("SoldOut");
        b.error("SoldOut");
        a.merge(&b);
        a.elapsed = Duration::from_secs(2);
        assert_eq!(a.ops, 100);
        assert!((a.ops_per_s() - 50.0).abs() < 1e-9);
        assert!((a.percentile_ms(0.5) - 50.0).abs() < 0.1);
        assert!((a.max_ms() - 100.0).abs() < 0.1);
        assert_eq!(a.errors.get("SoldOut"), Some(&2));
        let record = RunRecord::new("cinebook", "hold", 16, &a);
        let json = serde_json::to_value(&record).expect("json");
        for key in [
            "system",
            "workload",
            "connections",
            "ops",
            "duration_s",
            "ops_per_s",
            "p50_ms",
            "p99_ms",
            "errors",
            "pipeline",
            "cpu_us_per_op",
            "db_cpu_us_per_op",
            "rows_per_op",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json.as_object().map(|o| o.len()), Some(13));
    }
}
