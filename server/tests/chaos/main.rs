//! `chaos`: three `cinebook-server` processes on a database of their own, kiosks holding,
//! confirming (with keys, retrying unknown outcomes), releasing and refunding, while a seeded
//! nemesis kills, pauses and restarts nodes, partitions them and stalls or cuts MySQL (through a
//! TCP fault proxy: the shared MariaDB is never touched). Then an independent checker reads the
//! database and every node's seat map and checks the history. The output ends with one line,
//! `chaos: ok acked=N lost=0 ...` or `chaos: FAILED ...`.
//!
//! `cargo test -p cinebook-server --test chaos -- --seed 19 --duration 60 [--inject lost]`
//! (no flags: the CI run, seed 19 for 45 s of faults). See docs/RELIABILITY.md.

mod checker;
mod cluster;
mod handover;
mod history;
mod inject;
mod nemesis;
mod private_mysql;
mod workload;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cinebook_protocol::types::Role;
use cinebook_server::node::auth;
use cinebook_server::store::Store;
use cinebook_server::testing::{
    sample_catalog, seed_catalog, MysqlProxy, TestDatabase, SAMPLE_SHOW_ID,
};
use mysql_async::prelude::Queryable;

use checker::{check, percentile, DbBooking, DbState, NodeMap, Report};
use history::History;
use inject::{inject, self_test, Inject};

/// The CI run's seed.
const DEFAULT_SEED: u64 = 19;
/// The CI run's length of faults and traffic, in seconds.
const DEFAULT_DURATION_S: u64 = 45;
/// Kiosks.
const KIOSKS: usize = 6;
/// Holds live this long (short, so abandoned carts expire within the run).
const HOLD_TTL_MS: u64 = 4_000;

struct Args {
    seed: u64,
    duration_s: u64,
    inject: Vec<Inject>,
    /// Run on a MariaDB of our own, which the nemesis also pauses and kills.
    private_mysql: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seed: DEFAULT_SEED,
        duration_s: DEFAULT_DURATION_S,
        inject: Vec::new(),
        private_mysql: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seed" => {
                args.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--duration" => {
                let text = value("--duration")?;
                args.duration_s = text
                    .trim_end_matches('s')
                    .parse()
                    .map_err(|e| format!("--duration {text}: {e} (seconds)"))?;
            }
            "--inject" => {
                for name in value("--inject")?.split(',') {
                    args.inject.push(Inject::parse(name).ok_or_else(|| {
                        format!("--inject {name}: one of lost, double, ghost, diverged, holds")
                    })?);
                }
            }
            "--private-mysql" => args.private_mysql = true,
            // What cargo and libtest pass by habit (`--nocapture`, `-q`, a filter) is ignored.
            _ => {}
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("chaos: {e}");
            std::process::exit(2);
        }
    };
    // Before any thread starts: the test database is created on the private server.
    let private = if args.private_mysql {
        let dir = std::env::temp_dir().join(format!("cinebook-chaos-mysql-{}", std::process::id()));
        match private_mysql::PrivateMysql::start(&dir) {
            Ok(server) => {
                std::env::set_var(cinebook_server::testing::TEST_MYSQL_URL_ENV, server.url());
                println!(
                    "chaos: private MariaDB at {} (data in {})",
                    server.url(),
                    dir.display()
                );
                Some(server)
            }
            Err(e) => {
                eprintln!("chaos: --private-mysql: {e}");
                std::process::exit(2);
            }
        }
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let ok = runtime.block_on(run(args, private));
    std::process::exit(if ok { 0 } else { 1 });
}

/// The run; true when its outcome is the expected one (ok, or FAILED when injecting).
async fn run(args: Args, private: Option<private_mysql::PrivateMysql>) -> bool {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    seed_catalog(&store, &sample_catalog()).await;
    let mut tokens = Vec::new();
    let mut terminals = Vec::new();
    for i in 0..=KIOSKS {
        let token = auth::new_token();
        let id = store
            .add_terminal(
                &format!("chaos-{i}"),
                Role::BoxOffice,
                &auth::token_sha256(&token),
            )
            .await
            .expect("terminal");
        tokens.push(token);
        terminals.push(id);
    }
    let mysql = MysqlProxy::start(&db).await;
    let url = mysql.url(&db);
    let mut cluster = cluster::Cluster::start(mysql, url, HOLD_TTL_MS).await;
    cluster.private_mysql = private;
    println!(
        "chaos: seed {} duration {} s, node logs in {}",
        args.seed,
        args.duration_s,
        cluster.log_dir().display()
    );
    let first = cluster.settle(Duration::from_secs(20)).await;
    assert!(first.is_some(), "no leader within 20 s of starting");

    let history = Arc::new(parking_lot::Mutex::new(History {
        terminals: terminals.clone(),
        ..History::default()
    }));
    let start_wall_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    let ctx = workload::Ctx {
        addrs: cluster.addrs(),
        show_id: SAMPLE_SHOW_ID,
        history: history.clone(),
        start: Instant::now(),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let mut tasks = Vec::new();
    for (i, token) in tokens.iter().take(KIOSKS).enumerate() {
        let seed = args.seed.wrapping_mul(1_000).wrapping_add(i as u64);
        tasks.push(tokio::spawn(workload::kiosk(
            ctx.clone(),
            i,
            token.clone(),
            seed,
        )));
    }
    tasks.push(tokio::spawn(workload::probe(
        ctx.clone(),
        tokens[KIOSKS].clone(),
    )));
    nemesis::run(&mut cluster, &ctx, args.seed, args.duration_s * 1_000).await;

    // Quiescence: heal everything, let the kiosks finish what they started.
    cluster.heal_all();
    let leader = cluster.settle(Duration::from_secs(20)).await;
    ctx.stop.store(true, Ordering::Release);
    history.lock().stopped_ms = u64::try_from(ctx.start.elapsed().as_millis()).ok();
    for task in tasks {
        let give_up = Duration::from_millis(workload::KIOSK_GIVE_UP_MS + 5_000);
        let _ = tokio::time::timeout(give_up, task).await;
    }
    // Every hold's TTL passes (and the sweeper runs), then the maps must equal the store.
    tokio::time::sleep(Duration::from_millis(HOLD_TTL_MS + 1_000)).await;
    let history = history.lock().clone();
    let (db_state, nodes) = collect(&cluster, &db).await;
    if let Some(injection) = args.inject.first() {
        println!("chaos: injecting {}", injection.name());
    }
    let (db_state, nodes, history) = if args.inject.is_empty() {
        (db_state, nodes, history)
    } else {
        let mut state = (db_state, nodes, history);
        for injection in &args.inject {
            state = inject(*injection, state, &db).await;
        }
        state
    };
    let mut report = check(&history, &db_state, &nodes);
    if leader.is_none() {
        report
            .violations
            .push("no single leader 20 s after every fault was healed".into());
    }
    print_report(&report, leader);
    print_handovers(&handover::handovers(
        cluster.log_dir(),
        start_wall_ms,
        &history.sales_ok,
        history.stopped_ms.unwrap_or(u64::MAX),
    ));
    let self_test = if args.inject.is_empty() {
        self_test(&history, &db_state, &nodes)
    } else {
        true
    };
    println!("{}", report.line());
    let private = cluster.private_mysql.take();
    drop(cluster);
    db.drop_database().await;
    drop(private);
    let expected = if args.inject.is_empty() {
        report.ok()
    } else {
        !report.ok()
    };
    expected && self_test
}

/// Reads the store and every node's seat map; waits (bounded) for the maps to converge.
async fn collect(cluster: &cluster::Cluster, db: &TestDatabase) -> (DbState, Vec<NodeMap>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = read_db(db).await;
        let mut nodes = Vec::new();
        for id in cluster::NODES {
            nodes.push((id, cluster.seat_map(id, SAMPLE_SHOW_ID).await));
        }
        let probe = check(&History::default(), &state, &nodes);
        if probe.diverged == 0 || Instant::now() > deadline {
            return (state, nodes);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn read_db(db: &TestDatabase) -> DbState {
    let mut conn = mysql_async::Conn::from_url(db.url.as_str())
        .await
        .expect("mysql");
    let rows: Vec<(String, String, u64, String)> = conn
        .exec(
            "SELECT code, status, terminal_id, idempotency_key FROM bookings WHERE show_id = ?",
            (SAMPLE_SHOW_ID,),
        )
        .await
        .expect("bookings");
    let mut state: DbState = rows
        .into_iter()
        .map(|(code, status, terminal_id, key)| {
            let booking = DbBooking {
                status,
                terminal_id,
                key,
                live_seats: Vec::new(),
                released_seats: Vec::new(),
            };
            (code, booking)
        })
        .collect();
    let live: Vec<(String, u32)> = conn
        .exec(
            "SELECT code, seat_id FROM booking_seats WHERE show_id = ?",
            (SAMPLE_SHOW_ID,),
        )
        .await
        .expect("booking_seats");
    for (code, seat) in live {
        state
            .entry(code)
            .or_insert_with(orphan)
            .live_seats
            .push(seat);
    }
    let released: Vec<(String, u32)> = conn
        .exec(
            "SELECT code, seat_id FROM booking_seats_history WHERE show_id = ?",
            (SAMPLE_SHOW_ID,),
        )
        .await
        .expect("booking_seats_history");
    for (code, seat) in released {
        state
            .entry(code)
            .or_insert_with(orphan)
            .released_seats
            .push(seat);
    }
    let _ = conn.disconnect().await;
    state
}

/// Seats whose booking row is missing (cannot happen with the foreign key; reported as a ghost).
fn orphan() -> DbBooking {
    DbBooking {
        status: "missing".into(),
        terminal_id: 0,
        key: String::new(),
        live_seats: Vec::new(),
        released_seats: Vec::new(),
    }
}

fn print_handovers(handovers: &[handover::Handover]) {
    for h in handovers {
        println!(
            "chaos: hand-over to node {}: {} ms from stop to lead, no sale for {} ms",
            h.to, h.handover_ms, h.no_sale_ms
        );
    }
    let gaps: Vec<u64> = handovers.iter().map(|h| h.no_sale_ms).collect();
    let stops: Vec<u64> = handovers.iter().map(|h| h.handover_ms).collect();
    println!(
        "chaos: {} hand-overs: stop to lead p50={:?} max={:?} ms; no-sale gap p50={:?} max={:?} ms",
        handovers.len(),
        percentile(&stops, 50),
        stops.iter().max(),
        percentile(&gaps, 50),
        gaps.iter().max()
    );
}

fn print_report(report: &Report, leader: Option<u32>) {
    println!(
        "chaos: {} holds acknowledged, {} sales acknowledged, final leader {:?}",
        report.holds, report.acked, leader
    );
    // (lasted, no sale, no hold) per fault, by (double, kind).
    type Figures = Vec<(u64, u64, u64)>;
    let mut by_kind: BTreeMap<(bool, &str), Figures> = BTreeMap::new();
    for f in &report.faults {
        by_kind
            .entry((f.double, f.kind.as_str()))
            .or_default()
            .push((f.lasted_ms, f.unavailable_ms, f.no_hold_ms));
    }
    for ((_, kind), figures) in &by_kind {
        println!("chaos: fault {kind:<24} (lasted, no sale, no hold) ms {figures:?}");
    }
    let leader_fault = |f: &&checker::FaultFigure| f.double || f.kind.ends_with("leader");
    let figures = |double: bool, pick: fn(&checker::FaultFigure) -> u64| -> Vec<u64> {
        report
            .faults
            .iter()
            .filter(leader_fault)
            .filter(|f| f.double == double)
            .map(pick)
            .collect()
    };
    for (what, pick) in [
        (
            "no sale",
            (|f| f.unavailable_ms) as fn(&checker::FaultFigure) -> u64,
        ),
        ("no hold", |f| f.no_hold_ms),
        (
            "no sale, measured as before (window to heal + 3 s, uncapped)",
            |f| f.unavailable_wide_ms,
        ),
    ] {
        let (single, double) = (figures(false, pick), figures(true, pick));
        println!(
            "chaos: failover ({what}) single leader fault p50={:?} p99={:?} ms; double fault \
             p50={:?} p99={:?} ms",
            percentile(&single, 50),
            percentile(&single, 99),
            percentile(&double, 50),
            percentile(&double, 99)
        );
    }
    for v in &report.violations {
        println!("chaos: violation: {v}");
    }
}
