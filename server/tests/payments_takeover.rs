//! Take-over (issue 14): a node that becomes the leader rebuilds the holds of open payment
//! orders the moment it takes over, so a capture arriving right after is booked, not refunded.
//! Real MariaDB, the simulator over real HTTP, a two-node cluster whose node 1 is down (node 2
//! starts as a follower, elects itself and takes over).

mod payments_support;
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cinebook_protocol::types::{NodeRole, PaymentOrderState, Role};
use cinebook_server::cluster::ClusterConfig;
use payments_support::{create, order_of, verify, PayNode};
use support::{held, SHOW};

const WINDOW_MS: u64 = 60_000;
const SECRET: &str = "payments-takeover-secret-0123456789";

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_rebuilds_payment_holds_when_it_takes_over() {
    let pay = PayNode::start(WINDOW_MS, 31).await;
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let hold = held(kiosk.hold_seats(SHOW, &["G1", "G2"]).await);
    let order = order_of(create(&mut kiosk, hold.hold_id, "takeover").await);
    assert_eq!(order.state, PaymentOrderState::AwaitingPayment);
    drop(kiosk);
    // The same database, now node 2 of a cluster: it starts as a follower (no start-up
    // restore), then takes over. Its reconciler's timer is an hour away.
    let addrs: BTreeMap<u32, SocketAddr> = [(1, free_addr()), (2, free_addr())].into();
    let pay = pay
        .restart_with(|config| {
            let peers = addrs.iter().map(|(id, a)| (*id, a.to_string())).collect();
            config.listen = addrs[&2];
            config.node_id = 2;
            config.cluster = Some(ClusterConfig::new(peers, SECRET.into()));
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while pay.node.server.node.node_role() != NodeRole::Leader {
        assert!(Instant::now() < deadline, "node 2 did not take the lead");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        pay.node.server.node.show_of_hold(hold.hold_id).is_some(),
        "the new leader has the payment's hold"
    );
    // The customer pays now: the sale goes through.
    let mut kiosk = pay.client(Role::Kiosk, 0).await;
    let gateway_order = order.gateway_order_id.clone().expect("gateway order");
    let paid = pay.sim.pay(&gateway_order).expect("pay");
    let done = order_of(
        verify(
            &mut kiosk,
            order.order_id,
            &paid.razorpay_payment_id,
            &paid.razorpay_signature,
        )
        .await,
    );
    assert_eq!(done.state, PaymentOrderState::Booked, "{done:?}");
    assert!(pay.sim.ledger().refunds.is_empty());
    pay.stop().await;
}
