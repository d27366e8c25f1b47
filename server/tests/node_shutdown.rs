//! Node tests over real TCP and real MariaDB: graceful shutdown, in process and of the real
//! `cinebook-server` binary on SIGTERM.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use cinebook_protocol::types::{PaymentMethod, Role};
use cinebook_protocol::{Push, Reply, Request};
use cinebook_server::store::mysql::{MysqlLimits, MysqlStore};
use cinebook_server::testing::{sample_catalog, seed_catalog, TestDatabase};
use cinebook_server::Config;
use mysql_async::prelude::Queryable;
use support::{
    booked, held, prepare_database, test_config, test_limits, TestClient, TestNode, SHOW,
};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_clients_finishes_in_flight_confirms_and_returns() {
    const SALES: usize = 8;
    // Generous store and grace limits: the confirms below wait on a table lock on purpose, and
    // must not time out on a busy machine before the test lets them through.
    let (db, tokens) = prepare_database().await;
    let store = std::sync::Arc::new(
        MysqlStore::connect(
            &db.url,
            MysqlLimits {
                operation_timeout: Duration::from_secs(20),
                ..test_limits()
            },
        )
        .await
        .expect("store"),
    );
    let config = Config {
        store_timeout_ms: 20_000,
        shutdown_grace_ms: 20_000,
        ..test_config()
    };
    let node = TestNode::start_on(db, tokens, config, store).await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let mut holds = Vec::new();
    for _ in 0..SALES {
        holds.push(held(office.hold_best(SHOW, 2, None).await));
    }
    // Hold the bookings table so the confirms wait inside the writer's transaction.
    let mut lock = node.mysql().await;
    lock.query_drop("LOCK TABLES bookings WRITE")
        .await
        .expect("lock");
    let mut confirms = Vec::new();
    for (i, hold) in holds.iter().enumerate() {
        confirms.push(
            office
                .send(Request::Confirm {
                    hold_id: hold.hold_id,
                    payment: cinebook_protocol::types::Payment {
                        method: PaymentMethod::Cash,
                        amount: hold.total.clone(),
                        reference: None,
                    },
                    idempotency_key: format!("in-flight-{i}"),
                })
                .await,
        );
    }
    // Requests are dispatched in order: once the ping is answered, every confirm is in flight.
    let ping = office.send(Request::Ping { nonce: 9 }).await;
    assert!(matches!(
        office.wait(ping).await,
        Ok(Reply::Pong { nonce: 9, .. })
    ));
    let mut idle = TestClient::connect(node.addr(), None).await;
    let TestNode { db, server, .. } = node;
    let stopping = Instant::now();
    let stop = tokio::spawn(server.stop());
    // Both connections are told.
    for client in [&mut office, &mut idle] {
        match client.next_push().await {
            Push::ShuttingDown { .. } => {}
            other => panic!("expected ShuttingDown, got {other:?}"),
        }
    }
    // Now let the writer commit: every in-flight confirm completes.
    lock.query_drop("UNLOCK TABLES").await.expect("unlock");
    for (id, hold) in confirms.into_iter().zip(&holds) {
        let booking = booked(office.wait(id).await);
        let seats: Vec<u32> = booking.seats.iter().map(|s| s.seat_id).collect();
        assert_eq!(seats, hold.seats);
    }
    office.expect_closed(Duration::from_secs(5)).await;
    idle.expect_closed(Duration::from_secs(5)).await;
    tokio::time::timeout(Duration::from_secs(5), stop)
        .await
        .expect("stop() returns within a few seconds")
        .expect("stop");
    assert!(stopping.elapsed() < Duration::from_secs(5));
    let sold: Option<u64> = lock
        .query_first("SELECT COUNT(*) FROM bookings")
        .await
        .expect("count");
    assert_eq!(sold, Some(SALES as u64));
    drop(lock);
    db.drop_database().await;
}

/// Kills the child on drop, so a failing test leaves no server behind.
struct Child(tokio::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_binary_exits_zero_on_sigterm() {
    let db = TestDatabase::create().await;
    let seed = db.store().await;
    seed_catalog(&seed, &sample_catalog()).await;
    drop(seed);
    let log_path = std::env::temp_dir().join(format!("{}.log", db.name()));
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = Child(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_cinebook-server"))
            .args(["--database", &db.url, "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start cinebook-server"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            if let Some((_, rest)) = line.split_once("listening on ") {
                return rest.split_whitespace().next().map(str::to_owned);
            }
        }
        None
    })
    .await
    .expect("the server says where it listens within 30 s")
    .unwrap_or_else(|| {
        panic!(
            "the server exited before listening:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        )
    });
    let addr = addr.parse().expect("listen address");
    // A subscribed client (never idle-closed) and a connection still in its preface.
    let mut client = TestClient::connect(addr, None).await;
    assert!(matches!(
        client.call(Request::Subscribe { show_id: SHOW }).await,
        Ok(Reply::Subscribed { .. })
    ));
    let _half_open = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let pid = child.0.id().expect("pid");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let signalled = Instant::now();
    match client.next_push().await {
        Push::ShuttingDown { .. } => {}
        other => panic!("expected ShuttingDown, got {other:?}"),
    }
    let exit = tokio::time::timeout(Duration::from_secs(10), child.0.wait())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "cinebook-server still running 10 s after SIGTERM; its log:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )
        })
        .expect("wait");
    assert!(
        exit.success(),
        "exit status {exit:?}; log:\n{}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "exited {:?} after SIGTERM",
        signalled.elapsed()
    );
    let _ = std::fs::remove_file(&log_path);
    db.drop_database().await;
}
