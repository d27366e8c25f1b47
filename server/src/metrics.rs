//! Operations: Prometheus metrics, `/healthz` and `/readyz` on one small HTTP listener
//! (`--metrics-listen`).
//!
//! The metrics are `prometheus-client` types: counters and gauges are atomics, histograms take a
//! short mutex per observation, and labelled families are looked up by `&'static str` labels (no
//! allocation after a label set's first use). Values that already live in the node (holds open,
//! queue depths, role, epoch, Lamport time) are not counted twice: they are read when Prometheus
//! scrapes.
//!
//! | path | answer |
//! | --- | --- |
//! | `/metrics` | the Prometheus text format |
//! | `/healthz` | 200 while the process serves HTTP (liveness) |
//! | `POST /payments/webhook` | a payment gateway's signed webhook (`node::payments::webhook`) |
//! | `/readyz` | 200 when the store answers a ping within [`READY_STORE_TIMEOUT_MS`] and, in a cluster, a leader is known; 503 with the reason otherwise |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cinebook_protocol::types::NodeRole;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::node::Node;

/// `/readyz` gives up on the store's ping after this long and answers 503.
pub const READY_STORE_TIMEOUT_MS: u64 = 1_000;
/// HTTP connections served at once on the metrics listener; more wait in the accept backlog.
pub const HTTP_CONNECTIONS_MAX: usize = 64;
/// A metrics client must send its request headers within this time.
pub const HTTP_HEADER_TIMEOUT_MS: u64 = 5_000;

/// Labels of `cinebook_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    /// The request type, as `Request::name` spells it.
    name: &'static str,
    /// `ok` or the error code's name.
    code: &'static str,
}

/// Label of the per-request-type latency histogram.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct NameLabel {
    name: &'static str,
}

/// Label of `cinebook_sale_outcomes_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabel {
    /// `committed`, `conflict`, `not_committed` or `unknown`.
    outcome: &'static str,
}

/// Label of `cinebook_node_role`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RoleLabel {
    role: &'static str,
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

/// Request latency buckets: 100 µs doubling to about 3.3 s.
fn request_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
}

/// Every metric of a node. One per node, shared by its connections, workers and writer.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    connections: Gauge,
    connections_refused: Counter,
    auth_failures: Counter,
    guest_pings_unanswered: Counter,
    requests: Family<RequestLabels, Counter>,
    request_seconds: HistogramFamily<NameLabel>,
    seats_sold: Counter,
    writer_batch_sales: Histogram,
    writer_commit_seconds: Histogram,
    holds_active: Gauge,
    sale_outcomes: Family<OutcomeLabel, Counter>,
    worker_panics: Counter,
    work_queue_depth: Gauge,
    writer_queue_depth: Gauge,
    node_role: Family<RoleLabel, Gauge>,
    leader_known: Gauge,
    epoch: Gauge,
    lamport: Gauge,
    /// Notifications: outbox lag, sends, retries, dead letters.
    pub notify: crate::notify::metrics::NotifyMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A `u64` as a gauge value (saturating at `i64::MAX`).
fn gauge_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Metrics {
    /// Every metric, registered under the `cinebook_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("cinebook");
        let metrics = Self {
            connections: Gauge::default(),
            connections_refused: Counter::default(),
            auth_failures: Counter::default(),
            guest_pings_unanswered: Counter::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(request_seconds),
            seats_sold: Counter::default(),
            // 1, 2, 4 … 2048 sales per transaction.
            writer_batch_sales: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            // 500 µs doubling to about 4 s.
            writer_commit_seconds: Histogram::new(exponential_buckets(0.000_5, 2.0, 14)),
            holds_active: Gauge::default(),
            sale_outcomes: Family::default(),
            worker_panics: Counter::default(),
            work_queue_depth: Gauge::default(),
            writer_queue_depth: Gauge::default(),
            node_role: Family::default(),
            leader_known: Gauge::default(),
            epoch: Gauge::default(),
            lamport: Gauge::default(),
            notify: Default::default(),
            registry: Registry::default(),
        };
        metrics.notify.register(&mut registry);
        registry.register(
            "connections",
            "Client and peer connections open on the CineBook port",
            metrics.connections.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections refused with Overloaded: max_connections, connections_per_address_max or guest_connections_max reached",
            metrics.connections_refused.clone(),
        );
        registry.register(
            "auth_failures",
            "Hellos refused Unauthenticated: unknown, revoked or backed-off tokens",
            metrics.auth_failures.clone(),
        );
        registry.register(
            "guest_pings_unanswered",
            "Subscribed guest connections closed because they sent nothing within guest_ping_timeout_ms of a Ping",
            metrics.guest_pings_unanswered.clone(),
        );
        registry.register(
            "requests",
            "Requests answered, by request type (name) and result (code: ok or the error code)",
            metrics.requests.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Time from a request's dispatch to its answer, by request type",
            Unit::Seconds,
            metrics.request_seconds.clone(),
        );
        registry.register(
            "seats_sold",
            "Seats of sales this node committed to the store",
            metrics.seats_sold.clone(),
        );
        registry.register(
            "writer_batch_sales",
            "Sales committed together in one store transaction (group commit)",
            metrics.writer_batch_sales.clone(),
        );
        registry.register_with_unit(
            "writer_commit_duration",
            "Time one group-commit transaction took in the store, failures included",
            Unit::Seconds,
            metrics.writer_commit_seconds.clone(),
        );
        registry.register(
            "holds_active",
            "Open holds (carts) on this node",
            metrics.holds_active.clone(),
        );
        registry.register(
            "sale_outcomes",
            "What the store answered for each sale: committed, conflict, not_committed, or unknown \
             (no answer to COMMIT; the node then reads the store until it knows)",
            metrics.sale_outcomes.clone(),
        );
        registry.register(
            "worker_panics",
            "Inputs whose worker panicked (a bug); the worker lives on, the request failed",
            metrics.worker_panics.clone(),
        );
        registry.register(
            "work_queue_depth",
            "Jobs waiting for a worker thread (bounded by work_queue_max)",
            metrics.work_queue_depth.clone(),
        );
        registry.register(
            "writer_queue_depth",
            "Sales waiting for the group-commit writer (bounded by writer_queue_max)",
            metrics.writer_queue_depth.clone(),
        );
        registry.register(
            "node_role",
            "1 for this node's current role (standalone, leader or follower), 0 for the others",
            metrics.node_role.clone(),
        );
        registry.register(
            "leader_known",
            "1 when this node knows the cluster's leader (always 1 for a single node)",
            metrics.leader_known.clone(),
        );
        registry.register(
            "cluster_epoch",
            "The fencing epoch this node leads or follows (0 for a single node)",
            metrics.epoch.clone(),
        );
        registry.register(
            "lamport_time",
            "This node's Lamport clock",
            metrics.lamport.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// A connection was admitted: counted in `cinebook_connections` until the guard drops.
    pub fn connection_opened(self: &Arc<Self>) -> ConnectionGuard {
        self.connections.inc();
        ConnectionGuard {
            metrics: self.clone(),
        }
    }

    /// A connection was refused (over `max_connections`).
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// A subscribed guest sent nothing within `guest_ping_timeout_ms` of a `Push::Ping` and was
    /// closed (`cinebook_guest_pings_unanswered_total`).
    pub fn guest_ping_unanswered(&self) {
        self.guest_pings_unanswered.inc();
    }

    /// A `Hello` was refused `Unauthenticated` (`cinebook_auth_failures_total`).
    pub fn auth_failed(&self) {
        self.auth_failures.inc();
    }

    /// A request of type `name` was answered with `code` (`ok` or an error code's name) after
    /// `elapsed`.
    pub fn request(&self, name: &'static str, code: &'static str, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { name, code })
            .inc();
        self.request_seconds
            .get_or_create(&NameLabel { name })
            .observe(elapsed.as_secs_f64());
    }

    /// The writer committed (or failed to commit) a batch of `sales` in `elapsed`.
    pub fn batch_committed(&self, sales: usize, elapsed: Duration) {
        self.writer_batch_sales.observe(sales as f64);
        self.writer_commit_seconds.observe(elapsed.as_secs_f64());
    }

    /// The store answered a sale with `outcome` (`committed`, `conflict`, `not_committed`,
    /// `unknown`).
    pub fn sale_outcome(&self, outcome: &'static str) {
        self.sale_outcomes
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// A worker caught a panic.
    pub fn worker_panicked(&self) {
        self.worker_panics.inc();
    }

    /// A committed sale of `seats` seats.
    pub fn seats_sold(&self, seats: usize) {
        self.seats_sold.inc_by(seats as u64);
    }

    /// The Prometheus text exposition, with the sampled values read from `node` now.
    pub fn render(&self, node: &Node) -> String {
        self.holds_active.set(gauge_value(node.holds_open() as u64));
        let (work, writer) = node.queue_depths();
        self.work_queue_depth.set(gauge_value(work as u64));
        self.writer_queue_depth.set(gauge_value(writer as u64));
        let current = node.node_role();
        for (role, name) in [
            (NodeRole::Standalone, "standalone"),
            (NodeRole::Leader, "leader"),
            (NodeRole::Follower, "follower"),
        ] {
            self.node_role
                .get_or_create(&RoleLabel { role: name })
                .set(i64::from(role == current));
        }
        self.leader_known
            .set(i64::from(node.leader_addr().is_some()));
        let epoch = node.cluster.as_ref().map_or(0, |c| c.view().epoch);
        self.epoch.set(gauge_value(epoch));
        self.lamport.set(gauge_value(node.lamport.now()));
        let mut text = String::with_capacity(8 * 1024);
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        text
    }
}

/// Why the node is not ready, or `None` when it is.
pub async fn not_ready(node: &Node) -> Option<String> {
    if node.shutdown.is_cancelled() {
        return Some("shutting down".to_owned());
    }
    let limit = Duration::from_millis(READY_STORE_TIMEOUT_MS);
    match tokio::time::timeout(limit, node.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Some(format!("the store does not answer: {e}")),
        Err(_) => {
            return Some(format!(
                "the store did not answer a ping within {READY_STORE_TIMEOUT_MS} ms"
            ))
        }
    }
    if node.leader_addr().is_none() {
        return Some("no cluster leader is known (an election is running or failed)".to_owned());
    }
    None
}

fn text(status: StatusCode, body: impl Into<Bytes>, content_type: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

const PLAIN: &str = "text/plain; charset=utf-8";
/// The content type of the Prometheus text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn answer(node: Arc<Node>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() == crate::node::payments::webhook::WEBHOOK_PATH {
        if request.method() != Method::POST {
            return text(StatusCode::METHOD_NOT_ALLOWED, "POST only\n", PLAIN);
        }
        let (status, body) = crate::node::payments::webhook_http::answer(node, request).await;
        return text(status, body, PLAIN);
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n", PLAIN);
    }
    match request.uri().path() {
        "/metrics" => text(StatusCode::OK, node.metrics.render(&node), PROMETHEUS_TEXT),
        "/healthz" => text(StatusCode::OK, "alive\n", PLAIN),
        "/readyz" => match not_ready(&node).await {
            None => text(StatusCode::OK, "ready\n", PLAIN),
            Some(reason) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {reason}\n"),
                PLAIN,
            ),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            "try /metrics, /healthz or /readyz\n",
            PLAIN,
        ),
    }
}

/// Binds the metrics listener and serves `/metrics`, `/healthz` and `/readyz` until the node
/// shuts down. Returns the bound address (port 0 picks one).
pub async fn spawn_http(
    addr: SocketAddr,
    node: Arc<Node>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, tokio::spawn(serve_http(listener, node))))
}

/// Serves the metrics listener until the node shuts down.
pub async fn serve_http(listener: TcpListener, node: Arc<Node>) {
    let admission = Arc::new(Semaphore::new(HTTP_CONNECTIONS_MAX));
    loop {
        // Take a slot first: over the limit, connections wait in the kernel's backlog.
        let permit = tokio::select! {
            _ = node.shutdown.cancelled() => return,
            permit = admission.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = node.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let node = node.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let node = node.clone();
                async move { Ok::<_, Infallible>(answer(node, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_millis(HTTP_HEADER_TIMEOUT_MS))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "metrics connection ended with an error");
            }
            drop(permit);
        });
    }
}

/// Keeps one connection counted in `cinebook_connections`; dropping it (however the connection
/// task ends) uncounts it.
#[derive(Debug)]
pub struct ConnectionGuard {
    metrics: Arc<Metrics>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics.connections.dec();
    }
}

/// Times one request for [`Metrics::request`].
#[derive(Debug, Clone, Copy)]
pub struct RequestTimer {
    started: Instant,
}

impl RequestTimer {
    /// Starts timing now.
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
        }
    }

    /// Records the answer of a request of type `name` in `metrics`.
    pub fn finish<T>(
        self,
        metrics: &Metrics,
        name: &'static str,
        answer: &Result<T, cinebook_protocol::ErrorBody>,
    ) {
        let code = match answer {
            Ok(_) => "ok",
            Err(e) => e.code.name(),
        };
        metrics.request(name, code, self.started.elapsed());
    }
}
