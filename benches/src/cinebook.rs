//! The CineBook side: connections through `cinebook_client::Client` (one TCP connection per
//! client, pipeline slots share it by cloning), the workers of each workload, and `fanout`.
//!
//! The clients are configured with `attempts_max: 1`, so that an `Overloaded` or `Unavailable`
//! answer is counted as the error it is instead of being retried out of sight.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cinebook_client::types::{
    ChangeCause, Money, Payment, PaymentMethod, SeatId, SeatSelection, ShowId,
};
use cinebook_client::{Client, ClientConfig, SeatUpdate};
use futures::stream::{self, StreamExt, TryStreamExt};
use rand::rngs::StdRng;
use tokio::sync::watch;

use crate::catalog::ShowInfo;
use crate::driver::{self, Limit, OpOutcome, Worker};
use crate::stats::RunStats;
use crate::verify::AckedSale;
use crate::workload::{worker_rng, HotCursor, SeatPicker, Workload};

/// Connections opened at once while setting up.
pub const CONNECT_IN_FLIGHT: usize = 64;
/// Longest wait for one call during a load run.
pub const CALL_TIMEOUT_MS: u64 = 30_000;

/// The client configuration of a load connection.
pub fn load_config(token: Option<String>, name: &str) -> ClientConfig {
    ClientConfig {
        client_name: name.to_string(),
        token,
        call_timeout_ms: CALL_TIMEOUT_MS,
        attempts_max: 1,
        ..ClientConfig::default()
    }
}

/// The client configuration for setup, verification and admin requests: the client's default
/// retries of `Unavailable`/`Overloaded` (a catalog upsert can hit a MySQL deadlock on the server
/// and answer `Unavailable`; it succeeds when retried).
pub fn admin_config(token: Option<String>) -> ClientConfig {
    ClientConfig {
        client_name: "cinebook-load/admin".into(),
        token,
        call_timeout_ms: CALL_TIMEOUT_MS,
        ..ClientConfig::default()
    }
}

/// Opens `n` connections (each its own `Client`).
pub async fn connect_many(
    addrs: &[String],
    token: Option<&str>,
    n: usize,
    name: &str,
) -> Result<Vec<Client>> {
    stream::iter(0..n)
        .map(|i| {
            let config = load_config(token.map(str::to_string), &format!("{name}/{i}"));
            let addrs = addrs.to_vec();
            async move {
                Client::connect(addrs, config)
                    .await
                    .with_context(|| format!("opening load connection {i}"))
            }
        })
        .buffered(CONNECT_IN_FLIGHT)
        .try_collect()
        .await
}

/// A CineBook load worker: one pipeline slot of one connection.
#[derive(Debug)]
pub struct CinebookWorker {
    client: Client,
    rng: StdRng,
    workload: Workload,
    picker: Arc<SeatPicker>,
    hot: Arc<HotCursor>,
    worker: usize,
    ops: u64,
    /// The contact every sale carries (`--email`): empty sells without notifications.
    pub contact: cinebook_client::types::Contact,
    /// Sales acknowledged to this worker.
    pub acked: Vec<AckedSale>,
}

/// Workers for `clients.len()` connections × `pipeline` slots.
pub fn workers(
    clients: &[Client],
    pipeline: usize,
    workload: Workload,
    picker: Arc<SeatPicker>,
    seed: u64,
) -> Vec<CinebookWorker> {
    let hot = Arc::new(HotCursor::default());
    let mut out = Vec::with_capacity(clients.len() * pipeline);
    for (c, client) in clients.iter().enumerate() {
        for slot in 0..pipeline.max(1) {
            let worker = c * pipeline.max(1) + slot;
            out.push(CinebookWorker {
                client: client.clone(),
                rng: worker_rng(seed, worker),
                workload,
                picker: picker.clone(),
                hot: hot.clone(),
                worker,
                ops: 0,
                contact: Default::default(),
                acked: Vec::new(),
            });
        }
    }
    out
}

fn card(total: Money) -> Payment {
    Payment {
        method: PaymentMethod::Card,
        amount: total,
        reference: Some("cinebook-load".into()),
    }
}

impl CinebookWorker {
    async fn hold_release(&mut self) -> OpOutcome {
        let (show, seats) = self.picker.pick(&mut self.rng);
        let started = Instant::now();
        let hold = match self.client.hold(show, SeatSelection::Ids(seats)).await {
            Ok(hold) => hold,
            Err(e) => return OpOutcome::Err(e.name().into()),
        };
        let latency = started.elapsed();
        match self.client.release(hold.hold_id).await {
            Ok(()) => OpOutcome::Ok { latency },
            Err(e) => OpOutcome::Err(format!("release:{}", e.name())),
        }
    }

    async fn sell(
        &mut self,
        show: ShowId,
        selection: SeatSelection,
        started: Instant,
    ) -> OpOutcome {
        let hold = match self.client.hold(show, selection).await {
            Ok(hold) => hold,
            Err(e) => return OpOutcome::Err(e.name().into()),
        };
        self.ops += 1;
        let key = format!("load-{}-{}-{}", self.worker, self.ops, hold.hold_id);
        match self
            .client
            .confirm_with_contact(
                hold.hold_id,
                card(hold.total.clone()),
                &key,
                self.contact.clone(),
            )
            .await
        {
            Ok(booking) => {
                let latency = started.elapsed();
                let booked: Vec<SeatId> = booking.seats.iter().map(|s| s.seat_id).collect();
                self.acked.push(AckedSale {
                    show_id: show,
                    code: booking.code,
                    seats: hold.seats.clone(),
                });
                if booked != hold.seats {
                    return OpOutcome::Err("AckedOtherSeats".into());
                }
                OpOutcome::Ok { latency }
            }
            Err(e) => {
                // Give the seats back rather than leave them held for the hold's lifetime.
                let _ = self.client.release(hold.hold_id).await;
                OpOutcome::Err(format!("confirm:{}", e.name()))
            }
        }
    }

    async fn sale(&mut self) -> OpOutcome {
        let (show, seats) = self.picker.pick(&mut self.rng);
        self.sell(show, SeatSelection::Ids(seats), Instant::now())
            .await
    }

    async fn hot(&mut self) -> OpOutcome {
        let index = self.hot.current();
        let Some(show) = self.picker.shows().get(index).map(|s| s.id) else {
            return OpOutcome::Exhausted;
        };
        let selection = SeatSelection::Best {
            count: self.picker.seats_per_op() as u16,
            category: None,
        };
        let outcome = self.sell(show, selection, Instant::now()).await;
        // Enough seats free but none adjacent serves this size no better than sold out.
        if matches!(&outcome, OpOutcome::Err(code) if code == "SoldOut" || code == "NoAdjacentSeats")
        {
            self.hot.sold_out(index);
        }
        outcome
    }

    async fn browse(&mut self) -> OpOutcome {
        let show = self.picker.show(&mut self.rng);
        let started = Instant::now();
        match self.client.seat_map(show).await {
            Ok(_) => OpOutcome::Ok {
                latency: started.elapsed(),
            },
            Err(e) => OpOutcome::Err(e.name().into()),
        }
    }
}

impl Worker for CinebookWorker {
    async fn op(&mut self) -> OpOutcome {
        match self.workload {
            Workload::Hold => self.hold_release().await,
            Workload::Sale => self.sale().await,
            Workload::Hot => self.hot().await,
            Workload::Browse => self.browse().await,
            // Fanout has its own runner; a worker asked for it has nothing to do.
            Workload::Fanout => OpOutcome::Exhausted,
        }
    }
}

/// What a CineBook run produced.
#[derive(Debug)]
pub struct CinebookRun {
    /// The figures.
    pub stats: RunStats,
    /// Every sale acknowledged during the run.
    pub acked: Vec<AckedSale>,
}

/// Options of a CineBook run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Node addresses.
    pub addrs: Vec<String>,
    /// Terminal token (kiosk or higher for writes).
    pub token: Option<String>,
    /// Connections.
    pub connections: usize,
    /// Operations in flight per connection.
    pub pipeline: usize,
    /// Workload.
    pub workload: Workload,
    /// Seats per hold or sale.
    pub seats_per_op: u32,
    /// Seed of the seat choices.
    pub seed: u64,
    /// When to stop.
    pub limit: Limit,
    /// Show a progress bar.
    pub progress: bool,
    /// Every sale carries this e-mail (the node then writes and delivers a notification).
    pub email: Option<String>,
}

/// Runs hold, sale, hot or browse against `shows`.
pub async fn run(options: &RunOptions, shows: Arc<Vec<ShowInfo>>) -> Result<CinebookRun> {
    if options.workload == Workload::Fanout {
        bail!("fanout runs through cinebook::fanout");
    }
    if options.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let picker = Arc::new(SeatPicker::new(shows, options.seats_per_op)?);
    let clients = connect_many(
        &options.addrs,
        options.token.as_deref(),
        options.connections,
        "cinebook-load",
    )
    .await?;
    let mut workers = workers(
        &clients,
        options.pipeline,
        options.workload,
        picker,
        options.seed,
    );
    for worker in &mut workers {
        worker.contact.email = options.email.clone();
    }
    let label = format!(
        "cinebook {} ×{}",
        options.workload.name(),
        options.connections
    );
    let (stats, workers) = driver::drive(workers, options.limit, &label, options.progress).await?;
    let acked = workers.into_iter().flat_map(|w| w.acked).collect();
    Ok(CinebookRun { stats, acked })
}

/// Options of a fanout run.
#[derive(Debug, Clone)]
pub struct FanoutOptions {
    /// Node addresses.
    pub addrs: Vec<String>,
    /// The seller's token.
    pub token: Option<String>,
    /// Subscriber connections (guests).
    pub subscribers: usize,
    /// The show everybody watches.
    pub show: ShowInfo,
    /// Seats per sale.
    pub seats_per_op: u32,
    /// When the seller stops.
    pub limit: Limit,
    /// Show a progress bar.
    pub progress: bool,
}

/// How long pushes may still arrive after the seller stopped.
pub const FANOUT_DRAIN: Duration = Duration::from_secs(3);

/// A subscriber's record: for each `Sold` push, its first seat and when it arrived.
type Arrivals = Vec<(SeatId, Instant)>;

/// `fanout`: `subscribers` connections subscribe to one show while one terminal sells on it;
/// the latency recorded is from the seller's acknowledgement to each subscriber's push (zero when
/// the push came first). When the show sells out, the seller cancels its bookings and goes on.
/// `stats.ops` counts sales; `stats.errors` counts pushes that never came (`PushMissing`) and
/// resynchronisations (`Resync`).
pub async fn fanout(options: &FanoutOptions) -> Result<CinebookRun> {
    let show_id = options.show.id;
    let watchers = connect_many(&options.addrs, None, options.subscribers, "fanout-sub").await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(options.subscribers.max(1));
    let mut tasks = Vec::with_capacity(watchers.len());
    for client in watchers {
        let mut stop = stop_rx.clone();
        let ready = ready_tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut sub = client.subscribe(show_id);
            let mut arrivals: Arrivals = Vec::new();
            let mut resyncs = 0u64;
            let mut snapshots = 0u64;
            loop {
                let item = tokio::select! {
                    item = sub.next() => item,
                    _ = stop.changed() => break,
                };
                let now = Instant::now();
                match item {
                    None => break,
                    Some(Ok(SeatUpdate::Snapshot(_))) => {
                        snapshots += 1;
                        if snapshots == 1 {
                            let _ = ready.send(()).await;
                        } else {
                            resyncs += 1;
                        }
                    }
                    Some(Ok(SeatUpdate::Changes { cause, changes, .. })) => {
                        if cause == ChangeCause::Sold {
                            if let Some(first) = changes.iter().map(|c| c.seat_id).min() {
                                arrivals.push((first, now));
                            }
                        }
                    }
                    Some(Err(_)) => resyncs += 1,
                }
            }
            drop(client);
            (arrivals, resyncs)
        }));
    }
    drop(ready_tx);
    let setup_deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..options.subscribers {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(setup_deadline),
            ready_rx.recv(),
        )
        .await
        {
            Ok(Some(())) => {}
            Ok(None) => bail!("a fanout subscriber ended before its first seat map"),
            Err(_) => bail!("fanout subscribers did not all get their seat map within 60 s"),
        }
    }
    let seller = connect_many(&options.addrs, options.token.as_deref(), 1, "fanout-seller")
        .await?
        .pop()
        .context("no seller connection")?;
    let (stats, acks) = sell_until(&seller, options).await?;
    tokio::time::sleep(FANOUT_DRAIN.min(Duration::from_millis(200) + stats.elapsed / 10)).await;
    let _ = stop_tx.send(true);
    let mut total = stats;
    // (seat, occurrence) → acknowledgement time: a seat is sold again only after a cancel, so
    // the n-th Sold push naming it is the n-th sale of it.
    let mut ack_at: HashMap<(SeatId, u32), Instant> = HashMap::new();
    let mut counts: HashMap<SeatId, u32> = HashMap::new();
    for (seat, at) in &acks.times {
        let n = counts.entry(*seat).or_default();
        ack_at.insert((*seat, *n), *at);
        *n += 1;
    }
    for task in tasks {
        let (arrivals, resyncs) = task.await.context("a fanout subscriber panicked")?;
        let mut seen: HashMap<SeatId, u32> = HashMap::new();
        let mut matched = 0u64;
        for (seat, at) in arrivals {
            let n = seen.entry(seat).or_default();
            if let Some(ack) = ack_at.get(&(seat, *n)) {
                total.record_latency(at.saturating_duration_since(*ack));
                matched += 1;
            }
            *n += 1;
        }
        let missing = (acks.times.len() as u64).saturating_sub(matched);
        if missing > 0 {
            *total.errors.entry("PushMissing".into()).or_default() += missing;
        }
        if resyncs > 0 {
            *total.errors.entry("Resync".into()).or_default() += resyncs;
        }
    }
    Ok(CinebookRun {
        stats: total,
        acked: acks.sales,
    })
}

struct SellerLog {
    /// First seat of each sale and when it was acknowledged.
    times: Vec<(SeatId, Instant)>,
    /// Sales still standing (cancelled ones are dropped).
    sales: Vec<AckedSale>,
}

async fn sell_until(seller: &Client, options: &FanoutOptions) -> Result<(RunStats, SellerLog)> {
    let started = Instant::now();
    let mut stats = RunStats::default();
    let mut log = SellerLog {
        times: Vec::new(),
        sales: Vec::new(),
    };
    let bar = if options.progress {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_prefix("fanout seller");
    let mut round: Vec<AckedSale> = Vec::new();
    let mut attempts: u64 = 0;
    loop {
        let more = match options.limit {
            Limit::Duration(d) => started.elapsed() < d,
            Limit::Ops(n) => attempts < n,
        };
        if !more {
            break;
        }
        attempts += 1;
        let selection = SeatSelection::Best {
            count: options.seats_per_op as u16,
            category: None,
        };
        let hold = match seller.hold(options.show.id, selection).await {
            Ok(hold) => hold,
            Err(
                cinebook_client::Error::SoldOut { .. }
                | cinebook_client::Error::NoAdjacentSeats { .. },
            ) if !round.is_empty() => {
                // Free the show for the next round; the cancellations are pushes too.
                for sale in round.drain(..) {
                    seller
                        .cancel(&sale.code, false, "cinebook-load fanout: next round")
                        .await
                        .context(
                            "cancelling a fanout sale (the seller needs box-office or admin)",
                        )?;
                }
                continue;
            }
            Err(e) => {
                stats.error(e.name());
                continue;
            }
        };
        let key = format!("fanout-{}-{}", hold.hold_id, attempts);
        let sent = Instant::now();
        match seller
            .confirm(hold.hold_id, card(hold.total.clone()), &key)
            .await
        {
            Ok(booking) => {
                let acked_at = Instant::now();
                stats.success(acked_at - sent);
                if let Some(first) = hold.seats.iter().min() {
                    log.times.push((*first, acked_at));
                }
                round.push(AckedSale {
                    show_id: options.show.id,
                    code: booking.code,
                    seats: hold.seats,
                });
                bar.set_message(format!("{} sales", stats.ops));
                bar.tick();
            }
            Err(e) => {
                let _ = seller.release(hold.hold_id).await;
                stats.error(&format!("confirm:{}", e.name()));
            }
        }
    }
    bar.finish_and_clear();
    log.sales = round;
    stats.elapsed = started.elapsed();
    // The seller's own confirm latencies are not what fanout reports: keep only counts.
    let mut counts = RunStats {
        ops: stats.ops,
        elapsed: stats.elapsed,
        errors: stats.errors,
        ..RunStats::default()
    };
    counts.latency_us.reset();
    Ok((counts, log))
}
