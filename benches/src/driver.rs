//! Runs workers — one per pipeline slot of each connection — until a deadline or an operation
//! budget, with a progress bar, and gathers their figures.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::stats::RunStats;

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Start operations until this much time has passed (operations in flight finish).
    Duration(Duration),
    /// Start exactly this many operations in all.
    Ops(u64),
}

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutcome {
    /// It succeeded; the latency is what the workload measures (such as the hold alone).
    Ok {
        /// Measured latency.
        latency: Duration,
    },
    /// It failed with this error code (the protocol's name, or a baseline's).
    Err(String),
    /// There is nothing left to do for this worker (`hot` ran out of shows).
    Exhausted,
}

/// One pipeline slot of one connection: does one operation at a time.
pub trait Worker: Send + 'static {
    /// Performs one operation.
    fn op(&mut self) -> impl Future<Output = OpOutcome> + Send;
}

/// Runs `workers` concurrently until `limit`; returns the merged figures and the workers (which
/// may hold what they saw, such as acknowledged sales).
pub async fn drive<W: Worker>(
    workers: Vec<W>,
    limit: Limit,
    label: &str,
    progress: bool,
) -> Result<(RunStats, Vec<W>)> {
    let started = Instant::now();
    let done_ops = Arc::new(AtomicU64::new(0));
    let tickets = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let bar = progress_bar(limit, label, progress);
    let ticker = {
        let (bar, done_ops, stop) = (bar.clone(), done_ops.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while !stop.load(Ordering::Acquire) {
                tick.tick().await;
                let done = done_ops.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                match limit {
                    Limit::Duration(_) => bar.set_position(started.elapsed().as_millis() as u64),
                    Limit::Ops(_) => bar.set_position(done),
                }
                bar.set_message(format!("{done} ops, {:.0} ops/s", done as f64 / secs));
            }
        })
    };
    let deadline = match limit {
        Limit::Duration(d) => Some(started + d),
        Limit::Ops(_) => None,
    };
    let handles: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            let (done_ops, tickets) = (done_ops.clone(), tickets.clone());
            tokio::spawn(async move {
                let mut stats = RunStats::default();
                let mut last_end = Instant::now();
                loop {
                    if let Some(deadline) = deadline {
                        if Instant::now() >= deadline {
                            break;
                        }
                    }
                    if let Limit::Ops(budget) = limit {
                        if tickets.fetch_add(1, Ordering::Relaxed) >= budget {
                            break;
                        }
                    }
                    match worker.op().await {
                        OpOutcome::Ok { latency } => stats.success(latency),
                        OpOutcome::Err(code) => stats.error(&code),
                        OpOutcome::Exhausted => break,
                    }
                    last_end = Instant::now();
                    done_ops.fetch_add(1, Ordering::Relaxed);
                }
                (stats, worker, last_end)
            })
        })
        .collect();
    let mut total = RunStats::default();
    let mut workers = Vec::with_capacity(handles.len());
    let mut last_end = started;
    for handle in handles {
        let (stats, worker, end) = handle.await.context("a load worker panicked")?;
        total.merge(&stats);
        workers.push(worker);
        last_end = last_end.max(end);
    }
    stop.store(true, Ordering::Release);
    let _ = ticker.await;
    bar.finish_and_clear();
    total.elapsed = last_end.saturating_duration_since(started);
    Ok((total, workers))
}

fn progress_bar(limit: Limit, label: &str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let length = match limit {
        Limit::Duration(d) => d.as_millis() as u64,
        Limit::Ops(n) => n,
    };
    let bar = ProgressBar::new(length);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>24} [{bar:30}] {elapsed_precise} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_string());
    bar
}
