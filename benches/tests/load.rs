//! Tests of the load generator itself, against a real node over MySQL/MariaDB
//! (`CINEBOOK_TEST_MYSQL_URL`, default `mysql://root@127.0.0.1:3306`; a missing MySQL fails the
//! tests loudly, it never skips them):
//! - `--verify` catches a seeded lost sale and a seeded double sale (MySQL rows made to disagree
//!   on purpose after an honest run);
//! - a short `cinebook-load run --ops` through the binary verifies ok.

use std::sync::Arc;
use std::time::Duration;

use cinebook_bench::catalog;
use cinebook_bench::cinebook::{self, admin_config, RunOptions};
use cinebook_bench::driver::Limit;
use cinebook_bench::verify::{self, AckedSale, VerifyReport};
use cinebook_bench::workload::Workload;
use cinebook_client::types::Role;
use cinebook_client::Client;
use cinebook_server::node::auth;
use cinebook_server::store::Store;
use cinebook_server::testing::TestDatabase;
use cinebook_server::{Config, RunningServer, Server};
use mysql_async::prelude::Queryable;

/// Every test finishes within this, or fails.
const TEST_TIMEOUT: Duration = Duration::from_secs(180);

struct Node {
    db: TestDatabase,
    server: RunningServer,
    token: String,
}

impl Node {
    async fn start() -> Node {
        let db = TestDatabase::create().await;
        let store = db.store().await;
        let token = auth::new_token();
        store
            .add_terminal("load-test admin", Role::Admin, &auth::token_sha256(&token))
            .await
            .expect("an admin terminal");
        let config = Config {
            listen: "127.0.0.1:0".parse().expect("an address"),
            ..Config::default()
        };
        let server = Server::bind(config, Arc::new(store))
            .await
            .expect("the node starts")
            .spawn();
        Node { db, server, token }
    }

    fn addr(&self) -> String {
        self.server.addr.to_string()
    }

    async fn client(&self) -> Client {
        Client::connect([self.addr()], admin_config(Some(self.token.clone())))
            .await
            .expect("an admin connection")
    }

    async fn mysql(&self) -> mysql_async::Conn {
        let opts = mysql_async::Opts::from_url(&self.db.url).expect("the test database URL");
        mysql_async::Conn::new(opts)
            .await
            .expect("a MySQL connection")
    }

    async fn stop(self) {
        self.server.stop().await;
        self.db.drop_database().await;
    }
}

/// Prepares 4 shows of 40 seats and sells through the load generator; checks that the honest
/// run verifies ok and returns the shows and the acknowledged sales.
async fn honest_sales(node: &Node, client: &Client) -> (Vec<u64>, Vec<AckedSale>) {
    catalog::prepare(client, 4, 40).await.expect("prepare");
    let shows = Arc::new(catalog::find(client, 4).await.expect("the catalog"));
    let run = cinebook::run(
        &RunOptions {
            addrs: vec![node.addr()],
            token: Some(node.token.clone()),
            connections: 4,
            pipeline: 2,
            workload: Workload::Sale,
            seats_per_op: 2,
            seed: 7,
            limit: Limit::Ops(40),
            progress: false,
            email: None,
        },
        shows.clone(),
    )
    .await
    .expect("the run");
    assert!(
        run.acked.len() >= 10,
        "too few sales went through: {:?}",
        run.stats.errors
    );
    let ids: Vec<u64> = shows.iter().map(|s| s.id).collect();
    let report = verify::verify(client, &ids, &run.acked, Some(&node.db.url))
        .await
        .expect("verify");
    assert!(report.is_ok(), "honest run: {:?}", report.details());
    assert_eq!(
        report.summary(),
        format!(
            "verify: ok acked={} stored={} double=0 lost=0",
            run.acked.len(),
            run.acked.len()
        )
    );
    (ids, run.acked)
}

fn failed(report: &VerifyReport) -> String {
    format!("{}\n{}", report.summary(), report.details().join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_catches_a_lost_sale() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let node = Node::start().await;
        let client = node.client().await;
        let (shows, acked) = honest_sales(&node, &client).await;
        // The database loses an acknowledged sale (the server still has it in memory).
        let lost = acked[0].clone();
        let mut conn = node.mysql().await;
        for table in ["booking_seats", "payments", "audit_events", "bookings"] {
            conn.exec_drop(
                format!("DELETE FROM {table} WHERE code = ?"),
                (lost.code.as_str(),),
            )
            .await
            .expect("seeding the lost sale");
        }
        let report = verify::verify(&client, &shows, &acked, Some(&node.db.url))
            .await
            .expect("verify");
        let text = failed(&report);
        assert!(!report.is_ok(), "{text}");
        assert_eq!(report.lost.len(), 1, "{text}");
        assert_eq!(report.lost[0].code, lost.code, "{text}");
        assert!(report.doubles.is_empty(), "{text}");
        assert!(text.contains("lost=1"), "{text}");
        assert!(text.contains(&lost.code), "{text}");
        let seat = lost.seats[0].to_string();
        assert!(
            text.contains(&format!("[{seat} (")),
            "the seats are named: {text}"
        );
        // Without the database, the server's view alone still has the sale.
        let server_only = verify::verify(&client, &shows, &acked, None)
            .await
            .expect("verify");
        assert!(server_only.is_ok(), "{}", failed(&server_only));
        let _ = conn.disconnect().await;
        drop(client);
        node.stop().await;
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_catches_a_double_sale() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let node = Node::start().await;
        let client = node.client().await;
        let (shows, acked) = honest_sales(&node, &client).await;
        // A second booking takes a seat of an acknowledged sale: the first booking's seat row is
        // moved to the history (as a cancel would, but the booking stays confirmed), and the
        // intruder's row takes the seat in booking_seats — the primary key is satisfied, two
        // live bookings claim the seat.
        let victim = acked[0].clone();
        let seat = victim.seats[0];
        let mut conn = node.mysql().await;
        conn.exec_drop(
            "INSERT INTO booking_seats_history \
             (code, seat_id, show_id, position, label, category, price_minor, released_at_ms) \
             SELECT code, seat_id, show_id, position, label, category, price_minor, 0 \
             FROM booking_seats WHERE code = ? AND seat_id = ?",
            (victim.code.as_str(), seat),
        )
        .await
        .expect("moving the seat to the history");
        conn.exec_drop(
            "DELETE FROM booking_seats WHERE code = ? AND seat_id = ?",
            (victim.code.as_str(), seat),
        )
        .await
        .expect("freeing the seat row");
        conn.exec_drop(
            "INSERT INTO bookings (code, show_id, terminal_id, status, total_minor, currency, \
             sold_at_ms, lamport, node_id, idempotency_key) \
             VALUES ('DOUBLE-1', ?, 1, 'confirmed', 1200, 'EUR', 1, 1, 1, 'double-1')",
            (victim.show_id,),
        )
        .await
        .expect("the intruding booking");
        conn.exec_drop(
            "INSERT INTO booking_seats (show_id, seat_id, code, position, label, category, \
             price_minor) VALUES (?, ?, 'DOUBLE-1', 0, 'X', 'standard', 1200)",
            (victim.show_id, seat),
        )
        .await
        .expect("the intruder's seat");
        let report = verify::verify(&client, &shows, &acked, Some(&node.db.url))
            .await
            .expect("verify");
        let text = failed(&report);
        assert!(!report.is_ok(), "{text}");
        assert_eq!(report.doubles.len(), 1, "{text}");
        let double = &report.doubles[0];
        assert_eq!(
            (double.show_id, double.seat_id),
            (victim.show_id, seat),
            "{text}"
        );
        assert!(double.owners.contains(&victim.code), "{text}");
        assert!(double.owners.contains("DOUBLE-1"), "{text}");
        assert!(double.sources.contains("mysql"), "{text}");
        assert!(double.sources.contains("server vs mysql"), "{text}");
        assert!(text.contains("double=1"), "{text}");
        // The victim's booking_seats rows no longer match its acknowledged seats either.
        assert_eq!(report.lost.len(), 1, "{text}");
        let _ = conn.disconnect().await;
        drop(client);
        node.stop().await;
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_through_the_binary_verifies_ok() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let node = Node::start().await;
        let bin = env!("CARGO_BIN_EXE_cinebook-load");
        let run = |args: Vec<String>| {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(bin)
                    .args(&args)
                    .output()
                    .expect("cinebook-load runs")
            })
        };
        let target = vec![
            "--addr".to_string(),
            node.addr(),
            "--token".to_string(),
            node.token.clone(),
        ];
        let mut prepare: Vec<String> = vec!["prepare".into()];
        prepare.extend(target.clone());
        prepare.extend(["--shows", "10", "--seats", "60"].map(String::from));
        let out = run(prepare.clone()).await.expect("prepare");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "prepare: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("10 written"), "{stdout}");
        // A second prepare reuses the catalog.
        let out = run(prepare).await.expect("prepare again");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(stdout.contains("0 written, 10 reused"), "{stdout}");
        let mut args: Vec<String> = vec!["run".into()];
        args.extend(target);
        args.extend(
            [
                "--workload",
                "sale",
                "--ops",
                "150",
                "--connections",
                "4",
                "--shows",
                "10",
                "--verify",
                "--database",
            ]
            .map(String::from),
        );
        args.push(node.db.url.clone());
        let out = run(args).await.expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "run: {stdout}{stderr}");
        assert!(stdout.contains("ops/s"), "the table is printed: {stdout}");
        let line = stdout
            .lines()
            .find(|l| l.starts_with("verify: "))
            .unwrap_or_default();
        assert!(line.starts_with("verify: ok acked="), "{stdout}");
        assert!(line.ends_with(" double=0 lost=0"), "{stdout}");
        let acked: u64 = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("acked="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            acked > 50,
            "most of 150 sales on 600 seats go through: {stdout}"
        );
        node.stop().await;
    })
    .await
    .expect("the test finishes in time");
}
