//! Test support: a fresh MySQL database per test, catalog and sale fixtures, and the
//! [`contract`] every [`Store`] implementation must meet.
//!
//! [`TestDatabase::create`] reads `CINEBOOK_TEST_MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306`), creates a uniquely named database and panics with a clear
//! message when MySQL cannot be reached: a test that needs MySQL fails, it never skips.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cinebook_protocol::types::{
    BookedSeat, Booking, BookingStatus, Category, City, Money, Movie, Payment, PaymentMethod,
    Price, Screen, Seat, SeatId, Show, TerminalId, Theater,
};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use crate::store::mysql::{MysqlLimits, MysqlStore};

mod mysql_proxy;
mod smtp_sink;
use crate::store::{CatalogData, SaleRecord, Store};
#[cfg(test)]
use mysql_proxy::with_address;
pub use mysql_proxy::{MysqlProxy, ProxyFault};
pub use smtp_sink::SmtpSink;

/// The environment variable naming the MySQL server tests use (a URL without a database).
pub const TEST_MYSQL_URL_ENV: &str = "CINEBOOK_TEST_MYSQL_URL";

/// The server tests use when [`TEST_MYSQL_URL_ENV`] is not set.
pub const DEFAULT_TEST_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306";

/// Longest wait for the test MySQL server to accept a connection.
pub const TEST_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest wait, in seconds, for a `DROP DATABASE` to get its locks.
const DROP_LOCK_WAIT_SECS: u32 = 20;

static DATABASE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A uniquely named, empty MySQL database for one test; dropped by
/// [`TestDatabase::drop_database`] or, failing that, when the value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    /// URL of the database (the server URL with the database name as its path).
    pub url: String,
    name: String,
    server_url: String,
    dropped: bool,
}

/// Splits a MySQL URL into the part before its path (`mysql://user@host:port`) and its query.
fn split_url(url: &str) -> (&str, Option<&str>) {
    let (before_query, query) = match url.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (url, None),
    };
    let authority_start = before_query.find("://").map_or(0, |i| i + 3);
    let path_start = before_query[authority_start..]
        .find('/')
        .map_or(before_query.len(), |i| i + authority_start);
    (&before_query[..path_start], query)
}

/// `url` with its database replaced by `database` (or removed when `None`).
fn with_database(url: &str, database: Option<&str>) -> String {
    let (server, query) = split_url(url);
    let mut out = server.to_owned();
    if let Some(database) = database {
        out.push('/');
        out.push_str(database);
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

async fn admin_connection(server_url: &str) -> Result<Conn, String> {
    let opts = Opts::from_url(server_url).map_err(|e| format!("invalid URL: {e}"))?;
    match tokio::time::timeout(TEST_CONNECT_TIMEOUT, Conn::new(opts)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!(
            "no answer within {} s",
            TEST_CONNECT_TIMEOUT.as_secs()
        )),
    }
}

async fn drop_named_database(server_url: &str, name: &str) -> Result<(), String> {
    let mut conn = admin_connection(server_url).await?;
    conn.query_drop(format!(
        "SET SESSION lock_wait_timeout = {DROP_LOCK_WAIT_SECS}"
    ))
    .await
    .map_err(|e| e.to_string())?;
    conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
        .await
        .map_err(|e| e.to_string())?;
    conn.disconnect().await.map_err(|e| e.to_string())
}

impl TestDatabase {
    /// Creates `cinebook_test_<pid>_<nanos>_<counter>` on the server named by
    /// [`TEST_MYSQL_URL_ENV`]. Panics, saying how to fix it, when MySQL cannot be reached.
    pub async fn create() -> TestDatabase {
        let base =
            std::env::var(TEST_MYSQL_URL_ENV).unwrap_or_else(|_| DEFAULT_TEST_MYSQL_URL.into());
        let server_url = with_database(&base, None);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let counter = DATABASE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("cinebook_test_{}_{nanos}_{counter}", std::process::id());
        let mut conn = match admin_connection(&server_url).await {
            Ok(conn) => conn,
            Err(error) => panic!(
                "cannot reach the test MySQL server ({TEST_MYSQL_URL_ENV}, default \
                 {DEFAULT_TEST_MYSQL_URL}): {error}. Start MySQL or MariaDB there, or point \
                 {TEST_MYSQL_URL_ENV} at one; tests that need MySQL fail rather than skip."
            ),
        };
        if let Err(error) = conn
            .query_drop(format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
            .await
        {
            panic!("cannot create test database {name}: {error}");
        }
        if let Err(error) = conn.disconnect().await {
            tracing::warn!(%error, "closing the admin connection failed");
        }
        TestDatabase {
            url: with_database(&base, Some(&name)),
            name,
            server_url,
            dropped: false,
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A [`MysqlStore`] on this database with default limits, already migrated. Panics on
    /// failure.
    pub async fn store(&self) -> MysqlStore {
        self.store_with(MysqlLimits::default()).await
    }

    /// A [`MysqlStore`] on this database with `limits`, already migrated. Panics on failure.
    pub async fn store_with(&self, limits: MysqlLimits) -> MysqlStore {
        let store = match MysqlStore::connect(&self.url, limits).await {
            Ok(store) => store,
            Err(error) => panic!("cannot connect to test database {}: {error}", self.name),
        };
        if let Err(error) = store.migrate().await {
            panic!("cannot migrate test database {}: {error}", self.name);
        }
        store
    }

    /// Drops the database now. Panics if that fails.
    pub async fn drop_database(mut self) {
        self.dropped = true;
        if let Err(error) = drop_named_database(&self.server_url, &self.name).await {
            panic!("cannot drop test database {}: {error}", self.name);
        }
    }
}

impl Drop for TestDatabase {
    /// Best effort: drops the database on a separate thread with its own small runtime (a
    /// `Drop` cannot await), and waits for it.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        self.dropped = true;
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        let joined = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => {
                    if let Err(error) = runtime.block_on(drop_named_database(&server_url, &name)) {
                        eprintln!("warning: could not drop test database {name}: {error}");
                    }
                }
                Err(error) => {
                    eprintln!("warning: no runtime to drop test database {name}: {error}")
                }
            }
        })
        .join();
        if joined.is_err() {
            eprintln!(
                "warning: the thread dropping test database {} panicked",
                self.name
            );
        }
    }
}

/// Id of the sample city.
pub const SAMPLE_CITY_ID: u64 = 1;
/// Id of the sample theater.
pub const SAMPLE_THEATER_ID: u64 = 10;
/// Id of the sample screen.
pub const SAMPLE_SCREEN_ID: u64 = 100;
/// Id of the sample movie.
pub const SAMPLE_MOVIE_ID: u64 = 1000;
/// Id of the sample show.
pub const SAMPLE_SHOW_ID: u64 = 5000;
/// Rows of the sample screen (`A` nearest the screen).
pub const SAMPLE_ROWS: u16 = 20;
/// Seats per row of the sample screen, with an aisle after the 10th.
pub const SAMPLE_SEATS_PER_ROW: u16 = 20;
/// Currency of the sample show.
pub const SAMPLE_CURRENCY: &str = "CHF";
/// Price of a standard seat of the sample show, minor units.
pub const SAMPLE_STANDARD_PRICE: i64 = 1200;
/// Price of a premium seat of the sample show, minor units.
pub const SAMPLE_PREMIUM_PRICE: i64 = 1800;

/// A 400-seat screen: rows `A`..`T` of 20 seats, an aisle after seat 10; row `A` seats 1-2
/// are wheelchair places and 3-4 their companions; rows `S` and `T` are premium.
pub fn sample_screen() -> Screen {
    let mut seats = Vec::with_capacity(usize::from(SAMPLE_ROWS * SAMPLE_SEATS_PER_ROW));
    for y in 0..SAMPLE_ROWS {
        let row = char::from(b'A' + u8::try_from(y).unwrap_or(b'Z' - b'A')).to_string();
        for n in 0..SAMPLE_SEATS_PER_ROW {
            let category = match (y, n) {
                (0, 0 | 1) => Category::Wheelchair,
                (0, 2 | 3) => Category::Companion,
                (y, _) if y + 2 >= SAMPLE_ROWS => Category::Premium,
                _ => Category::Standard,
            };
            let id = SeatId::from(y * SAMPLE_SEATS_PER_ROW + n);
            seats.push(Seat {
                id,
                row: row.clone(),
                label: format!("{row}{}", n + 1),
                category,
                x: if n < 10 { n } else { n + 1 },
                y,
            });
        }
    }
    Screen {
        id: SAMPLE_SCREEN_ID,
        theater_id: SAMPLE_THEATER_ID,
        name: "Saal 1".into(),
        seats,
    }
}

/// The sample catalog: one city, theater, 400-seat screen, movie and show.
pub fn sample_catalog() -> CatalogData {
    let price = |category| Price {
        category,
        amount_minor: if category == Category::Premium {
            SAMPLE_PREMIUM_PRICE
        } else {
            SAMPLE_STANDARD_PRICE
        },
    };
    CatalogData {
        cities: vec![City {
            id: SAMPLE_CITY_ID,
            name: "Zürich".into(),
        }],
        theaters: vec![Theater {
            id: SAMPLE_THEATER_ID,
            city_id: SAMPLE_CITY_ID,
            name: "Kino Rex".into(),
        }],
        screens: vec![sample_screen()],
        movies: vec![Movie {
            id: SAMPLE_MOVIE_ID,
            title: "The Long Queue".into(),
            runtime_min: 124,
            rating: "PG-13".into(),
        }],
        shows: vec![Show {
            id: SAMPLE_SHOW_ID,
            movie_id: SAMPLE_MOVIE_ID,
            screen_id: SAMPLE_SCREEN_ID,
            // 2100-01-01: far enough ahead that the sales window of the sample show is open.
            starts_at_ms: 4_102_444_800_000,
            currency: SAMPLE_CURRENCY.into(),
            prices: Category::ALL.into_iter().map(price).collect(),
        }],
    }
}

/// Writes `catalog` into `store` (parents first). Panics on failure.
pub async fn seed_catalog<S: Store + ?Sized>(store: &S, catalog: &CatalogData) {
    for city in &catalog.cities {
        store.upsert_city(city).await.expect("upsert city");
    }
    for theater in &catalog.theaters {
        store.upsert_theater(theater).await.expect("upsert theater");
    }
    for screen in &catalog.screens {
        store.upsert_screen(screen).await.expect("upsert screen");
    }
    for movie in &catalog.movies {
        store.upsert_movie(movie).await.expect("upsert movie");
    }
    for show in &catalog.shows {
        store.upsert_show(show).await.expect("upsert show");
    }
}

/// A confirmed sale of `seats` of the sample show, paid in full by `method` (zero for comp),
/// with idempotency key `key-<code>`, hold `sold_at_ms`, Lamport time `sold_at_ms` and node 1.
pub fn sample_sale(
    code: &str,
    terminal_id: TerminalId,
    seats: &[SeatId],
    method: PaymentMethod,
    sold_at_ms: u64,
) -> SaleRecord {
    let screen = sample_screen();
    let booked: Vec<BookedSeat> = seats
        .iter()
        .map(|id| {
            let seat = screen.seats.iter().find(|s| s.id == *id);
            let category = seat.map_or(Category::Standard, |s| s.category);
            BookedSeat {
                seat_id: *id,
                label: seat.map_or_else(|| format!("#{id}"), |s| s.label.clone()),
                category,
                price_minor: if method == PaymentMethod::Comp {
                    0
                } else if category == Category::Premium {
                    SAMPLE_PREMIUM_PRICE
                } else {
                    SAMPLE_STANDARD_PRICE
                },
            }
        })
        .collect();
    let total = Money {
        amount_minor: booked.iter().map(|s| s.price_minor).sum(),
        currency: SAMPLE_CURRENCY.into(),
    };
    SaleRecord {
        booking: Booking {
            code: code.into(),
            show_id: SAMPLE_SHOW_ID,
            seats: booked,
            total: total.clone(),
            payment: Payment {
                method,
                amount: total,
                reference: (method == PaymentMethod::Card).then(|| format!("auth-{code}")),
            },
            status: BookingStatus::Confirmed,
            terminal_id,
            sold_at_ms,
            lamport: sold_at_ms,
            node_id: 1,
        },
        idempotency_key: format!("key-{code}"),
        hold_id: Some(sold_at_ms),
        contact: Default::default(),
        outbox: Vec::new(),
    }
}

/// The contract of [`Store`]: each function takes a fresh, migrated, empty store and panics
/// when the store breaks the contract. Run against every implementation (MySQL in
/// `tests/store_mysql.rs`, memory in its unit tests).
pub mod contract {
    use cinebook_protocol::types::{
        BookingStatus, City, Money, PaymentMethod, Role, SeatId, Theater,
    };

    use super::{sample_catalog, sample_sale, seed_catalog, SAMPLE_CURRENCY, SAMPLE_SHOW_ID};
    use crate::store::{CancelRecord, SaleOutcome, SaleRecord, Store, StoreError};

    mod admissions;
    mod audit;
    mod outbox;
    mod outcomes;
    mod payments;
    pub use admissions::admissions;
    pub use audit::audit_trail_in_order;
    pub use outbox::outbox;
    mod seat_refunds;
    pub use outcomes::{
        blocked_seats_round_trip, hold_ids_and_keys_round_trip, sale_conflicts_are_classified,
    };
    pub use payments::payment_orders;
    pub use seat_refunds::seat_refunds;

    fn cancel(
        code: &str,
        refund: bool,
        amount_minor: i64,
        terminal_id: u64,
        at_ms: u64,
    ) -> CancelRecord {
        CancelRecord {
            code: code.into(),
            refund,
            amount: Money {
                amount_minor: if refund { amount_minor } else { 0 },
                currency: SAMPLE_CURRENCY.into(),
            },
            terminal_id,
            at_ms,
            lamport: at_ms,
            node_id: 1,
            reason: "customer changed plans".into(),
            outbox: Vec::new(),
        }
    }

    async fn codes<S: Store + ?Sized>(store: &S) -> Vec<String> {
        let mut codes: Vec<String> = store
            .load_bookings()
            .await
            .expect("load bookings")
            .into_iter()
            .map(|b| b.booking.code)
            .collect();
        codes.sort();
        codes
    }

    /// Migrating again changes nothing.
    pub async fn migrate_is_idempotent<S: Store + ?Sized>(store: &S) {
        seed_catalog(store, &sample_catalog()).await;
        store.migrate().await.expect("second migrate");
        store.migrate().await.expect("third migrate");
        assert_eq!(store.load_catalog().await.expect("load"), sample_catalog());
        store.ping().await.expect("ping");
    }

    /// The catalog loads as upserted; upserts update in place and replace seats and prices;
    /// a missing parent is `NotFound`.
    pub async fn catalog_round_trip<S: Store + ?Sized>(store: &S) {
        assert_eq!(
            store.load_catalog().await.expect("load empty"),
            Default::default()
        );
        let mut catalog = sample_catalog();
        seed_catalog(store, &catalog).await;
        assert_eq!(store.load_catalog().await.expect("load"), catalog);

        catalog.cities[0].name = "Zurich".into();
        catalog.screens[0].name = "Saal 1 (renovated)".into();
        catalog.screens[0].seats.truncate(300);
        catalog.screens[0].seats[5].label = "A6*".into();
        catalog.shows[0].prices.retain(|p| p.amount_minor > 0);
        catalog.shows[0].prices[0].amount_minor = 1350;
        catalog.shows[0].starts_at_ms += 3_600_000;
        catalog.movies[0].rating = "R".into();
        seed_catalog(store, &catalog).await;
        assert_eq!(store.load_catalog().await.expect("reload"), catalog);

        let orphan = Theater {
            id: 11,
            city_id: 999,
            name: "Nowhere".into(),
        };
        match store.upsert_theater(&orphan).await {
            Err(StoreError::NotFound(_)) => {}
            other => panic!("theater in a missing city: expected NotFound, got {other:?}"),
        }
        store
            .upsert_city(&City {
                id: 2,
                name: "Bern".into(),
            })
            .await
            .expect("second city");
        let loaded = store.load_catalog().await.expect("load cities");
        assert_eq!(loaded.cities.len(), 2);
        assert_eq!(loaded.theaters.len(), 1);
    }

    /// A batch of 50 sales commits whole and loads back exactly.
    pub async fn batch_of_fifty<S: Store + ?Sized>(store: &S) {
        seed_catalog(store, &sample_catalog()).await;
        let sales: Vec<SaleRecord> = (0..50u32)
            .map(|i| {
                let method = [
                    PaymentMethod::Cash,
                    PaymentMethod::Card,
                    PaymentMethod::Comp,
                ][(i % 3) as usize];
                sample_sale(
                    &format!("B{i:03}"),
                    1 + u64::from(i % 4),
                    &[i * 8, i * 8 + 1, i * 8 + 2],
                    method,
                    1_000 + u64::from(i),
                )
            })
            .collect();
        let outcomes = store.commit_sales(&sales).await;
        assert_eq!(outcomes, vec![SaleOutcome::Committed; 50]);
        let loaded = store.load_bookings().await.expect("load");
        assert_eq!(loaded.len(), 50);
        for (stored, sale) in loaded.iter().zip(&sales) {
            assert_eq!(&stored.booking, &sale.booking);
            assert_eq!(stored.idempotency_key, sale.idempotency_key);
        }
        assert_eq!(store.commit_sales(&[]).await, vec![]);
    }

    /// A sale that double-sells a seat is the only `Conflict` of its batch; the others commit.
    /// Returns the codes that must own seats afterwards.
    pub async fn double_sale_is_isolated<S: Store + ?Sized>(store: &S) -> Vec<String> {
        seed_catalog(store, &sample_catalog()).await;
        let first = sample_sale("A1", 1, &[1, 2], PaymentMethod::Cash, 100);
        assert_eq!(
            store.commit_sales(std::slice::from_ref(&first)).await,
            vec![SaleOutcome::Committed]
        );
        let batch = vec![
            sample_sale("B1", 2, &[3], PaymentMethod::Card, 200),
            sample_sale("C1", 2, &[4, 2], PaymentMethod::Card, 201),
            sample_sale("D1", 3, &[5, 6], PaymentMethod::Cash, 202),
            sample_sale("E1", 3, &[3], PaymentMethod::Cash, 203),
            sample_sale("F1", 3, &[7], PaymentMethod::Cash, 204),
        ];
        let outcomes = store.commit_sales(&batch).await;
        assert_eq!(outcomes.len(), batch.len());
        let expected_committed = [true, false, true, false, true];
        for ((outcome, sale), committed) in outcomes.iter().zip(&batch).zip(expected_committed) {
            match (outcome, committed) {
                (SaleOutcome::Committed, true) | (SaleOutcome::Conflict(_), false) => {}
                _ => panic!("{}: unexpected outcome {outcome:?}", sale.booking.code),
            }
        }
        assert_eq!(codes(store).await, vec!["A1", "B1", "D1", "F1"]);
        let loaded = store.load_bookings().await.expect("load");
        let mut owners: Vec<(SeatId, String)> = loaded
            .iter()
            .flat_map(|b| {
                b.booking
                    .seats
                    .iter()
                    .map(|s| (s.seat_id, b.booking.code.clone()))
            })
            .collect();
        owners.sort();
        let seats: Vec<SeatId> = owners.iter().map(|(s, _)| *s).collect();
        assert_eq!(seats, vec![1, 2, 3, 5, 6, 7], "each seat exactly once");
        vec!["A1".into(), "B1".into(), "D1".into(), "F1".into()]
    }

    /// (terminal, idempotency key) is unique; an identical retried sale is `Committed` once.
    pub async fn idempotency_keys_are_unique<S: Store + ?Sized>(store: &S) {
        seed_catalog(store, &sample_catalog()).await;
        let first = sample_sale("K1", 1, &[10], PaymentMethod::Card, 100);
        assert_eq!(
            store.commit_sales(std::slice::from_ref(&first)).await,
            vec![SaleOutcome::Committed]
        );
        let mut same_key = sample_sale("K2", 1, &[11], PaymentMethod::Card, 101);
        same_key.idempotency_key = first.idempotency_key.clone();
        let mut other_terminal = sample_sale("K3", 2, &[12], PaymentMethod::Card, 102);
        other_terminal.idempotency_key = first.idempotency_key.clone();
        let outcomes = store
            .commit_sales(&[same_key, other_terminal, first.clone()])
            .await;
        assert!(
            matches!(outcomes[0], SaleOutcome::Conflict(_)),
            "{outcomes:?}"
        );
        assert_eq!(outcomes[1], SaleOutcome::Committed);
        assert_eq!(outcomes[2], SaleOutcome::Committed, "identical retry");
        assert_eq!(codes(store).await, vec!["K1", "K3"]);

        let mut reused_code = sample_sale("K1", 3, &[13], PaymentMethod::Cash, 103);
        reused_code.idempotency_key = "fresh".into();
        let outcomes = store.commit_sales(&[reused_code]).await;
        assert!(
            matches!(outcomes[0], SaleOutcome::Conflict(_)),
            "{outcomes:?}"
        );
        assert_eq!(codes(store).await, vec!["K1", "K3"]);
    }

    /// A refund frees the seats (they sell again), the booking keeps its seats and becomes
    /// `Refunded`; only a confirmed booking can be cancelled.
    pub async fn cancel_frees_seats<S: Store + ?Sized>(store: &S) {
        seed_catalog(store, &sample_catalog()).await;
        let sale = sample_sale("R1", 1, &[20, 21], PaymentMethod::Cash, 100);
        store.commit_sales(std::slice::from_ref(&sale)).await;
        let again = sample_sale("R2", 1, &[21], PaymentMethod::Cash, 101);
        let outcome = store.commit_sales(std::slice::from_ref(&again)).await;
        assert!(
            matches!(outcome[0], SaleOutcome::Conflict(_)),
            "seat still sold: {outcome:?}"
        );

        store
            .commit_cancel(&cancel("R1", true, 2400, 1, 150))
            .await
            .expect("refund");
        match store.commit_cancel(&cancel("R1", true, 2400, 1, 151)).await {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("second refund: expected Conflict, got {other:?}"),
        }
        match store.commit_cancel(&cancel("NOPE", false, 0, 1, 151)).await {
            Err(StoreError::NotFound(_)) => {}
            other => panic!("unknown booking: expected NotFound, got {other:?}"),
        }

        let resale = sample_sale("R3", 2, &[21, 22], PaymentMethod::Card, 200);
        assert_eq!(
            store.commit_sales(std::slice::from_ref(&resale)).await,
            vec![SaleOutcome::Committed]
        );
        let kept = sample_sale("R4", 2, &[30], PaymentMethod::Cash, 300);
        store.commit_sales(std::slice::from_ref(&kept)).await;
        store
            .commit_cancel(&cancel("R4", false, 0, 2, 310))
            .await
            .expect("cancel without refund");

        let loaded = store.load_bookings().await.expect("load");
        let find = |code: &str| {
            loaded
                .iter()
                .find(|b| b.booking.code == code)
                .unwrap_or_else(|| panic!("booking {code} missing"))
        };
        let refunded = find("R1");
        assert_eq!(refunded.booking.status, BookingStatus::Refunded);
        assert_eq!(
            refunded.booking.seats, sale.booking.seats,
            "cancelled seats still listed"
        );
        assert_eq!(find("R3").booking.status, BookingStatus::Confirmed);
        assert_eq!(find("R3").booking.seats, resale.booking.seats);
        let cancelled = find("R4");
        assert_eq!(cancelled.booking.status, BookingStatus::Cancelled);
        assert_eq!(cancelled.booking.seats, kept.booking.seats);
        assert_eq!(loaded.len(), 3);
        // The seats of R4 are free again too.
        let after = sample_sale("R5", 2, &[30], PaymentMethod::Cash, 400);
        assert_eq!(
            store.commit_sales(&[after]).await,
            vec![SaleOutcome::Committed]
        );
    }

    /// Sales by sale time and refunds by refund time, per method, for one terminal.
    pub async fn shift_report_figures<S: Store + ?Sized>(store: &S) {
        seed_catalog(store, &sample_catalog()).await;
        let empty = store
            .shift_report(7, 0, 10_000)
            .await
            .expect("empty report");
        assert_eq!(empty.currency, "EUR");
        assert!(empty.lines.is_empty());

        let sales = vec![
            sample_sale("S1", 7, &[40, 41], PaymentMethod::Cash, 1_000),
            sample_sale("S2", 7, &[42], PaymentMethod::Card, 2_000),
            sample_sale("S3", 7, &[43], PaymentMethod::Comp, 3_000),
            sample_sale("S4", 7, &[44], PaymentMethod::Cash, 9_000),
            sample_sale("S5", 8, &[45], PaymentMethod::Cash, 1_500),
            sample_sale("S6", 8, &[46, 47, 48], PaymentMethod::Card, 1_600),
        ];
        let outcomes = store.commit_sales(&sales).await;
        assert_eq!(outcomes, vec![SaleOutcome::Committed; sales.len()]);
        // Terminal 7 refunds its card sale and terminal 8's card sale inside the range; a
        // refund of S4 falls outside it; terminal 8 refunds S1 (counted for 8, not 7).
        store
            .commit_cancel(&cancel("S2", true, 1_200, 7, 4_000))
            .await
            .expect("refund S2");
        store
            .commit_cancel(&cancel("S6", true, 3_600, 7, 4_500))
            .await
            .expect("refund S6");
        store
            .commit_cancel(&cancel("S4", true, 1_200, 7, 9_500))
            .await
            .expect("refund S4");
        store
            .commit_cancel(&cancel("S1", true, 2_400, 8, 4_000))
            .await
            .expect("refund S1");
        store
            .commit_cancel(&cancel("S3", false, 0, 7, 4_100))
            .await
            .expect("cancel S3");

        let report = store.shift_report(7, 1_000, 5_000).await.expect("report");
        assert_eq!(report.terminal_id, 7);
        assert_eq!((report.from_ms, report.to_ms), (1_000, 5_000));
        assert_eq!(report.currency, SAMPLE_CURRENCY);
        let figures: Vec<(PaymentMethod, u32, u32, i64, u32, i64)> = report
            .lines
            .iter()
            .map(|l| {
                (
                    l.method,
                    l.sales,
                    l.seats,
                    l.sales_minor,
                    l.refunds,
                    l.refunds_minor,
                )
            })
            .collect();
        assert_eq!(
            figures,
            vec![
                (PaymentMethod::Cash, 1, 2, 2_400, 0, 0),
                (PaymentMethod::Card, 1, 1, 1_200, 2, 4_800),
                (PaymentMethod::Comp, 1, 1, 0, 0, 0),
            ]
        );
        let late = store
            .shift_report(7, 5_000, 10_000)
            .await
            .expect("late report");
        let figures: Vec<(PaymentMethod, u32, u32, i64, u32, i64)> = late
            .lines
            .iter()
            .map(|l| {
                (
                    l.method,
                    l.sales,
                    l.seats,
                    l.sales_minor,
                    l.refunds,
                    l.refunds_minor,
                )
            })
            .collect();
        assert_eq!(figures, vec![(PaymentMethod::Cash, 1, 1, 1_200, 1, 1_200)]);
        let other = store.shift_report(8, 0, 10_000).await.expect("terminal 8");
        let figures: Vec<(PaymentMethod, u32, u32, i64, u32, i64)> = other
            .lines
            .iter()
            .map(|l| {
                (
                    l.method,
                    l.sales,
                    l.seats,
                    l.sales_minor,
                    l.refunds,
                    l.refunds_minor,
                )
            })
            .collect();
        assert_eq!(
            figures,
            vec![
                (PaymentMethod::Cash, 1, 1, 1_200, 1, 2_400),
                (PaymentMethod::Card, 1, 3, 3_600, 0, 0),
            ]
        );
    }

    /// Terminals: add, find by token hash, list, revoke; a token hash is unique.
    pub async fn terminals<S: Store + ?Sized>(store: &S) {
        let hash_a = "a".repeat(64);
        let hash_b = "b".repeat(64);
        let a = store
            .add_terminal("Kasse 1", Role::BoxOffice, &hash_a)
            .await
            .expect("add a");
        let b = store
            .add_terminal("Kiosk Foyer", Role::Kiosk, &hash_b)
            .await
            .expect("add b");
        assert_ne!(a, b);
        match store.add_terminal("Copy", Role::Admin, &hash_a).await {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("duplicate token: expected Conflict, got {other:?}"),
        }
        let found = store
            .terminal_by_token(&hash_a)
            .await
            .expect("find")
            .expect("present");
        assert_eq!(
            (found.id, found.name.as_str(), found.role),
            (a, "Kasse 1", Role::BoxOffice)
        );
        assert_eq!(found.token_sha256, hash_a);
        assert!(!found.revoked);
        assert_eq!(
            store
                .terminal_by_token(&"c".repeat(64))
                .await
                .expect("miss"),
            None
        );

        store.revoke_terminal(b).await.expect("revoke");
        store
            .revoke_terminal(b)
            .await
            .expect("revoke twice is fine");
        match store.revoke_terminal(b + 1000).await {
            Err(StoreError::NotFound(_)) => {}
            other => panic!("revoke unknown: expected NotFound, got {other:?}"),
        }
        let list = store.list_terminals().await.expect("list");
        let views: Vec<_> = list.iter().map(|t| t.view()).collect();
        assert_eq!(views.len(), 2);
        assert_eq!((views[0].id, views[0].revoked), (a, false));
        assert_eq!(
            (views[1].id, views[1].role, views[1].revoked),
            (b, Role::Kiosk, true)
        );
        assert!(
            store
                .terminal_by_token(&hash_b)
                .await
                .expect("find b")
                .expect("b")
                .revoked
        );
    }

    /// A value wider than its column is rejected (a `Conflict`), in a sale without poisoning
    /// its batch; values exactly as wide as the column are stored.
    pub async fn overlong_values_are_rejected<S: Store + ?Sized>(store: &S) {
        use crate::store::mysql::widths;
        seed_catalog(store, &sample_catalog()).await;
        let long_city = City {
            id: 3,
            name: "x".repeat(widths::NAME + 1),
        };
        match store.upsert_city(&long_city).await {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("overlong city name: expected Conflict, got {other:?}"),
        }
        let widest = City {
            id: 3,
            name: "ä".repeat(widths::NAME),
        };
        store
            .upsert_city(&widest)
            .await
            .expect("a name exactly as wide as the column");

        let code = "C".repeat(widths::BOOKING_CODE);
        let mut good = sample_sale(&code, 1, &[50], PaymentMethod::Card, 10);
        good.idempotency_key = "k".repeat(widths::IDEMPOTENCY_KEY);
        good.booking.payment.reference = Some("r".repeat(widths::PAYMENT_REFERENCE));
        let long_code = sample_sale(
            &"D".repeat(widths::BOOKING_CODE + 1),
            1,
            &[51],
            PaymentMethod::Cash,
            11,
        );
        let mut long_key = sample_sale("D2", 1, &[52], PaymentMethod::Cash, 12);
        long_key.idempotency_key = "k".repeat(widths::IDEMPOTENCY_KEY + 1);
        let mut long_reference = sample_sale("D3", 1, &[53], PaymentMethod::Card, 13);
        long_reference.booking.payment.reference = Some("r".repeat(widths::PAYMENT_REFERENCE + 1));
        let outcomes = store
            .commit_sales(&[good, long_code, long_key, long_reference])
            .await;
        assert_eq!(outcomes[0], SaleOutcome::Committed);
        for outcome in &outcomes[1..] {
            assert!(matches!(outcome, SaleOutcome::Conflict(_)), "{outcomes:?}");
        }
        assert_eq!(codes(store).await, vec![code.clone()]);

        let mut long_reason = cancel(&code, true, 1200, 1, 20);
        long_reason.reason = "z".repeat(widths::REASON + 1);
        match store.commit_cancel(&long_reason).await {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("overlong reason: expected Conflict, got {other:?}"),
        }
        long_reason.reason = "z".repeat(widths::REASON);
        store
            .commit_cancel(&long_reason)
            .await
            .expect("a reason exactly as wide as the column");
        match store
            .add_terminal(&"t".repeat(widths::NAME + 1), Role::Kiosk, &"e".repeat(64))
            .await
        {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("overlong terminal name: expected Conflict, got {other:?}"),
        }
    }

    /// [`Store::apply_catalog`] applies a batch whole or not at all; a show with bookings is
    /// never removed; external ids load back and map one internal row once.
    pub async fn catalog_changes<S: Store + ?Sized>(store: &S) {
        use cinebook_protocol::types::{Movie, Price, Show};

        use crate::store::{CatalogChanges, ExternalId, ExternalKind};

        let base = sample_catalog();
        seed_catalog(store, &base).await;
        let ext = |kind, external_id: &str, internal_id| ExternalId {
            source: "upstream".into(),
            kind,
            external_id: external_id.into(),
            internal_id,
        };
        let mut screen = base.screens[0].clone();
        screen.id = 101;
        screen.name = "Saal 2".into();
        screen.seats.truncate(40);
        // In theater 20, created in the same batch.
        screen.theater_id = 20;
        let show = |id, starts_at_ms| Show {
            id,
            movie_id: 1001,
            screen_id: 101,
            starts_at_ms,
            currency: SAMPLE_CURRENCY.into(),
            prices: vec![Price {
                category: cinebook_protocol::types::Category::Standard,
                amount_minor: 1500,
            }],
        };
        let changes = CatalogChanges {
            cities: vec![City {
                id: 2,
                name: "Bern".into(),
            }],
            theaters: vec![Theater {
                id: 20,
                city_id: 2,
                name: "Kino Aare".into(),
            }],
            screens: vec![screen],
            movies: vec![Movie {
                id: 1001,
                title: "Paper Moons".into(),
                runtime_min: 96,
                rating: "PG".into(),
            }],
            shows: vec![show(6000, 1_000_000), show(6001, 2_000_000)],
            removed_shows: vec![],
            external_ids: vec![
                ext(ExternalKind::City, "bern", 2),
                ext(ExternalKind::Show, "s-1", 6000),
                ext(ExternalKind::Show, "s-2", 6001),
                ext(ExternalKind::Movie, "m-1", 1001),
            ],
        };
        store.apply_catalog(&changes).await.expect("apply");
        let loaded = store.load_catalog().await.expect("load");
        assert_eq!(loaded.cities.len(), 2);
        assert_eq!(loaded.theaters.len(), 2);
        assert_eq!(loaded.screens.len(), 2);
        assert_eq!(loaded.screens[1].seats, changes.screens[0].seats);
        assert_eq!(loaded.shows.len(), 3);
        assert_eq!(loaded.shows[1], changes.shows[0]);
        let mut expected = changes.external_ids.clone();
        expected.sort();
        assert_eq!(store.load_external_ids().await.expect("ids"), expected);
        store
            .apply_catalog(&CatalogChanges::default())
            .await
            .expect("an empty batch");

        // A missing parent fails the whole batch: the good city before it is not written.
        let broken = CatalogChanges {
            cities: vec![City {
                id: 3,
                name: "Basel".into(),
            }],
            theaters: vec![Theater {
                id: 30,
                city_id: 999,
                name: "Nowhere".into(),
            }],
            ..CatalogChanges::default()
        };
        match store.apply_catalog(&broken).await {
            Err(StoreError::NotFound(_)) => {}
            other => panic!("theater in a missing city: expected NotFound, got {other:?}"),
        }
        assert_eq!(store.load_catalog().await.expect("load").cities.len(), 2);

        // A show with a booking is never removed, and nothing else of that batch is applied.
        let sale = sample_sale("X1", 1, &[1], PaymentMethod::Cash, 10);
        store.commit_sales(std::slice::from_ref(&sale)).await;
        let mut renamed = changes.movies[0].clone();
        renamed.title = "Paper Moons (restored)".into();
        let refused = CatalogChanges {
            movies: vec![renamed.clone()],
            removed_shows: vec![6000, SAMPLE_SHOW_ID],
            ..CatalogChanges::default()
        };
        match store.apply_catalog(&refused).await {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("removing a sold show: expected Conflict, got {other:?}"),
        }
        let loaded = store.load_catalog().await.expect("load");
        assert_eq!(loaded.shows.len(), 3, "nothing removed");
        assert_eq!(loaded.movies[1].title, "Paper Moons");

        // A show without bookings is removed with its mapping.
        let removal = CatalogChanges {
            movies: vec![renamed],
            removed_shows: vec![6000],
            ..CatalogChanges::default()
        };
        store.apply_catalog(&removal).await.expect("remove");
        let loaded = store.load_catalog().await.expect("load");
        let ids: Vec<u64> = loaded.shows.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![SAMPLE_SHOW_ID, 6001]);
        assert_eq!(loaded.movies[1].title, "Paper Moons (restored)");
        let kinds: Vec<String> = store
            .load_external_ids()
            .await
            .expect("ids")
            .into_iter()
            .map(|e| e.external_id)
            .collect();
        assert_eq!(kinds, vec!["bern", "m-1", "s-2"]);

        // One internal row has one external id.
        let twice = CatalogChanges {
            external_ids: vec![ext(ExternalKind::Show, "s-2-copy", 6001)],
            ..CatalogChanges::default()
        };
        match store.apply_catalog(&twice).await {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("a second external id for a row: expected Conflict, got {other:?}"),
        }
    }

    /// A sale of a show that does not exist is a `Conflict` outcome, not a failed batch.
    pub async fn sale_of_unknown_show_is_rejected<S: Store + ?Sized>(store: &S) {
        seed_catalog(store, &sample_catalog()).await;
        let good = sample_sale("U1", 1, &[1], PaymentMethod::Cash, 10);
        let mut bad = sample_sale("U2", 1, &[1], PaymentMethod::Cash, 11);
        bad.booking.show_id = SAMPLE_SHOW_ID + 1;
        let outcomes = store.commit_sales(&[good, bad]).await;
        assert_eq!(outcomes[0], SaleOutcome::Committed);
        assert!(
            matches!(outcomes[1], SaleOutcome::Conflict(_)),
            "{outcomes:?}"
        );
        assert_eq!(codes(store).await, vec!["U1"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_their_database_replaced() {
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306", Some("t1")),
            "mysql://root@127.0.0.1:3306/t1"
        );
        assert_eq!(
            with_database("mysql://u:p@h:1/old?pool_max=3", Some("t2")),
            "mysql://u:p@h:1/t2?pool_max=3"
        );
        assert_eq!(with_database("mysql://h/old", None), "mysql://h");
    }

    #[test]
    fn urls_get_their_address_replaced() {
        let addr: std::net::SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        assert_eq!(
            with_address("mysql://root@127.0.0.1:3306/db?x=1", addr),
            "mysql://root@127.0.0.1:4000/db?x=1"
        );
        assert_eq!(
            with_address("mysql://u:p%40ss@db.example:3306", addr),
            "mysql://u:p%40ss@127.0.0.1:4000"
        );
        assert_eq!(
            with_address("mysql://h:1/d", addr),
            "mysql://127.0.0.1:4000/d"
        );
    }

    #[test]
    fn the_sample_screen_is_indexed_by_seat_id() {
        let screen = sample_screen();
        assert_eq!(screen.seats.len(), 400);
        for (i, seat) in screen.seats.iter().enumerate() {
            assert_eq!(seat.id as usize, i);
        }
        assert_eq!(screen.seats[399].label, "T20");
        assert_eq!(screen.seats[0].category, Category::Wheelchair);
    }
}
