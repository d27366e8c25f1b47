//! Criterion benchmark of the group-commit writer's transaction: `MysqlStore::commit_sales` with
//! batches of 1, 16 and 128 one-seat sales, against MariaDB/MySQL.
//!
//! Runs only when `DATABASE_URL` names a MySQL server (such as `mysql://root@127.0.0.1:3306`;
//! its path is ignored): the benchmark creates its own database there and drops it afterwards.
//! Throughput is in sales per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cinebook_protocol::types::{PaymentMethod, Show};
use cinebook_server::store::mysql::MysqlStore;
use cinebook_server::store::{SaleOutcome, SaleRecord, Store};
use cinebook_server::testing::{
    sample_catalog, sample_sale, seed_catalog, TestDatabase, SAMPLE_ROWS, SAMPLE_SEATS_PER_ROW,
    SAMPLE_SHOW_ID, TEST_MYSQL_URL_ENV,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SEATS_PER_SHOW: u64 = SAMPLE_ROWS as u64 * SAMPLE_SEATS_PER_ROW as u64;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    store: Arc<MysqlStore>,
    /// Shows created so far (ids from SAMPLE_SHOW_ID).
    shows: u64,
    /// Sales made so far: sale n is seat n % 400 of show n / 400.
    sales: u64,
    _db: TestDatabase,
}

impl Fixture {
    fn new(url: &str) -> Fixture {
        // TestDatabase reads the server from this variable; the benchmark is single-threaded
        // here, before any other thread reads the environment.
        std::env::set_var(TEST_MYSQL_URL_ENV, url);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (db, store) = runtime.block_on(async {
            let db = TestDatabase::create().await;
            let store = db.store().await;
            seed_catalog(&store, &sample_catalog()).await;
            (db, store)
        });
        Fixture {
            runtime,
            store: Arc::new(store),
            shows: 1,
            sales: 0,
            _db: db,
        }
    }

    /// `n` sales of one seat each, on shows created as needed (untimed).
    fn next_batch(&mut self, n: usize) -> Vec<SaleRecord> {
        let mut batch = Vec::with_capacity(n);
        for _ in 0..n {
            let show_index = self.sales / SEATS_PER_SHOW;
            let seat = (self.sales % SEATS_PER_SHOW) as u32;
            while show_index >= self.shows {
                let mut show: Show = sample_catalog().shows[0].clone();
                show.id = SAMPLE_SHOW_ID + self.shows;
                let store = self.store.clone();
                self.runtime
                    .block_on(async move { store.upsert_show(&show).await })
                    .expect("another show");
                self.shows += 1;
            }
            let code = format!("B{:09}", self.sales);
            let mut sale = sample_sale(&code, 1, &[seat], PaymentMethod::Card, 1_000 + self.sales);
            sale.booking.show_id = SAMPLE_SHOW_ID + show_index;
            batch.push(sale);
            self.sales += 1;
        }
        batch
    }
}

fn group_commit(c: &mut Criterion) {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!(
            "group_commit: DATABASE_URL is not set; skipping the MySQL group-commit benchmark \
             (set it to e.g. mysql://root@127.0.0.1:3306)"
        );
        return;
    };
    let mut fixture = Fixture::new(&url);
    let mut group = c.benchmark_group("group_commit");
    group.sample_size(10);
    for batch in [1usize, 16, 128] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("commit_sales", batch), &batch, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let sales = fixture.next_batch(n);
                    let store = fixture.store.clone();
                    let started = Instant::now();
                    let outcomes = fixture
                        .runtime
                        .block_on(async move { store.commit_sales(&sales).await });
                    total += started.elapsed();
                    assert!(
                        outcomes.len() == n
                            && outcomes.iter().all(|o| *o == SaleOutcome::Committed),
                        "every sale of the batch commits: {outcomes:?}"
                    );
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, group_commit);
criterion_main!(benches);
