//! The embedded SQLite store: the shared Store contract, durability settings, migrations and
//! data surviving a reopen. Each test uses its own temporary directory.

use cinebook_protocol::types::PaymentMethod;
use cinebook_server::store::sqlite::{SqliteLimits, SqliteStore, DATABASE_FILE, MIGRATIONS};
use cinebook_server::store::{SaleOutcome, Store};
use cinebook_server::testing::{contract, sample_catalog, sample_sale, seed_catalog};

/// A fresh, migrated store in a new temporary directory (kept alive by the returned guard).
async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open_dir(dir.path(), SqliteLimits::default())
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    (dir, store)
}

macro_rules! contract_test {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (_dir, store) = fresh().await;
            contract::$name(&store).await;
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
async fn double_sale_is_isolated() {
    let (_dir, store) = fresh().await;
    let owners = contract::double_sale_is_isolated(&store).await;
    // What SQLite really holds: one row per sold seat, owned by the committed bookings only.
    let conn = rusqlite_conn(&store);
    let mut stmt = conn
        .prepare("SELECT DISTINCT code FROM booking_seats ORDER BY code")
        .expect("prepare");
    let codes: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(codes, owners);
    let audit: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'sale'",
            [],
            |r| r.get(0),
        )
        .expect("audit");
    assert_eq!(audit, 4, "one audit row per committed sale");
}

/// A second connection to the store's file, to check what SQLite really holds.
fn rusqlite_conn(store: &SqliteStore) -> rusqlite::Connection {
    rusqlite::Connection::open(store.path()).expect("second connection")
}

#[tokio::test]
async fn migrate_twice_is_idempotent() {
    let (_dir, store) = fresh().await;
    contract::migrate_is_idempotent(&store).await;
    let applied = store.applied_migrations().await.expect("schema_migrations");
    let expected: Vec<(u32, String)> = MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_owned()))
        .collect();
    assert_eq!(applied, expected, "each migration recorded exactly once");
}

#[tokio::test]
async fn wal_with_synchronous_full_and_foreign_keys() {
    let (_dir, store) = fresh().await;
    let (journal, synchronous, foreign_keys) = store.durability_settings().await.expect("settings");
    assert_eq!(journal, "wal");
    assert_eq!(
        synchronous, 2,
        "synchronous=FULL: a commit is on disk before it returns"
    );
    assert_eq!(foreign_keys, 1);
}

#[tokio::test]
async fn committed_sales_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let sale = sample_sale("P1", 1, &[7, 8], PaymentMethod::Card, 42);
    {
        let store = SqliteStore::open_dir(dir.path(), SqliteLimits::default())
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        seed_catalog(&store, &sample_catalog()).await;
        assert_eq!(
            store.commit_sales(std::slice::from_ref(&sale)).await,
            vec![SaleOutcome::Committed]
        );
    }
    assert!(dir.path().join(DATABASE_FILE).is_file());
    let store = SqliteStore::open_dir(dir.path(), SqliteLimits::default())
        .await
        .expect("reopen");
    store.migrate().await.expect("migrate again");
    assert_eq!(
        store.load_catalog().await.expect("catalog"),
        sample_catalog()
    );
    let bookings = store.load_bookings().await.expect("bookings");
    assert_eq!(bookings.len(), 1);
    assert_eq!(bookings[0].booking, sale.booking);
    // The seat is still taken after the reopen: the primary key holds across restarts.
    let again = sample_sale("P2", 2, &[8], PaymentMethod::Cash, 43);
    let outcome = store.commit_sales(&[again]).await;
    assert!(
        matches!(outcome[0], SaleOutcome::Conflict(_)),
        "{outcome:?}"
    );
}

/// The store never blocks the async runtime: on a single-threaded runtime a timer keeps firing
/// while a large batch commits (it runs on the blocking pool).
#[tokio::test(flavor = "current_thread")]
async fn commits_do_not_block_the_runtime() {
    let (_dir, store) = fresh().await;
    seed_catalog(&store, &sample_catalog()).await;
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = ticks.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    for round in 0..20u32 {
        let sales: Vec<_> = (0..20u32)
            .map(|i| {
                let seat = round * 20 + i;
                sample_sale(
                    &format!("T{seat:04}"),
                    1,
                    &[seat],
                    PaymentMethod::Cash,
                    u64::from(seat),
                )
            })
            .collect();
        let outcomes = store.commit_sales(&sales).await;
        assert_eq!(outcomes, vec![SaleOutcome::Committed; 20]);
    }
    ticker.abort();
    assert!(
        ticks.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the timer task ran while commits were in flight"
    );
    assert_eq!(store.load_bookings().await.expect("load").len(), 400);
}
