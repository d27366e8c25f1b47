//! Sale outcomes against real MariaDB when things fail part-way: isolation interrupted, a
//! `COMMIT` whose answer is stalled, withheld or lost, and how `resolve_sale` settles it.

use std::time::Duration;

use cinebook_protocol::types::PaymentMethod;
use cinebook_server::store::mysql::{MysqlLimits, MysqlStore, MIGRATIONS};
use cinebook_server::store::{SaleConflict, SaleOutcome, Store};
use cinebook_server::testing::{
    sample_catalog, sample_sale, seed_catalog, MysqlProxy, ProxyFault, TestDatabase, SAMPLE_SHOW_ID,
};
use mysql_async::prelude::Queryable;

use super::sql;

/// Short enough for a test, long enough for a healthy round trip.
const TEST_OPERATION_TIMEOUT: Duration = Duration::from_secs(2);

async fn store_at(url: &str) -> MysqlStore {
    let limits = MysqlLimits {
        operation_timeout: TEST_OPERATION_TIMEOUT,
        ..MysqlLimits::default()
    };
    MysqlStore::connect(url, limits).await.expect("connect")
}

async fn stored_codes(store: &MysqlStore) -> Vec<String> {
    let mut codes: Vec<String> = store
        .load_bookings()
        .await
        .expect("load")
        .into_iter()
        .map(|b| b.booking.code)
        .collect();
    codes.sort();
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_part_way_through_isolation_keeps_the_sales_already_committed() {
    let db = TestDatabase::create().await;
    let store = store_at(&db.url).await;
    store.migrate().await.expect("migrate");
    seed_catalog(&store, &sample_catalog()).await;
    let sold = sample_sale("X1", 1, &[10], PaymentMethod::Cash, 1);
    assert_eq!(
        store.commit_sales(&[sold]).await,
        vec![SaleOutcome::Committed]
    );
    // Another transaction holds seat 30 (inserted, not committed): a sale of it waits for the
    // lock past the operation timeout, before its COMMIT.
    let mut holder = sql(&db).await;
    holder
        .query_drop(format!(
            "START TRANSACTION; \
             INSERT INTO bookings (code, show_id, terminal_id, status, total_minor, currency, \
             sold_at_ms, lamport, node_id, idempotency_key) \
             VALUES ('LOCK1', {SAMPLE_SHOW_ID}, 9, 'confirmed', 0, 'EUR', 0, 0, 1, 'lock'); \
             INSERT INTO booking_seats (show_id, seat_id, code, position, label, category, \
             price_minor) VALUES ({SAMPLE_SHOW_ID}, 30, 'LOCK1', 0, 'L', 'standard', 0)"
        ))
        .await
        .expect("hold seat 30");
    // The batch is refused at sale 2 (seat 10 is sold); isolating it commits sale 1, refuses
    // sale 2, and sale 3 times out.
    let batch = [
        sample_sale("S1", 1, &[20], PaymentMethod::Cash, 2),
        sample_sale("S2", 1, &[10], PaymentMethod::Cash, 3),
        sample_sale("S3", 1, &[30], PaymentMethod::Cash, 4),
    ];
    let outcomes = store.commit_sales(&batch).await;
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert_eq!(outcomes[0], SaleOutcome::Committed, "{outcomes:?}");
    assert!(
        matches!(
            &outcomes[1],
            SaleOutcome::Conflict(SaleConflict::SeatTaken(_))
        ),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[2], SaleOutcome::NotCommitted(_)),
        "{outcomes:?}"
    );
    holder.query_drop("ROLLBACK").await.expect("rollback");
    assert_eq!(stored_codes(&store).await, vec!["S1", "X1"]);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_stalled_is_unknown_and_resolves_to_the_booking() {
    let db = TestDatabase::create().await;
    let direct = store_at(&db.url).await;
    direct.migrate().await.expect("migrate");
    seed_catalog(&direct, &sample_catalog()).await;
    let proxy = MysqlProxy::start(&db).await;
    let store = store_at(&proxy.url(&db)).await;
    let sale = sample_sale("U1", 1, &[5, 6], PaymentMethod::Card, 1);

    proxy.arm(b"COMMIT", ProxyFault::Stall);
    let outcomes = store.commit_sales(std::slice::from_ref(&sale)).await;
    assert!(!proxy.is_armed(), "the COMMIT went through the proxy");
    assert!(
        matches!(&outcomes[..], [SaleOutcome::Unknown(_)]),
        "{outcomes:?}"
    );
    // While the answer is stalled, the proxied store cannot find out: an error, not `None`.
    assert!(store.resolve_sale("U1").await.is_err());
    // MariaDB did commit it: a direct resolve says so, and so does the store once resumed.
    let resolved = direct.resolve_sale("U1").await.expect("resolve");
    assert_eq!(resolved.map(|b| b.booking), Some(sale.booking.clone()));
    proxy.resume();
    let resolved = store
        .resolve_sale("U1")
        .await
        .expect("resolve after resume");
    assert_eq!(resolved.map(|b| b.hold_id), Some(sale.hold_id));
    // Re-sending the same sale is the booking, never a second one.
    assert_eq!(
        store.commit_sales(&[sale]).await,
        vec![SaleOutcome::Committed]
    );
    assert_eq!(stored_codes(&direct).await, vec!["U1"]);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_never_reached_mysql_resolves_to_nothing_once_its_transaction_ended() {
    let db = TestDatabase::create().await;
    let direct = store_at(&db.url).await;
    direct.migrate().await.expect("migrate");
    seed_catalog(&direct, &sample_catalog()).await;
    let proxy = MysqlProxy::start(&db).await;
    let store = store_at(&proxy.url(&db)).await;
    let sale = sample_sale("W1", 1, &[7], PaymentMethod::Cash, 1);

    // The COMMIT is swallowed: MariaDB keeps the transaction open with its INSERTs.
    proxy.arm(b"COMMIT", ProxyFault::Withhold);
    let outcomes = store.commit_sales(std::slice::from_ref(&sale)).await;
    assert!(
        matches!(&outcomes[..], [SaleOutcome::Unknown(_)]),
        "{outcomes:?}"
    );
    // resolve_sale's locking read waits for that transaction: it must not answer `None` while
    // the transaction could still commit.
    let resolving =
        tokio::spawn(async move { direct.resolve_sale("W1").await.map(|b| b.is_some()) });
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(
        !resolving.is_finished(),
        "resolve_sale answered while the sale's transaction was still open"
    );
    // Closing the connection makes MariaDB roll the transaction back: now it is definite.
    proxy.cut();
    let durable = tokio::time::timeout(Duration::from_secs(5), resolving)
        .await
        .expect("resolve_sale answers once the transaction ended")
        .expect("task")
        .expect("resolve");
    assert!(!durable, "the withheld COMMIT never happened");
    let check = store_at(&db.url).await;
    assert!(stored_codes(&check).await.is_empty());
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_connection_drops_after_sending_is_unknown_and_durable() {
    let db = TestDatabase::create().await;
    let direct = store_at(&db.url).await;
    direct.migrate().await.expect("migrate");
    seed_catalog(&direct, &sample_catalog()).await;
    let proxy = MysqlProxy::start(&db).await;
    let store = store_at(&proxy.url(&db)).await;
    let sale = sample_sale("D1", 1, &[8], PaymentMethod::Cash, 1);

    proxy.arm(b"COMMIT", ProxyFault::Drop);
    let outcomes = store.commit_sales(std::slice::from_ref(&sale)).await;
    assert!(
        matches!(&outcomes[..], [SaleOutcome::Unknown(_)]),
        "{outcomes:?}"
    );
    let resolved = store
        .resolve_sale("D1")
        .await
        .expect("resolve on a new connection");
    assert_eq!(resolved.map(|b| b.booking), Some(sale.booking));
    db.drop_database().await;
}

#[tokio::test]
async fn migration_3_applies_again_after_an_interruption() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    // As if the node died after the ALTER, before recording the version.
    let mut conn = sql(&db).await;
    conn.query_drop("DELETE FROM schema_migrations WHERE version = 3")
        .await
        .expect("forget version 3");
    store.migrate().await.expect("migrate again");
    store.migrate().await.expect("and again");
    let versions: Vec<u32> = conn
        .query("SELECT version FROM schema_migrations ORDER BY version")
        .await
        .expect("versions");
    let known: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(versions, known, "every known migration applied once");
    db.drop_database().await;
}
