//! The node: shared state and the threads and tasks around the seat-map state machine.
//!
//! - [`workers`]: a bounded crossbeam channel feeding a pool of OS threads; a worker locks one
//!   show's mutex, applies a command, publishes the events, and answers through a oneshot.
//! - [`writer`]: the group-commit writer; takes every queued sale (up to a batch limit), commits
//!   them in one transaction, then completes each sale on its show and answers it.
//! - [`sweeper`]: expires holds within `sweep_interval_ms` of their deadline.
//! - [`handlers`]: one function per request.
//! - [`catalog`], [`shows`], [`auth`]: the catalog snapshot, the per-show slots, the role matrix.
//! - [`validate`]: the width of every string a request carries, checked before it is queued.

mod apply;
pub mod auth;
pub mod cancel_show;
pub mod catalog;
pub mod catalog_install;
pub mod catalog_write;
pub mod door;
pub mod durable;
pub mod expired_holds;
pub mod fast;
#[cfg(feature = "fault-injection")]
pub mod faults;
pub mod handlers;
pub mod layout_change;
pub mod outcomes;
pub mod pages;
pub mod payments;
mod recovery;
pub mod refund_seats;
pub mod reschedule;
pub mod resolver;
pub mod sales_window;
pub mod shared_push;
pub mod shows;
pub mod sweeper;
pub mod ticket_key;
pub mod validate;
pub mod workers;
pub mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cinebook_protocol::types::{NodeRole, ShowId};
use cinebook_protocol::{ErrorBody, ErrorCode, LamportClock};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::cluster::replication::ReplicationItem;
use crate::cluster::Cluster;

use crate::config::Config;
use crate::domain::{Pricing, ShowInput};
use crate::store::{Store, StoreError, TerminalRecord};

pub use catalog::Catalog;
pub use shows::ShowSlot;

/// Wall-clock milliseconds since the Unix epoch: the one clock read of the node, passed into the
/// state machine as `now_ms`.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What a (terminal, confirm idempotency key) made: the booking code, and the hold it came from
/// when known (bookings rebuilt from the database do not know it).
type KeyedBooking = (String, Option<u64>);

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Stored data did not replay.
    #[error("recovery: {0}")]
    Recovery(String),
    /// The listener could not bind.
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
    /// A gateway is configured but the store keeps no payment orders.
    #[error("payments: {0}")]
    Payments(String),
    /// The notification configuration cannot be used.
    #[error("notifications: {0}")]
    Notify(String),
}

/// Everything a node shares between its connections, workers and writer.
pub struct Node {
    /// Configuration.
    pub config: Config,
    /// Durable storage.
    pub store: Arc<dyn Store>,
    /// This node's Lamport clock.
    pub lamport: LamportClock,
    /// The catalog snapshot.
    catalog: RwLock<Arc<Catalog>>,
    /// Shows by id.
    shows: RwLock<HashMap<ShowId, Arc<ShowSlot>>>,
    /// Which show a booking code belongs to.
    booking_shows: Mutex<HashMap<String, ShowId>>,
    /// Which show an open hold is on.
    hold_shows: Mutex<HashMap<u64, ShowId>>,
    /// The holds that expired most recently (`Renew`, `Release`, `Confirm` answer `HoldExpired`).
    expired_holds: Mutex<expired_holds::ExpiredHolds>,
    /// Which booking a (terminal, confirm idempotency key) made.
    confirm_keys: Mutex<HashMap<(u64, String), KeyedBooking>>,
    /// Authenticated terminals by token hash, with when they were read from the store; an entry
    /// older than `terminal_cache_ttl_ms` is read again, so a revocation made on any node (or
    /// with `cinebook-server terminal revoke`) reaches every node within that time.
    terminals: Mutex<HashMap<String, (TerminalRecord, std::time::Instant)>>,
    /// Next hold id; seeded from the clock so ids are not reused across restarts.
    next_hold_id: AtomicU64,
    /// Work for the worker pool.
    pub(crate) work: workers::WorkQueue,
    /// Sales for the writer.
    pub(crate) sales: mpsc::Sender<writer::SaleJob>,
    /// Cancelled on shutdown.
    pub shutdown: CancellationToken,
    /// Cancelled once connections are done: the writer flushes and stops.
    writer_stop: CancellationToken,
    /// The cluster, if this node is part of one.
    pub cluster: Option<Arc<Cluster>>,
    /// Every applied event, for followers (bounded).
    replication: broadcast::Sender<Arc<ReplicationItem>>,
    /// Serialises admin catalog writes with the reload that follows each.
    pub(crate) catalog_writes: tokio::sync::Mutex<()>,
    /// The (leader, epoch) whose stream this node's show states come from, as a follower.
    stream_origin: Mutex<Option<(u32, u64)>>,
    /// Prometheus metrics (`--metrics-listen`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Sales whose outcome is not settled yet.
    pub(crate) outcomes: Arc<outcomes::Outcomes>,
    /// Online payments, when a gateway is configured (`--gateway`).
    pub payments: Option<payments::Payments>,
    /// The cinema's ticket-signing key (`Config::ticket_signer`, or one made for this run).
    pub tickets: cinebook_protocol::ticket::TicketSigner,
    /// Test-only injected panics.
    #[cfg(feature = "fault-injection")]
    pub faults: faults::Faults,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("node_id", &self.config.node_id)
            .finish_non_exhaustive()
    }
}

/// The node's background parts, to be awaited on shutdown.
#[derive(Debug)]
pub struct Background {
    /// Worker threads.
    pub workers: workers::WorkerPool,
    /// The writer task.
    pub writer: tokio::task::JoinHandle<()>,
    /// The sweeper task.
    pub sweeper: tokio::task::JoinHandle<()>,
    /// The cluster runtime, if clustered.
    pub cluster: Option<tokio::task::JoinHandle<()>>,
    /// The payment reconciler, if a gateway is configured.
    pub reconciler: Option<tokio::task::JoinHandle<()>>,
    /// The outbox deliverer or relay, if notifications are configured.
    pub notifier: Option<tokio::task::JoinHandle<()>>,
}

impl Node {
    /// Migrates the store, loads the catalog and every booking, and starts the workers, the
    /// writer and the sweeper.
    pub async fn start(
        config: Config,
        store: Arc<dyn Store>,
    ) -> Result<(Arc<Node>, Background), StartError> {
        store.migrate().await?;
        if config.payments.is_some() && store.payments().is_none() {
            return Err(StartError::Payments(
                "a gateway is configured but this store keeps no payment orders".to_owned(),
            ));
        }
        let catalog = Catalog::build(store.load_catalog().await?);
        let (work, pool_rx) = workers::queue(config.work_queue_max);
        let (sales, sales_rx) = mpsc::channel(config.writer_queue_max.max(1));
        let (cluster, cluster_rx) = match config.cluster.clone() {
            Some(cluster_config) => {
                let (cluster, rx) = Cluster::new(cluster_config);
                (Some(Arc::new(cluster)), Some(rx))
            }
            None => (None, None),
        };
        let replication_buffer_max = config
            .cluster
            .as_ref()
            .map_or(1, |c| c.replication_buffer_max.max(1));
        let (replication, _) = broadcast::channel(replication_buffer_max);
        let node = Arc::new(Node {
            cluster,
            replication,
            stream_origin: Mutex::new(None),
            catalog_writes: tokio::sync::Mutex::new(()),
            metrics: Arc::new(crate::metrics::Metrics::new()),
            outcomes: Arc::default(),
            payments: config.payments.clone().map(payments::Payments::new),
            tickets: config.ticket_signer.clone().unwrap_or_else(|| {
                cinebook_protocol::ticket::TicketSigner::from_seed(&rand::random())
            }),
            #[cfg(feature = "fault-injection")]
            faults: faults::Faults::default(),
            lamport: LamportClock::new(0),
            catalog: RwLock::new(Arc::new(Catalog::default())),
            shows: RwLock::new(HashMap::new()),
            booking_shows: Mutex::new(HashMap::new()),
            hold_shows: Mutex::new(HashMap::new()),
            expired_holds: Mutex::default(),
            confirm_keys: Mutex::new(HashMap::new()),
            terminals: Mutex::new(HashMap::new()),
            next_hold_id: AtomicU64::new(now_ms() << 12),
            work,
            sales,
            shutdown: CancellationToken::new(),
            writer_stop: CancellationToken::new(),
            store,
            config,
        });
        node.install_catalog(catalog);
        node.recover().await?;
        let workers = workers::WorkerPool::start(node.config.workers, pool_rx);
        let writer = tokio::spawn(writer::run(node.clone(), sales_rx));
        let sweeper = tokio::spawn(sweeper::run(node.clone()));
        let cluster =
            cluster_rx.map(|rx| tokio::spawn(crate::cluster::runtime::run(node.clone(), rx)));
        let reconciler = match node.payments {
            Some(_) => {
                if node.accepts_writes() {
                    payments::restore::restore_holds(&node).await;
                }
                Some(tokio::spawn(payments::reconciler::run(node.clone())))
            }
            None => None,
        };
        let notifier = crate::notify::start(&node)?;
        Ok((
            node,
            Background {
                workers,
                writer,
                sweeper,
                cluster,
                reconciler,
                notifier,
            },
        ))
    }

    /// Stops the background parts after the connections are done: the sweeper, then the writer
    /// (which commits what is queued), then the workers.
    pub async fn stop_background(&self, background: Background) {
        self.shutdown.cancel();
        let _ = background.sweeper.await;
        // The reconciler may be selling through the writer: it stops before the writer does.
        if let Some(reconciler) = background.reconciler {
            let _ = reconciler.await;
        }
        if let Some(cluster) = background.cluster {
            let _ = cluster.await;
        }
        if let Some(notifier) = background.notifier {
            let _ = notifier.await;
        }
        self.writer_stop.cancel();
        let _ = background.writer.await;
        let work = self.work.clone();
        let _ = tokio::task::spawn_blocking(move || background.workers.stop(&work)).await;
    }

    /// Replaces the catalog snapshot, creating show slots for new shows and updating prices and
    /// (for untouched shows) layouts.
    pub fn install_catalog(&self, catalog: Catalog) {
        let mut shows = self.shows.write();
        for show in catalog.shows.values() {
            let Ok(pricing) = Pricing::new(show) else {
                tracing::warn!(show_id = show.id, "show skipped: invalid prices");
                continue;
            };
            if let Some(slot) = shows.get(&show.id) {
                layout_change::install(self, slot, &catalog, show, pricing);
                continue;
            }
            let Ok(layout) = catalog.layout(show.screen_id) else {
                continue;
            };
            shows.insert(show.id, self.new_slot(show, layout, pricing));
        }
        drop(shows);
        *self.catalog.write() = Arc::new(catalog);
    }

    /// The catalog snapshot.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().clone()
    }

    /// A show's slot.
    pub fn show(&self, show_id: ShowId) -> Option<Arc<ShowSlot>> {
        self.shows.read().get(&show_id).cloned()
    }

    /// Every show slot.
    pub fn show_slots(&self) -> Vec<Arc<ShowSlot>> {
        self.shows.read().values().cloned().collect()
    }

    /// The show a booking belongs to.
    pub fn show_of_booking(&self, code: &str) -> Option<ShowId> {
        self.booking_shows.lock().get(code).copied()
    }

    /// The show an open hold is on.
    pub fn show_of_hold(&self, hold_id: u64) -> Option<Arc<ShowSlot>> {
        let show_id = *self.hold_shows.lock().get(&hold_id)?;
        self.show(show_id)
    }

    /// The error for a hold id that is not open on this node: `HoldExpired` if it expired
    /// recently, otherwise `NotFound` (never existed, released, sold, or expired long ago).
    pub fn hold_not_open(&self, hold_id: u64) -> ErrorBody {
        if self.expired_holds.lock().contains(hold_id) {
            ErrorBody::new(
                ErrorCode::HoldExpired,
                format!("hold {hold_id} expired; its seats may be someone else's: hold again"),
            )
        } else {
            ErrorBody::new(
                ErrorCode::NotFound,
                format!("hold {hold_id} not found (never existed, released or sold)"),
            )
        }
    }

    /// The booking a terminal confirmed with this idempotency key, and the hold it came from
    /// (unknown for bookings rebuilt from the database).
    pub fn booking_for_key(&self, terminal_id: u64, key: &str) -> Option<(String, Option<u64>)> {
        self.confirm_keys
            .lock()
            .get(&(terminal_id, key.to_owned()))
            .cloned()
    }

    /// Open holds on this node.
    pub fn holds_open(&self) -> usize {
        self.hold_shows.lock().len()
    }

    /// Jobs waiting for a worker, and sales waiting for the writer.
    pub fn queue_depths(&self) -> (usize, usize) {
        let writer = self.sales.max_capacity() - self.sales.capacity();
        (self.work.len(), writer)
    }

    /// A fresh hold id.
    pub fn next_hold_id(&self) -> u64 {
        self.next_hold_id.fetch_add(1, Ordering::Relaxed)
    }

    /// This node's role (a single node leads itself).
    pub fn node_role(&self) -> NodeRole {
        match &self.cluster {
            None => NodeRole::Standalone,
            Some(cluster) => cluster.view().role,
        }
    }

    /// Whether this node may apply writes: a single node, or the cluster's leader.
    pub fn accepts_writes(&self) -> bool {
        matches!(self.node_role(), NodeRole::Standalone | NodeRole::Leader)
    }

    /// The leader's client address, if known.
    pub fn leader_addr(&self) -> Option<String> {
        match &self.cluster {
            None => Some(self.config.listen.to_string()),
            Some(cluster) => cluster.view().leader_addr,
        }
    }

    fn backlog_events_max(&self) -> usize {
        self.config
            .cluster
            .as_ref()
            .map_or(0, |c| c.backlog_events_max)
    }

    /// A receiver of every event applied from now on.
    pub fn replication_subscribe(&self) -> broadcast::Receiver<Arc<ReplicationItem>> {
        self.replication.subscribe()
    }

    /// Tells followers that the catalog changed (a send without receivers is a no-op).
    pub(crate) fn catalog_changed(&self) {
        let _ = self
            .replication
            .send(Arc::new(ReplicationItem::CatalogChanged));
    }

    /// Reloads the catalog from the store (a follower told of a change).
    pub async fn reload_catalog(&self) -> Result<(), StoreError> {
        let data = self.store.load_catalog().await?;
        self.install_catalog(Catalog::build_reusing(data, &self.catalog()));
        Ok(())
    }

    pub(crate) fn stream_origin(&self) -> Option<(u32, u64)> {
        *self.stream_origin.lock()
    }

    pub(crate) fn set_stream_origin(&self, origin: Option<(u32, u64)>) {
        *self.stream_origin.lock() = origin;
    }

    /// A follower replaces a show with the leader's snapshot.
    pub fn install_snapshot(
        &self,
        snapshot: &cinebook_protocol::cluster::ShowSnapshot,
    ) -> Result<(), crate::domain::DomainError> {
        let Some(slot) = self.show(snapshot.show_id) else {
            tracing::warn!(
                show_id = snapshot.show_id,
                "snapshot of a show not in the catalog; skipped"
            );
            return Ok(());
        };
        self.apply_input(&slot, ShowInput::Snapshot(Box::new(snapshot.clone())))
            .map(|_| ())
    }

    /// A follower applies one replicated event. An event it already has is skipped; a gap is an
    /// error (the stream must restart from a snapshot).
    pub fn apply_replicated(
        &self,
        show_id: ShowId,
        seq: u64,
        lamport: u64,
        event: cinebook_protocol::cluster::ReplicatedEvent,
    ) -> Result<(), String> {
        let Some(slot) = self.show(show_id) else {
            return Err(format!(
                "event for show {show_id}, which is not in the catalog"
            ));
        };
        let record = crate::domain::EventRecord {
            seq,
            lamport,
            event,
        };
        self.apply_input(&slot, ShowInput::Replicated(record))
            .map(|_| ())
            .map_err(|e| format!("show {show_id}: {e}"))
    }

    /// Sales whose outcome is not settled yet (being committed or resolved).
    pub fn sales_unsettled(&self) -> usize {
        self.outcomes.len()
    }

    /// Stops leading: later sales fail at the fence; followers' streams end.
    pub fn step_down(&self) {
        self.set_stream_origin(None);
    }

    /// Finds the terminal for a token (cached for `terminal_cache_ttl_ms`).
    pub async fn authenticate(&self, token: &str) -> Result<Option<TerminalRecord>, ErrorBody> {
        let ttl = std::time::Duration::from_millis(self.config.terminal_cache_ttl_ms);
        self.authenticate_within(token, ttl).await
    }

    /// The terminal cached for `token`, if it was read from the store less than `max_age` ago
    /// (no store call).
    pub fn cached_terminal(
        &self,
        token: &str,
        max_age: std::time::Duration,
    ) -> Option<TerminalRecord> {
        let hash = auth::token_sha256(token);
        let cached = self.terminals.lock().get(&hash).cloned();
        cached
            .filter(|(_, read_at)| read_at.elapsed() < max_age)
            .map(|(t, _)| t)
    }

    /// Finds the terminal for a token, reading the store when the cached entry is older than
    /// `max_age` (open sessions re-check their terminal this way, see net/session.rs).
    pub async fn authenticate_within(
        &self,
        token: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<TerminalRecord>, ErrorBody> {
        let hash = auth::token_sha256(token);
        let cached = self.terminals.lock().get(&hash).cloned();
        if let Some((terminal, read_at)) = &cached {
            if read_at.elapsed() < ttl {
                return Ok(Some(terminal.clone()));
            }
        }
        let found = match self.store_call(self.store.terminal_by_token(&hash)).await {
            Ok(found) => found,
            // The store is down: a terminal it knew a moment ago may still browse and hold
            // (sales fail without the store anyway).
            Err(e) => return cached.map(|(t, _)| Some(t)).ok_or(e),
        };
        match found {
            Some(t) if !t.revoked => {
                self.terminals
                    .lock()
                    .insert(hash, (t.clone(), std::time::Instant::now()));
                Ok(Some(t))
            }
            _ => {
                self.terminals.lock().remove(&hash);
                Ok(None)
            }
        }
    }

    /// Forgets cached terminals (after a revocation).
    pub fn forget_terminals(&self) {
        self.terminals.lock().clear();
    }

    /// Runs a store call with the configured timeout, mapping failures to wire errors.
    pub async fn store_call<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, ErrorBody> {
        let limit = std::time::Duration::from_millis(self.config.store_timeout_ms);
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if matches!(e, StoreError::Fenced(_)) {
                    tracing::warn!(error = %e, "fenced: another node leads");
                    if let Some(cluster) = &self.cluster {
                        cluster.notify(crate::cluster::ClusterEvent::Fenced);
                    }
                }
                Err(store_error(e))
            }
            Err(_) => Err(ErrorBody::new(
                ErrorCode::Unavailable,
                "the database did not answer in time",
            )),
        }
    }
}

/// The wire error for a store failure.
pub fn store_error(e: StoreError) -> ErrorBody {
    let code = match &e {
        StoreError::Unavailable(_) => ErrorCode::Unavailable,
        StoreError::Conflict(_) => ErrorCode::Conflict,
        StoreError::NotFound(_) => ErrorCode::NotFound,
        StoreError::Corrupt(_) => ErrorCode::Internal,
        // The write went to a deposed leader; the client retries at the new one.
        StoreError::Fenced(_) => ErrorCode::Unavailable,
    };
    if matches!(e, StoreError::Corrupt(_)) {
        tracing::error!(error = %e, "store returned corrupt data");
    }
    ErrorBody::new(code, e.to_string())
}
