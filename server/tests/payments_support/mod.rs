//! A node with online payments over real HTTP: the local gateway simulator (in-process, on
//! 127.0.0.1), the Razorpay client pointed at it, the node's webhook listener, and a real
//! MariaDB database. Helpers to buy through the checkout and to read both ledgers.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cinebook_gateway::razorpay::{RazorpayConfig, RazorpayGateway};
use cinebook_paysim::{SimConfig, SimHandle, Simulator, SwitchesPatch};
use cinebook_protocol::types::{PaymentOrderInfo, PaymentOrderState, Role};
use cinebook_protocol::{ErrorBody, Reply, Request};
use cinebook_server::node::payments::PaymentConfig;
use cinebook_server::store::payments::PaymentStore;
use cinebook_server::Config;
use tokio::net::TcpListener;

use super::support::{test_config, TestClient, TestNode};

/// How long a test waits for something asynchronous (webhooks, the reconciler).
pub const SETTLE_WAIT_MS: u64 = 10_000;

/// A paying node.
pub struct PayNode {
    pub node: TestNode,
    pub sim: SimHandle,
    pub webhook_url: String,
    pub payment_window_ms: u64,
}

/// The client's request timeout in the tests: a hung gateway call is a timeout after this.
pub const GATEWAY_TIMEOUT_MS: u64 = 800;

pub fn gateway_for(sim: &SimHandle) -> Arc<RazorpayGateway> {
    let defaults = SimConfig::default();
    let mut config = RazorpayConfig::new(
        &sim.base_url(),
        &defaults.key_id,
        &defaults.key_secret,
        &defaults.webhook_secret,
    );
    config.request_timeout_ms = GATEWAY_TIMEOUT_MS;
    config.connect_timeout_ms = GATEWAY_TIMEOUT_MS;
    Arc::new(RazorpayGateway::new(config).expect("gateway client"))
}

/// The node's config with payments through `sim`; the reconciler's own timer is an hour (the
/// tests run passes themselves with `reconcile_once`, except at start-up).
pub fn pay_config(sim: &SimHandle, payment_window_ms: u64) -> Config {
    let mut payments = PaymentConfig::new(gateway_for(sim));
    payments.payment_window_ms = payment_window_ms;
    payments.reconcile_interval_ms = 3_600_000;
    payments.gateway_call_timeout_ms = GATEWAY_TIMEOUT_MS * 2;
    payments.gateway_attempts_max = 4;
    payments.gateway_retry_backoff_ms = 20;
    Config {
        payments: Some(payments),
        ..test_config()
    }
}

impl PayNode {
    /// A node whose holds wait `payment_window_ms` for their payment.
    pub async fn start(payment_window_ms: u64, seed: u64) -> PayNode {
        let sim = Simulator::start(SimConfig {
            seed,
            ..SimConfig::default()
        })
        .await
        .expect("simulator");
        let node = TestNode::start_with(pay_config(&sim, payment_window_ms), None).await;
        let webhook_url = serve_webhooks(&node, &sim).await;
        PayNode {
            node,
            sim,
            webhook_url,
            payment_window_ms,
        }
    }

    /// Stops the node and starts a new one on the same database and simulator (memory lost:
    /// holds, indexes; what a crash loses, too).
    pub async fn restart(self) -> PayNode {
        let PayNode {
            node,
            sim,
            payment_window_ms,
            ..
        } = self;
        let node = node.restart(pay_config(&sim, payment_window_ms)).await;
        let webhook_url = serve_webhooks(&node, &sim).await;
        PayNode {
            node,
            sim,
            webhook_url,
            payment_window_ms,
        }
    }

    /// [`PayNode::restart`] with a config changed by `adjust`.
    pub async fn restart_with(self, adjust: impl FnOnce(&mut Config)) -> PayNode {
        let PayNode {
            node,
            sim,
            payment_window_ms,
            ..
        } = self;
        let mut config = pay_config(&sim, payment_window_ms);
        adjust(&mut config);
        let node = node.restart(config).await;
        let webhook_url = serve_webhooks(&node, &sim).await;
        PayNode {
            node,
            sim,
            webhook_url,
            payment_window_ms,
        }
    }

    pub fn switch(&self, patch: SwitchesPatch) {
        self.sim.control().apply(patch).expect("switches");
    }

    pub fn store(&self) -> &dyn PaymentStore {
        self.node.store.payments().expect("payment store")
    }

    pub async fn client(&self, role: Role, index: usize) -> TestClient {
        self.node.client(role, index).await
    }

    pub async fn stop(self) {
        self.sim.shutdown().await;
        self.node.stop().await;
    }

    /// Polls the order until `done` holds (or panics after [`SETTLE_WAIT_MS`]).
    pub async fn wait_order(
        &self,
        order_id: u64,
        done: impl Fn(&cinebook_server::store::payments::OrderRecord) -> bool,
    ) -> cinebook_server::store::payments::OrderRecord {
        let deadline = Instant::now() + Duration::from_millis(SETTLE_WAIT_MS);
        loop {
            let order = self
                .store()
                .order(order_id)
                .await
                .expect("store")
                .expect("order");
            if done(&order) {
                return order;
            }
            assert!(Instant::now() < deadline, "order never settled: {order:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Gateway bookings in MySQL: (code, payment reference, status).
    pub async fn gateway_bookings(&self) -> Vec<(String, Option<String>, String)> {
        use mysql_async::prelude::Queryable;
        let mut conn = self.node.mysql().await;
        let rows = conn
            .query(
                "SELECT b.code, p.reference, b.status FROM bookings b JOIN payments p \
                 ON p.code = b.code WHERE p.method = 'gateway' ORDER BY b.code",
            )
            .await
            .expect("bookings");
        drop(conn);
        rows
    }
}

async fn serve_webhooks(node: &TestNode, sim: &SimHandle) -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("webhook listener");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(cinebook_server::metrics::serve_http(
        listener,
        node.server.node.clone(),
    ));
    let url = format!("http://{addr}/payments/webhook");
    sim.set_webhook_url(Some(&url)).expect("webhook url");
    url
}

/// The order of a `PaymentOrder` reply.
pub fn order_of(reply: Result<Reply, ErrorBody>) -> PaymentOrderInfo {
    match reply {
        Ok(Reply::PaymentOrder(info)) => info,
        other => panic!("expected a payment order, got {other:?}"),
    }
}

/// Starts a payment for `hold_id` with `key`.
pub async fn create(client: &mut TestClient, hold_id: u64, key: &str) -> Result<Reply, ErrorBody> {
    client
        .call(Request::CreatePaymentOrder {
            hold_id,
            idempotency_key: key.to_owned(),
        })
        .await
}

/// The checkout result sent back to the node.
pub async fn verify(
    client: &mut TestClient,
    order_id: u64,
    payment_id: &str,
    signature: &str,
) -> Result<Reply, ErrorBody> {
    client
        .call(Request::VerifyCheckout {
            order_id,
            payment_id: payment_id.to_owned(),
            signature: signature.to_owned(),
        })
        .await
}

/// Whether an order is final.
pub fn settled(order: &cinebook_server::store::payments::OrderRecord) -> bool {
    order.state.is_final()
}

/// Whether an order is booked.
pub fn booked_state(order: &cinebook_server::store::payments::OrderRecord) -> bool {
    order.state == PaymentOrderState::Booked
}
