//! The MySQL store against a real MySQL or MariaDB server (`CINEBOOK_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306`), one fresh database per test. These tests fail, never skip,
//! when the server cannot be reached.

use std::time::Duration;

use cinebook_protocol::types::PaymentMethod;
use cinebook_server::store::mysql::{MysqlLimits, MysqlStore, MIGRATIONS};
use cinebook_server::store::{SaleOutcome, SaleRecord, Store, StoreError};
use cinebook_server::testing::{
    contract, sample_catalog, sample_sale, seed_catalog, MysqlProxy, TestDatabase, SAMPLE_SHOW_ID,
};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row};

#[path = "store_mysql/outcomes.rs"]
mod outcomes;

/// A direct connection to the test database, to check what MySQL really holds.
async fn sql(db: &TestDatabase) -> Conn {
    let opts = Opts::from_url(&db.url).expect("test database URL");
    Conn::new(opts)
        .await
        .expect("direct connection to the test database")
}

async fn count(conn: &mut Conn, query: &str) -> u64 {
    let value: Option<u64> = conn.query_first(query).await.expect(query);
    value.expect("a count")
}

/// Runs one contract function against a fresh, migrated MySQL database.
macro_rules! contract_test {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let db = TestDatabase::create().await;
            let store = db.store().await;
            contract::$name(&store).await;
            store.disconnect().await.expect("disconnect");
            db.drop_database().await;
        }
    };
}

contract_test!(catalog_round_trip);
contract_test!(batch_of_fifty);
contract_test!(idempotency_keys_are_unique);
contract_test!(cancel_frees_seats);
contract_test!(seat_refunds);
contract_test!(shift_report_figures);
contract_test!(terminals);
contract_test!(sale_of_unknown_show_is_rejected);
contract_test!(overlong_values_are_rejected);
contract_test!(catalog_changes);
contract_test!(sale_conflicts_are_classified);
contract_test!(hold_ids_and_keys_round_trip);
contract_test!(outbox);
contract_test!(blocked_seats_round_trip);
contract_test!(payment_orders);
contract_test!(audit_trail_in_order);
contract_test!(admissions);

#[tokio::test]
async fn migrate_twice_is_idempotent() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    contract::migrate_is_idempotent(&store).await;
    let mut conn = sql(&db).await;
    let applied: Vec<(u32, String)> = conn
        .query("SELECT version, name FROM schema_migrations ORDER BY version")
        .await
        .expect("schema_migrations");
    let expected: Vec<(u32, String)> = MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_owned()))
        .collect();
    assert_eq!(applied, expected, "each migration recorded exactly once");
    for table in [
        "cities",
        "theaters",
        "screens",
        "seats",
        "movies",
        "shows",
        "show_prices",
        "terminals",
        "bookings",
        "booking_seats",
        "booking_seats_history",
        "payments",
        "refunds",
        "audit_events",
        "cluster_epoch",
    ] {
        let engine: Option<String> = conn
            .exec_first(
                "SELECT ENGINE FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (table,),
            )
            .await
            .expect("information_schema");
        assert_eq!(engine.as_deref(), Some("InnoDB"), "table {table}");
    }
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM cluster_epoch").await,
        1
    );
    // A second store (another node starting) migrates the same database without harm.
    let second = db.store().await;
    second.migrate().await.expect("migrate from a second pool");
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM schema_migrations").await,
        MIGRATIONS.len() as u64
    );
    drop(conn);
    store.disconnect().await.expect("disconnect");
    second.disconnect().await.expect("disconnect");
    db.drop_database().await;
}

#[tokio::test]
async fn double_sale_is_isolated_and_mysql_has_one_owner_per_seat() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let owners = contract::double_sale_is_isolated(&store).await;
    let mut conn = sql(&db).await;
    let rows: Vec<(u32, String)> = conn
        .query("SELECT seat_id, code FROM booking_seats ORDER BY seat_id")
        .await
        .expect("booking_seats");
    let expected: Vec<(u32, String)> = [
        (1, "A1"),
        (2, "A1"),
        (3, "B1"),
        (5, "D1"),
        (6, "D1"),
        (7, "F1"),
    ]
    .into_iter()
    .map(|(s, c)| (s, c.to_owned()))
    .collect();
    assert_eq!(rows, expected);
    let booked: Vec<String> = conn
        .query("SELECT code FROM bookings ORDER BY code")
        .await
        .expect("bookings");
    assert_eq!(booked, owners);
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM payments").await, 4);
    assert_eq!(
        count(
            &mut conn,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'sale'"
        )
        .await,
        4,
        "one audit row per committed sale, none for the rejected ones"
    );
    drop(conn);
    store.disconnect().await.expect("disconnect");
    db.drop_database().await;
}

#[tokio::test]
async fn cancel_moves_seats_to_history_and_audits() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    contract::cancel_frees_seats(&store).await;
    let mut conn = sql(&db).await;
    let history: Vec<(String, u32)> = conn
        .query("SELECT code, seat_id FROM booking_seats_history ORDER BY code, seat_id")
        .await
        .expect("history");
    assert_eq!(
        history,
        vec![("R1".into(), 20), ("R1".into(), 21), ("R4".into(), 30)]
    );
    let live: Vec<(String, u32)> = conn
        .query("SELECT code, seat_id FROM booking_seats ORDER BY seat_id")
        .await
        .expect("live seats");
    assert_eq!(
        live,
        vec![("R3".into(), 21), ("R3".into(), 22), ("R5".into(), 30)]
    );
    let refunds: Vec<(String, i64, u64)> = conn
        .query("SELECT code, amount_minor, terminal_id FROM refunds")
        .await
        .expect("refunds");
    assert_eq!(refunds, vec![("R1".into(), 2400, 1)]);
    let kinds: Vec<(String, String)> = conn
        .query("SELECT kind, code FROM audit_events ORDER BY show_id, lamport, node_id")
        .await
        .expect("audit");
    let kinds: Vec<(&str, &str)> = kinds
        .iter()
        .map(|(k, c)| (k.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("sale", "R1"),
            ("refund", "R1"),
            ("sale", "R3"),
            ("sale", "R4"),
            ("cancel", "R4"),
            ("sale", "R5"),
        ]
    );
    drop(conn);
    store.disconnect().await.expect("disconnect");
    db.drop_database().await;
}

#[tokio::test]
async fn batches_larger_than_one_statement_are_chunked() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    let mut catalog = sample_catalog();
    let mut second_show = catalog.shows[0].clone();
    second_show.id = SAMPLE_SHOW_ID + 1;
    catalog.shows.push(second_show);
    seed_catalog(&store, &catalog).await;
    // 800 one-seat sales: 800 rows in bookings, booking_seats, payments and audit_events,
    // more than one multi-row INSERT each.
    let sales: Vec<SaleRecord> = (0..800u32)
        .map(|i| {
            let mut sale = sample_sale(
                &format!("L{i:04}"),
                1,
                &[i % 400],
                PaymentMethod::Card,
                u64::from(i),
            );
            sale.booking.show_id = SAMPLE_SHOW_ID + u64::from(i / 400);
            sale
        })
        .collect();
    let outcomes = store.commit_sales(&sales).await;
    assert_eq!(outcomes, vec![SaleOutcome::Committed; 800]);
    let mut conn = sql(&db).await;
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM booking_seats").await,
        800
    );
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM audit_events").await,
        800
    );
    let loaded = store.load_bookings().await.expect("load");
    assert_eq!(loaded.len(), 800);
    // The same 800 again with fresh codes and keys: every one a Conflict, nothing written.
    let again: Vec<SaleRecord> = sales
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.booking.code = format!("X{}", &s.booking.code[1..]);
            s.idempotency_key = format!("again-{}", s.idempotency_key);
            s
        })
        .collect();
    let outcomes = store.commit_sales(&again).await;
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, SaleOutcome::Conflict(_))));
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM bookings").await, 800);
    drop(conn);
    store.disconnect().await.expect("disconnect");
    db.drop_database().await;
}

#[tokio::test]
async fn concurrent_batches_never_sell_a_seat_twice() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    seed_catalog(&store, &sample_catalog()).await;
    // 16 writers, each selling 50 two-seat bookings over the same 100 seats in a different
    // order: every seat ends up with exactly one owner.
    let mut tasks = Vec::new();
    for writer in 0..16u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut committed_seats = Vec::new();
            for n in 0..50u32 {
                let first = ((n * 2) + writer * 14) % 100;
                let sale = sample_sale(
                    &format!("W{writer:02}N{n:02}"),
                    u64::from(writer) + 1,
                    &[first, first + 1],
                    PaymentMethod::Cash,
                    u64::from(n),
                );
                let outcome = store.commit_sales(std::slice::from_ref(&sale)).await;
                if outcome == vec![SaleOutcome::Committed] {
                    committed_seats.extend([first, first + 1]);
                }
            }
            committed_seats
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("writer"));
    }
    all.sort_unstable();
    let expected: Vec<u32> = (0..100).collect();
    assert_eq!(
        all, expected,
        "every acknowledged seat exactly once, all sold"
    );
    let mut conn = sql(&db).await;
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM booking_seats").await,
        100
    );
    drop(conn);
    store.disconnect().await.expect("disconnect");
    db.drop_database().await;
}

#[tokio::test]
async fn the_pool_recovers_after_its_connections_are_killed() {
    let db = TestDatabase::create().await;
    let limits = MysqlLimits {
        pool_min_connections: 2,
        pool_max_connections: 4,
        ..MysqlLimits::default()
    };
    let store = db.store_with(limits).await;
    seed_catalog(&store, &sample_catalog()).await;
    let mut admin = sql(&db).await;
    for round in 0..3u32 {
        // Warm several pooled connections, then kill every one of them.
        let warm: Vec<_> = (0..4).map(|_| store.ping()).collect();
        for result in futures::future::join_all(warm).await {
            result.expect("ping before the kill");
        }
        let ids: Vec<u64> = admin
            .exec(
                "SELECT ID FROM information_schema.PROCESSLIST \
                 WHERE DB = ? AND ID <> CONNECTION_ID()",
                (db.name(),),
            )
            .await
            .expect("processlist");
        assert!(!ids.is_empty(), "the pool holds connections");
        for id in &ids {
            let _ = admin.query_drop(format!("KILL {id}")).await;
        }
        // No pause: the next call may find a pooled connection whose death has not reached
        // the client yet, which is what the store's retry on a fresh connection is for.

        let sale = sample_sale(
            &format!("K{round}"),
            1,
            &[round * 2, round * 2 + 1],
            PaymentMethod::Cash,
            u64::from(round),
        );
        let outcome = store.commit_sales(std::slice::from_ref(&sale)).await;
        assert_eq!(outcome, vec![SaleOutcome::Committed]);
        store.load_catalog().await.expect("catalog after the kill");
        let now: Vec<u64> = admin
            .exec(
                "SELECT ID FROM information_schema.PROCESSLIST \
                 WHERE DB = ? AND ID <> CONNECTION_ID()",
                (db.name(),),
            )
            .await
            .expect("processlist after");
        assert!(
            now.iter().all(|id| !ids.contains(id)),
            "round {round}: killed connections {ids:?} still listed: {now:?}"
        );
    }
    assert_eq!(store.load_bookings().await.expect("load").len(), 3);
    let rows: Vec<Row> = admin
        .query("SELECT code FROM bookings")
        .await
        .expect("bookings");
    assert_eq!(rows.len(), 3);
    drop(admin);
    store.disconnect().await.expect("disconnect");
    db.drop_database().await;
}

#[tokio::test]
async fn sales_are_unavailable_while_mysql_is_away_and_succeed_when_it_is_back() {
    let db = TestDatabase::create().await;
    db.store().await.disconnect().await.expect("migrated");
    let proxy = MysqlProxy::start(&db).await;
    let limits = MysqlLimits {
        operation_timeout: Duration::from_secs(5),
        ..MysqlLimits::default()
    };
    let store = MysqlStore::connect(&proxy.url(&db), limits)
        .await
        .expect("connect through the proxy");
    seed_catalog(&store, &sample_catalog()).await;
    let before = sample_sale("P1", 1, &[1], PaymentMethod::Cash, 1);
    assert_eq!(
        store.commit_sales(&[before]).await,
        vec![SaleOutcome::Committed]
    );

    proxy.cut();
    let during = sample_sale("P2", 1, &[2, 3], PaymentMethod::Card, 2);
    for _ in 0..3 {
        // The connection is refused before BEGIN: definitely not committed.
        let outcomes = store.commit_sales(std::slice::from_ref(&during)).await;
        assert!(
            matches!(outcomes[..], [SaleOutcome::NotCommitted(_)]),
            "during the outage: expected NotCommitted, got {outcomes:?}"
        );
    }
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.load_bookings().await,
        Err(StoreError::Unavailable(_))
    ));

    proxy.restore();
    assert_eq!(
        store.commit_sales(std::slice::from_ref(&during)).await,
        vec![SaleOutcome::Committed]
    );
    let codes: Vec<String> = store
        .load_bookings()
        .await
        .expect("load")
        .into_iter()
        .map(|b| b.booking.code)
        .collect();
    assert_eq!(codes, vec!["P1", "P2"]);
    store.disconnect().await.expect("disconnect");
    drop(proxy);
    db.drop_database().await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let limits = MysqlLimits {
        operation_timeout: Duration::from_secs(5),
        ..MysqlLimits::default()
    };
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    match MysqlStore::connect("mysql://root@127.0.0.1:1/cinebook", limits).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    match MysqlStore::connect("not a url", limits).await {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("URL"), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let bad_limits = MysqlLimits {
        pool_min_connections: 5,
        pool_max_connections: 2,
        ..limits
    };
    match MysqlStore::connect("mysql://root@127.0.0.1:3306", bad_limits).await {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("pool"), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_test_database_is_dropped_when_it_goes_out_of_scope() {
    let db = TestDatabase::create().await;
    let name = db.name().to_owned();
    let url = db.url.replace(&format!("/{name}"), "");
    drop(db);
    let mut conn = Conn::new(Opts::from_url(&url).expect("server url"))
        .await
        .expect("server connection");
    let left: Option<String> = conn
        .exec_first(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (name.as_str(),),
        )
        .await
        .expect("schemata");
    assert_eq!(left, None, "database {name} still exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_survive_the_literal_batch_insert() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    seed_catalog(&store, &sample_catalog()).await;
    let mut sale = sample_sale("QUOTE-001", 1, &[5, 6], PaymentMethod::Card, 1);
    let hostile = "it's \\' \"x\" \\\\ \0 ; DROP TABLE bookings; -- é";
    sale.booking.payment.reference = Some(hostile.into());
    sale.idempotency_key = "key 'with' \\ quotes".into();
    assert_eq!(
        store.commit_sales(std::slice::from_ref(&sale)).await,
        vec![SaleOutcome::Committed]
    );
    let stored = store.load_bookings().await.expect("load");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].booking.payment.reference.as_deref(),
        Some(hostile)
    );
    assert_eq!(stored[0].idempotency_key, sale.idempotency_key);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_show_upserts_do_not_fail_on_deadlocks() {
    // Creating shows concurrently takes gap locks on show_prices; InnoDB breaks the resulting
    // deadlocks by rolling one transaction back, which the store retries.
    let db = TestDatabase::create().await;
    let store = std::sync::Arc::new(db.store().await);
    seed_catalog(store.as_ref(), &sample_catalog()).await;
    let template = sample_catalog().shows[0].clone();
    let mut tasks = Vec::new();
    for worker in 0..8u64 {
        let (store, template) = (store.clone(), template.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..25u64 {
                let mut show = template.clone();
                show.id = 1_000 + worker * 100 + n;
                store
                    .upsert_show(&show)
                    .await
                    .map_err(|e| format!("show {}: {e}", show.id))?;
            }
            Ok::<(), String>(())
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("every upsert succeeds");
    }
    assert_eq!(
        store.load_catalog().await.expect("catalog").shows.len(),
        201
    );
    db.drop_database().await;
}
