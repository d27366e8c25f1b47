//! Faults around a sale's commit, over real TCP and real MariaDB (issue 12): the database stops
//! answering while sixteen sellers confirm (the ghost sale), and injected panics in a worker and
//! in the writer. Afterwards memory equals the database seat for seat, every sale a client was
//! told failed is absent, every acknowledged one present, and no hold is left pinned.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cinebook_protocol::types::{PaymentMethod, Role, SeatState};
use cinebook_protocol::{ErrorCode, Reply};
use cinebook_server::node::faults::FaultPoint;
use cinebook_server::testing::{MysqlProxy, ProxyFault};
use mysql_async::prelude::Queryable;
use support::{held, mysql_store, prepare_database, test_config, TestClient, TestNode, SHOW};

const SELLERS: usize = 16;

/// What one seller was told, by booking code or key.
#[derive(Debug, Default)]
struct Told {
    /// Booking code → seat ids, for every confirm answered with a booking.
    sold: BTreeMap<String, Vec<u32>>,
    /// Seat ids of every confirm answered with a definite failure (not `OutcomeUnknown`).
    failed: Vec<Vec<u32>>,
}

/// Confirms `hold` with `key`, retrying while the answer is retryable, for at most `within`.
async fn confirm_until_definite(
    client: &mut TestClient,
    hold: &cinebook_protocol::types::HoldInfo,
    key: &str,
    within: Duration,
) -> Result<Reply, cinebook_protocol::ErrorBody> {
    let deadline = Instant::now() + within;
    loop {
        let answer = client.confirm(hold, PaymentMethod::Cash, key).await;
        match &answer {
            Err(e) if e.code.is_retryable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => return answer,
        }
    }
}

/// Every seat id that MariaDB says is sold, with its booking code.
async fn stored_owners(node: &TestNode) -> BTreeMap<u32, String> {
    let mut conn = node.mysql().await;
    let rows: Vec<(u32, String)> = conn
        .exec(
            "SELECT seat_id, code FROM booking_seats WHERE show_id = ?",
            (SHOW,),
        )
        .await
        .expect("query");
    rows.into_iter().collect()
}

/// Waits until no hold of the show is pinned (every outcome settled), at most `within`: the
/// seat map shows a pinned hold as held, so poll until memory and MariaDB agree.
async fn settle(node: &TestNode, within: Duration) -> (Vec<SeatState>, BTreeMap<u32, String>) {
    let deadline = Instant::now() + within;
    let mut guest = TestClient::connect(node.addr(), None).await;
    loop {
        let map = guest.seat_map(SHOW).await;
        let owners = stored_owners(node).await;
        let agree = map.states.iter().enumerate().all(|(seat, state)| {
            (*state == SeatState::Sold) == owners.contains_key(&(seat as u32))
        });
        if agree || Instant::now() > deadline {
            return (map.states, owners);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How MariaDB goes away in the middle of the sellers' commits.
#[derive(Debug, Clone, Copy)]
enum Outage {
    /// Every connection cut, none accepted, for 4 s.
    Cut,
    /// A COMMIT reaches MariaDB, no answer comes back for 4 s (the SIGSTOP).
    StallAtCommit,
    /// A COMMIT reaches MariaDB, every connection is closed before its answer.
    DropAtCommit,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_stalled_past_every_timeout_never_makes_a_ghost_sale() {
    sixteen_sellers_through(Outage::StallAtCommit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_lost_with_the_connection_never_makes_a_ghost_sale() {
    sixteen_sellers_through(Outage::DropAtCommit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_cut_off_mid_sale_never_makes_a_ghost_sale() {
    sixteen_sellers_through(Outage::Cut).await;
}

async fn sixteen_sellers_through(outage: Outage) {
    let (db, tokens) = prepare_database().await;
    let proxy = MysqlProxy::start(&db).await;
    let store = mysql_store(&proxy.url(&db)).await;
    let config = cinebook_server::Config {
        store_timeout_ms: 1_500,
        ..test_config()
    };
    let node = Arc::new(TestNode::start_on(db, tokens, config, store).await);
    let mut sellers = Vec::new();
    for seller in 0..SELLERS {
        let node = node.clone();
        sellers.push(tokio::spawn(async move {
            let mut client = node.client(Role::BoxOffice, seller % 2).await;
            let mut told = Told::default();
            let row = char::from(b'A' + seller as u8);
            let started = Instant::now();
            let mut round = 0;
            while started.elapsed() < Duration::from_secs(6) {
                round += 1;
                let label = format!("{row}{}", round % 20 + 1);
                let Ok(Reply::Held(hold)) = client.hold_seats(SHOW, &[label.as_str()]).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let key = format!("ghost-{seller}-{round}");
                match confirm_until_definite(&mut client, &hold, &key, Duration::from_secs(30))
                    .await
                {
                    Ok(Reply::Booking(b)) => {
                        told.sold.insert(b.code, hold.seats.clone());
                    }
                    Ok(other) => panic!("unexpected reply {other:?}"),
                    Err(e) if e.code == ErrorCode::OutcomeUnknown => {}
                    Err(_) => told.failed.push(hold.seats.clone()),
                }
                // A cashier's pace: the row of 20 seats lasts through the outage.
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            told
        }));
    }
    // Let sales flow, then take MariaDB away for longer than every timeout.
    tokio::time::sleep(Duration::from_millis(800)).await;
    match outage {
        Outage::Cut => proxy.cut(),
        Outage::StallAtCommit => proxy.arm(b"COMMIT", ProxyFault::Stall),
        Outage::DropAtCommit => proxy.arm(b"COMMIT", ProxyFault::Drop),
    }
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    assert!(
        !proxy.is_armed(),
        "{outage:?}: no COMMIT passed while armed"
    );
    proxy.restore();
    proxy.resume();
    let mut sold = BTreeMap::new();
    let mut failed = Vec::new();
    for seller in sellers {
        let told = seller.await.expect("seller");
        sold.extend(told.sold);
        failed.extend(told.failed);
    }
    let (states, owners) = settle(&node, Duration::from_secs(20)).await;
    for (seat, state) in states.iter().enumerate() {
        assert_eq!(
            *state == SeatState::Sold,
            owners.contains_key(&(seat as u32)),
            "seat {seat}: memory says {state:?}, MariaDB's owner is {:?}",
            owners.get(&(seat as u32))
        );
    }
    for (code, seats) in &sold {
        for seat in seats {
            assert_eq!(
                owners.get(seat),
                Some(code),
                "acknowledged sale {code} lost"
            );
        }
    }
    let sold_seats: BTreeSet<u32> = sold.values().flatten().copied().collect();
    for seats in &failed {
        for seat in seats {
            // A seat a client was told failed may have been sold again later, but never by
            // that failed attempt: it belongs to an acknowledged booking or to nobody.
            if let Some(owner) = owners.get(seat) {
                assert!(
                    sold.contains_key(owner) || !sold_seats.contains(seat),
                    "seat {seat} was refused to its buyer but is stored as {owner}"
                );
            }
        }
    }
    assert!(!sold.is_empty(), "no sale went through at all");
    match Arc::try_unwrap(node) {
        Ok(node) => node.stop().await,
        Err(_) => panic!("node still shared"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_panic_fails_one_request_and_the_node_sells_on() {
    let node = TestNode::start().await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let hold = held(office.hold_seats(SHOW, &["B1"]).await);
    // More panics than there are workers: a dead worker pool would stall everything after.
    node.server.node.faults.arm(FaultPoint::Worker, 4);
    for _ in 0..4 {
        let answer = office.hold_seats(SHOW, &["B5"]).await;
        assert!(
            matches!(&answer, Err(e) if e.code == ErrorCode::Internal),
            "{answer:?}"
        );
    }
    let sold = office
        .confirm(&hold, PaymentMethod::Cash, "after-panic")
        .await;
    assert!(matches!(sold, Ok(Reply::Booking(_))), "{sold:?}");
    let map = office.seat_map(SHOW).await;
    assert_eq!(map.states[hold.seats[0] as usize], SeatState::Sold);
    drop(office);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_panic_before_the_commit_leaks_no_pin() {
    let node = TestNode::start().await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let hold = held(office.hold_seats(SHOW, &["C3"]).await);
    node.server.node.faults.arm(FaultPoint::WriterCommit, 1);
    let first = office
        .confirm(&hold, PaymentMethod::Cash, "writer-panic")
        .await;
    assert!(first.is_err(), "the writer died with the sale: {first:?}");
    // The pin audit finds the orphaned sale, reads the store (not there) and unpins: the hold
    // is still the customer's, and a retry sells it.
    let sold =
        confirm_until_definite(&mut office, &hold, "writer-panic", Duration::from_secs(10)).await;
    assert!(matches!(sold, Ok(Reply::Booking(_))), "{sold:?}");
    let (states, owners) = settle(&node, Duration::from_secs(5)).await;
    assert_eq!(states[hold.seats[0] as usize], SeatState::Sold);
    assert_eq!(owners.len(), 1);
    drop(office);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_panic_after_the_commit_still_sells_the_seats() {
    let node = TestNode::start().await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let hold = held(office.hold_seats(SHOW, &["D4"]).await);
    node.server
        .node
        .faults
        .arm(FaultPoint::WriterAfterCommit, 1);
    // Durable in MariaDB, but the writer died before it told anyone: the pin audit adopts the
    // sale and resolves it to sold. The waiting confirm gets the booking, or `OutcomeUnknown` if
    // it gave up first — never a failure.
    let first = office
        .confirm(&hold, PaymentMethod::Cash, "after-commit")
        .await;
    assert!(
        matches!(&first, Ok(Reply::Booking(_)))
            || matches!(&first, Err(e) if e.code == ErrorCode::OutcomeUnknown),
        "{first:?}"
    );
    let sold =
        confirm_until_definite(&mut office, &hold, "after-commit", Duration::from_secs(10)).await;
    let Ok(Reply::Booking(booking)) = sold else {
        panic!("{sold:?}");
    };
    let (states, owners) = settle(&node, Duration::from_secs(5)).await;
    assert_eq!(states[hold.seats[0] as usize], SeatState::Sold);
    assert_eq!(owners.get(&hold.seats[0]), Some(&booking.code));
    drop(office);
    node.stop().await;
}
