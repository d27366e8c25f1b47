//! Shared by the simulator's tests: a simulator, a client for it, a webhook receiver.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use cinebook_gateway::razorpay::{RazorpayConfig, RazorpayGateway};
use cinebook_gateway::{GatewayOrder, OrderRequest, PaymentGateway};
use cinebook_paysim::{SimConfig, SimHandle, Simulator};
use parking_lot::Mutex;

pub async fn sim() -> SimHandle {
    sim_with(SimConfig::default()).await
}

pub async fn sim_with(config: SimConfig) -> SimHandle {
    Simulator::start(config).await.unwrap()
}

pub fn config_for(sim: &SimHandle) -> RazorpayConfig {
    let defaults = SimConfig::default();
    RazorpayConfig::new(
        &sim.base_url(),
        &defaults.key_id,
        &defaults.key_secret,
        &defaults.webhook_secret,
    )
}

pub fn client(sim: &SimHandle) -> RazorpayGateway {
    RazorpayGateway::new(config_for(sim)).unwrap()
}

pub fn order_request(amount_minor: u64, receipt: &str) -> OrderRequest {
    OrderRequest {
        amount_minor,
        currency: "INR".to_owned(),
        receipt: receipt.to_owned(),
        notes: vec![("show".to_owned(), "42".to_owned())],
    }
}

pub async fn new_order(client: &RazorpayGateway, amount_minor: u64) -> GatewayOrder {
    let receipt = format!("r-{amount_minor}-{}", rand_suffix());
    client
        .create_order(&order_request(amount_minor, &receipt))
        .await
        .unwrap()
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// One webhook as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: Option<String>,
    pub signature: String,
    pub body: Vec<u8>,
}

/// A webhook endpoint on 127.0.0.1:0 that records every POST and answers the statuses in
/// `answers` in turn (then 200).
#[derive(Debug, Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        let receiver = Receiver {
            url,
            received: Arc::new(Mutex::new(Vec::new())),
            answers: Arc::new(Mutex::new(Vec::new())),
        };
        let app = Router::new()
            .route("/webhook", post(record))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    /// The next POSTs answer these statuses, in order.
    pub fn answer(&self, statuses: &[u16]) {
        *self.answers.lock() = statuses.to_vec();
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().clone()
    }
}

async fn record(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    receiver.received.lock().push(Received {
        event_id: header("x-razorpay-event-id"),
        signature: header("x-razorpay-signature").unwrap_or_default(),
        body: body.to_vec(),
    });
    let mut answers = receiver.answers.lock();
    let status = if answers.is_empty() {
        200
    } else {
        answers.remove(0)
    };
    StatusCode::from_u16(status).unwrap()
}
