//! The cluster as real processes: three `cinebook-server` nodes on 127.0.0.1 over one MariaDB
//! database. Sell under load, SIGKILL the leader, measure how long until writes are accepted
//! again, and check that no acknowledged sale was lost and no seat sold twice.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cinebook_protocol::types::{NodeRole, Payment, PaymentMethod, Role, SeatSelection};
use cinebook_protocol::{ErrorCode, Reply, Request};
use cinebook_server::node::auth;
use cinebook_server::store::Store;
use cinebook_server::testing::{sample_catalog, seed_catalog, TestDatabase};
use mysql_async::prelude::Queryable;
use parking_lot::Mutex;
use support::{TestClient, SHOW};

/// An acknowledged sale: booking code and seats.
type Sale = (String, Vec<u32>);

const SECRET: &str = "cluster-test-secret-0123456789";

struct Cluster {
    nodes: BTreeMap<u32, (SocketAddr, Option<Child>)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in self.nodes.values_mut() {
            if let Some(child) = child {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

fn start_node(id: u32, addr: SocketAddr, peers: &str, db: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cinebook-server"))
        .args([
            "--database",
            db,
            "--listen",
            &addr.to_string(),
            "--node-id",
            &id.to_string(),
            "--peers",
            peers,
        ])
        .env("CINEBOOK_CLUSTER_SECRET", SECRET)
        .env("CINEBOOK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cinebook-server")
}

async fn role_of(addr: SocketAddr) -> Option<NodeRole> {
    match TestClient::try_connect(addr, None).await?.welcome {
        Some(Reply::Welcome { node_role, .. }) => Some(node_role),
        _ => None,
    }
}

async fn wait_for_leader(cluster: &Cluster, within: Duration) -> Option<u32> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        for (id, (addr, child)) in &cluster.nodes {
            if child.is_some() && role_of(*addr).await == Some(NodeRole::Leader) {
                return Some(*id);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Holds one seat through any live node, following NotLeader; with `key`, confirms it too.
/// Returns the booking's (code, seats) when acknowledged (or an empty code for a bare hold).
async fn sell_one(
    addrs: &[SocketAddr],
    token: &str,
    key: Option<&str>,
) -> Result<(String, Vec<u32>), ErrorCode> {
    let mut target = addrs[0];
    for attempt in 0..6 {
        let Some(mut client) = TestClient::try_connect(target, Some(token.to_owned())).await else {
            target = addrs[(attempt + 1) % addrs.len()];
            continue;
        };
        let request = Request::Hold {
            show_id: SHOW,
            selection: SeatSelection::Best {
                count: 1,
                category: None,
            },
            idempotency_key: None,
        };
        let Some(hold) = client.try_call(request).await else {
            return Err(ErrorCode::Unavailable);
        };
        let hold = match hold {
            Ok(Reply::Held(hold)) => hold,
            Err(e) => match e.code {
                ErrorCode::NotLeader {
                    leader: Some(leader),
                } => {
                    target = leader.parse().map_err(|_| ErrorCode::Internal)?;
                    continue;
                }
                code => return Err(code),
            },
            Ok(other) => panic!("unexpected {other:?}"),
        };
        let Some(key) = key else {
            let _ = client
                .try_call(Request::Release {
                    hold_id: hold.hold_id,
                })
                .await;
            return Ok((String::new(), hold.seats));
        };
        let payment = Payment {
            method: PaymentMethod::Card,
            amount: hold.total.clone(),
            reference: None,
        };
        let confirm = Request::Confirm {
            hold_id: hold.hold_id,
            payment,
            idempotency_key: key.to_owned(),
        };
        // A confirm whose connection broke has an unknown outcome: not counted as acknowledged.
        return match client.try_call(confirm).await {
            Some(Ok(Reply::Booking(b))) => {
                Ok((b.code, b.seats.iter().map(|s| s.seat_id).collect()))
            }
            Some(Err(e)) => Err(e.code),
            Some(Ok(other)) => panic!("unexpected {other:?}"),
            None => Err(ErrorCode::Unavailable),
        };
    }
    Err(ErrorCode::Unavailable)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_loses_no_sale_and_sells_no_seat_twice() {
    let db = TestDatabase::create().await;
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    seed_catalog(&store, &sample_catalog()).await;
    let token = auth::new_token();
    store
        .add_terminal("box-office", Role::BoxOffice, &auth::token_sha256(&token))
        .await
        .expect("terminal");

    let addrs: BTreeMap<u32, SocketAddr> = (1..=3).map(|id| (id, free_addr())).collect();
    let peers: String = addrs
        .iter()
        .map(|(id, a)| format!("{id}={a}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut cluster = Cluster {
        nodes: BTreeMap::new(),
    };
    for (id, addr) in &addrs {
        cluster
            .nodes
            .insert(*id, (*addr, Some(start_node(*id, *addr, &peers, &db.url))));
    }
    let leader = wait_for_leader(&cluster, Duration::from_secs(15))
        .await
        .expect("a leader is elected");
    assert_eq!(leader, 3, "bully: the highest node leads");

    // Sell under load from four sellers, through whichever node they reach.
    let all: Vec<SocketAddr> = addrs.values().copied().collect();
    let acked: Arc<Mutex<Vec<Sale>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut sellers = Vec::new();
    for seller in 0..4 {
        let (all, token, acked, stop) = (all.clone(), token.clone(), acked.clone(), stop.clone());
        sellers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                n += 1;
                match sell_one(&all, &token, Some(&format!("s{seller}-{n}"))).await {
                    Ok(sale) => acked.lock().push(sale),
                    Err(ErrorCode::SoldOut) => break,
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
                // Pace the sellers so the 400 seats last through the failover.
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = acked.lock().len();
    assert!(before > 0, "sales went through before the failover");

    // SIGKILL the leader and time the failover: until a write is accepted by another node.
    let killed_at = Instant::now();
    if let Some((_, Some(child))) = cluster.nodes.get_mut(&leader) {
        child.kill().expect("kill -9 the leader");
        let _ = child.wait();
    }
    cluster.nodes.get_mut(&leader).expect("leader").1 = None;
    let survivors: Vec<SocketAddr> = cluster
        .nodes
        .values()
        .filter(|(_, c)| c.is_some())
        .map(|(a, _)| *a)
        .collect();
    let mut probe = 0;
    let failover = loop {
        probe += 1;
        let _ = probe;
        if sell_one(&survivors, &token, None).await.is_ok() {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(20),
            "no leader took over within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "failover: writes accepted again {} ms after SIGKILL of the leader",
        failover.as_millis()
    );
    let new_leader = wait_for_leader(&cluster, Duration::from_secs(5))
        .await
        .expect("new leader");
    assert_eq!(new_leader, 2, "bully: the highest live node leads");

    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::Release);
    for seller in sellers {
        let _ = tokio::time::timeout(Duration::from_secs(30), seller).await;
    }
    let acked = acked.lock().clone();
    assert!(acked.len() > before, "sales went on after the failover");

    // Every acknowledged sale is stored with the same seats; no seat is sold twice.
    let mut conn = mysql_async::Conn::from_url(db.url.as_str())
        .await
        .expect("mysql");
    let rows: Vec<(String, u32)> = conn
        .query("SELECT code, seat_id FROM booking_seats")
        .await
        .expect("rows");
    let mut stored: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut seats = HashSet::new();
    for (code, seat) in rows {
        assert!(seats.insert(seat), "seat {seat} sold twice");
        stored.entry(code).or_default().push(seat);
    }
    for (code, mut want) in acked.clone() {
        let mut got = stored
            .get(&code)
            .cloned()
            .unwrap_or_else(|| panic!("acknowledged sale {code} lost"));
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want, "sale {code} stored with other seats");
    }
    // The surviving follower converges to the new leader's seat map.
    let follower = *addrs.get(&1).expect("node 1");
    let leader_addr = *addrs.get(&new_leader).expect("leader");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut a = TestClient::connect(leader_addr, None).await;
        let mut b = TestClient::connect(follower, None).await;
        let (Ok(Reply::SeatMap(ma)), Ok(Reply::SeatMap(mb))) = (
            a.call(Request::GetSeatMap { show_id: SHOW }).await,
            b.call(Request::GetSeatMap { show_id: SHOW }).await,
        ) else {
            panic!("seat maps")
        };
        if ma.states == mb.states {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the follower did not converge to the leader's seat map"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(conn);
    drop(cluster);
    db.drop_database().await;
}
