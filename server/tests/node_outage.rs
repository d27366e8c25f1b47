//! Node tests over real TCP and real MariaDB: MySQL goes away and comes back, a commit's
//! acknowledgement is lost, and the node restarts.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cinebook_protocol::types::{
    City, Movie, PaymentMethod, Role, Screen, SeatId, SeatState, ShiftReport, Show, ShowId,
    TerminalId, Theater,
};
use cinebook_protocol::{ErrorCode, Reply, Request};
use cinebook_server::store::SeatRefundRecord;
use cinebook_server::store::{
    BlockRecord, CancelRecord, CatalogChanges, CatalogData, ExternalId, SaleOutcome, SaleRecord,
    Store, StoreError, StoredBooking, TerminalRecord,
};
use cinebook_server::testing::MysqlProxy;
use mysql_async::prelude::Queryable;
use support::{
    booked, error_of, held, mysql_store, prepare_database, test_config, TestClient, TestNode, SHOW,
};

/// The seats of each booking in MySQL, by code.
async fn stored_seats(node: &TestNode) -> Vec<(String, u32)> {
    let mut conn = node.mysql().await;
    let rows = conn
        .query("SELECT code, seat_id FROM booking_seats ORDER BY seat_id")
        .await
        .expect("query");
    drop(conn);
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_mysql_is_away_sales_answer_unavailable_and_succeed_once_it_is_back() {
    let (db, tokens) = prepare_database().await;
    let proxy = MysqlProxy::start(&db).await;
    let store = mysql_store(&proxy.url(&db)).await;
    let node = TestNode::start_on(db, tokens, test_config(), store).await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["H1", "H2"]).await);

    proxy.cut();
    // Holds and reads go on.
    let other = held(office.hold_seats(SHOW, &["H5"]).await);
    let map = office.seat_map(SHOW).await;
    assert_eq!(map.summary.seats_free, 397);
    assert!(matches!(
        office.call(Request::ListShows(Default::default())).await,
        Ok(Reply::Shows(_))
    ));
    // A confirm answers Unavailable, in bounded time, as often as it is retried.
    for attempt in 0..2 {
        let started = Instant::now();
        let error = error_of(kiosk.confirm(&hold, PaymentMethod::Card, "outage-1").await);
        assert_eq!(
            error.code,
            ErrorCode::Unavailable,
            "attempt {attempt}: {error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "Unavailable took {:?}",
            started.elapsed()
        );
    }
    // The seats stay held by the same hold: nobody else gets them, the owner can renew it.
    let map = office.seat_map(SHOW).await;
    for seat in &hold.seats {
        assert_eq!(map.states[*seat as usize], SeatState::Held);
    }
    let error = error_of(office.hold_seats(SHOW, &["H1"]).await);
    assert!(
        matches!(error.code, ErrorCode::SeatUnavailable { .. }),
        "{error:?}"
    );
    let renewed = held(
        kiosk
            .call(Request::Renew {
                hold_id: hold.hold_id,
            })
            .await,
    );
    assert_eq!(renewed.seats, hold.seats);

    // MySQL is back: the same confirm with the same key succeeds, without a restart.
    proxy.restore();
    let booking = booked(kiosk.confirm(&hold, PaymentMethod::Card, "outage-1").await);
    let seats: Vec<u32> = booking.seats.iter().map(|s| s.seat_id).collect();
    assert_eq!(seats, hold.seats);
    let again = booked(kiosk.confirm(&hold, PaymentMethod::Card, "outage-1").await);
    assert_eq!(again, booking);
    let theirs = booked(
        office
            .confirm(&other, PaymentMethod::Cash, "outage-2")
            .await,
    );
    let mut expected: Vec<(String, u32)> = seats
        .iter()
        .map(|s| (booking.code.clone(), *s))
        .chain(
            theirs
                .seats
                .iter()
                .map(|s| (theirs.code.clone(), s.seat_id)),
        )
        .collect();
    expected.sort_by_key(|(_, seat)| *seat);
    assert_eq!(stored_seats(&node).await, expected);

    // A restart on the same database rebuilds the sold seats from MySQL.
    drop((kiosk, office));
    let node = node.restart(test_config()).await;
    drop(proxy);
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let map = kiosk.seat_map(SHOW).await;
    for (_, seat) in &expected {
        assert_eq!(map.states[*seat as usize], SeatState::Sold);
    }
    assert_eq!(map.summary.seats_free, 397);
    let found = booked(
        kiosk
            .call(Request::GetBooking {
                code: booking.code.clone(),
            })
            .await,
    );
    assert_eq!(found, booking);
    // A confirm retried with the same key still returns the same booking.
    let retried = booked(kiosk.confirm(&hold, PaymentMethod::Card, "outage-1").await);
    assert_eq!(retried, booking);
    // Sold seats cannot be held again; the rest of the show sells as usual.
    let error = error_of(kiosk.hold_seats(SHOW, &["H1"]).await);
    assert!(
        matches!(error.code, ErrorCode::SeatUnavailable { .. }),
        "{error:?}"
    );
    let hold = held(kiosk.hold_seats(SHOW, &["H3"]).await);
    booked(
        kiosk
            .confirm(&hold, PaymentMethod::Card, "after-restart")
            .await,
    );
    assert_eq!(stored_seats(&node).await.len(), 4);
    node.stop().await;
}

/// A store that commits for real but reports the first `lose` commits as failed: a COMMIT whose
/// acknowledgement was lost with the connection.
struct LostAcks {
    inner: Arc<dyn Store>,
    lose: AtomicU32,
}

#[async_trait]
impl Store for LostAcks {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.migrate().await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn audit_trail(
        &self,
        show_id: u64,
    ) -> Result<Vec<cinebook_protocol::cluster::AuditEntry>, StoreError> {
        self.inner.audit_trail(show_id).await
    }
    async fn load_catalog(&self) -> Result<CatalogData, StoreError> {
        self.inner.load_catalog().await
    }
    async fn upsert_city(&self, city: &City) -> Result<(), StoreError> {
        self.inner.upsert_city(city).await
    }
    async fn upsert_theater(&self, theater: &Theater) -> Result<(), StoreError> {
        self.inner.upsert_theater(theater).await
    }
    async fn upsert_screen(&self, screen: &Screen) -> Result<(), StoreError> {
        self.inner.upsert_screen(screen).await
    }
    async fn upsert_movie(&self, movie: &Movie) -> Result<(), StoreError> {
        self.inner.upsert_movie(movie).await
    }
    async fn upsert_show(&self, show: &Show) -> Result<(), StoreError> {
        self.inner.upsert_show(show).await
    }
    async fn load_external_ids(&self) -> Result<Vec<ExternalId>, StoreError> {
        self.inner.load_external_ids().await
    }
    async fn apply_catalog(&self, changes: &CatalogChanges) -> Result<(), StoreError> {
        self.inner.apply_catalog(changes).await
    }
    async fn load_bookings(&self) -> Result<Vec<StoredBooking>, StoreError> {
        self.inner.load_bookings().await
    }
    async fn commit_sales(&self, sales: &[SaleRecord]) -> Vec<SaleOutcome> {
        let outcomes = self.inner.commit_sales(sales).await;
        let lost = self
            .lose
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if lost {
            let why = "test: the connection broke during COMMIT".to_owned();
            return vec![SaleOutcome::Unknown(why); sales.len()];
        }
        outcomes
    }
    async fn resolve_sale(&self, code: &str) -> Result<Option<StoredBooking>, StoreError> {
        self.inner.resolve_sale(code).await
    }
    async fn sale_by_key(
        &self,
        terminal_id: TerminalId,
        idempotency_key: &str,
    ) -> Result<Option<StoredBooking>, StoreError> {
        self.inner.sale_by_key(terminal_id, idempotency_key).await
    }
    async fn commit_block(&self, block: &BlockRecord) -> Result<(), StoreError> {
        self.inner.commit_block(block).await
    }
    async fn load_blocked_seats(&self) -> Result<Vec<(ShowId, SeatId)>, StoreError> {
        self.inner.load_blocked_seats().await
    }
    async fn commit_cancel(&self, cancel: &CancelRecord) -> Result<(), StoreError> {
        self.inner.commit_cancel(cancel).await
    }
    async fn commit_seat_refund(&self, refund: &SeatRefundRecord) -> Result<(), StoreError> {
        self.inner.commit_seat_refund(refund).await
    }
    async fn commit_admission(
        &self,
        record: &cinebook_server::store::AdmissionRecord,
    ) -> Result<cinebook_server::store::AdmitOutcome, StoreError> {
        self.inner.commit_admission(record).await
    }
    async fn add_terminal(
        &self,
        name: &str,
        role: Role,
        token_sha256: &str,
    ) -> Result<TerminalId, StoreError> {
        self.inner.add_terminal(name, role, token_sha256).await
    }
    async fn terminal_by_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<TerminalRecord>, StoreError> {
        self.inner.terminal_by_token(token_sha256).await
    }
    async fn list_terminals(&self) -> Result<Vec<TerminalRecord>, StoreError> {
        self.inner.list_terminals().await
    }
    async fn revoke_terminal(&self, id: TerminalId) -> Result<(), StoreError> {
        self.inner.revoke_terminal(id).await
    }
    async fn shift_report(
        &self,
        terminal_id: TerminalId,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<ShiftReport, StoreError> {
        self.inner.shift_report(terminal_id, from_ms, to_ms).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_whose_commit_acknowledgement_was_lost_is_retried_into_the_same_booking() {
    let (db, tokens) = prepare_database().await;
    let inner = mysql_store(&db.url).await;
    let store = Arc::new(LostAcks {
        inner,
        lose: AtomicU32::new(1),
    });
    let node = TestNode::start_on(db, tokens, test_config(), store).await;
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["L7", "L8"]).await);
    // The outcome is unknown, never a failure: the node keeps the seats pinned, reads MySQL and
    // learns the sale was committed. The first answer is the booking or `OutcomeUnknown`
    // (depending on whether the resolver was faster than the answer).
    let first = kiosk.confirm(&hold, PaymentMethod::Card, "lost-ack").await;
    assert!(
        matches!(&first, Ok(Reply::Booking(_)))
            || matches!(&first, Err(e) if e.code == ErrorCode::OutcomeUnknown),
        "{first:?}"
    );
    let committed = stored_seats(&node).await;
    assert_eq!(committed.len(), 2);
    // The retry with the same key is that very booking, not a conflict or a second sale.
    let booking = booked(kiosk.confirm(&hold, PaymentMethod::Card, "lost-ack").await);
    assert_eq!(booking.code, committed[0].0);
    assert_eq!(stored_seats(&node).await, committed);
    let map = kiosk.seat_map(SHOW).await;
    assert_eq!(map.states[hold.seats[0] as usize], SeatState::Sold);
    let mut conn = node.mysql().await;
    let bookings: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM bookings")
        .await
        .expect("count");
    assert_eq!(bookings, Some(1));
    drop(conn);
    // A guest watching sees the seats sold too.
    let mut guest = TestClient::connect(node.addr(), None).await;
    assert_eq!(guest.seat_map(SHOW).await.summary.seats_free, 398);
    node.stop().await;
}
