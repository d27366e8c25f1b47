//! The node: shared state and the threads and tasks around the seat-map state machine.
//!
//! - [`workers`]: a bounded crossbeam channel feeding a pool of OS threads; a worker locks one
//!   show's mutex, applies a command, publishes the events, and answers through a oneshot.
//! - [`writer`]: the group-commit writer; takes every queued sale (up to a batch limit), commits
//!   them in one transaction, then completes each sale on its show and answers it.
//! - [`sweeper`]: expires holds within `sweep_interval_ms` of their deadline.
//! - [`handlers`]: one function per request.
//! - [`catalog`], [`shows`], [`auth`]: the catalog snapshot, the per-show slots, the role matrix.

pub mod auth;
pub mod catalog;
pub mod handlers;
pub mod shows;
pub mod sweeper;
pub mod workers;
pub mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cinebook_protocol::types::{NodeRole, ShowId};
use cinebook_protocol::{ErrorBody, ErrorCode, LamportClock};
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::domain::{Event, Pricing, ShowState};
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
    /// Which booking a (terminal, confirm idempotency key) made.
    confirm_keys: Mutex<HashMap<(u64, String), String>>,
    /// Authenticated terminals by token hash (revocation clears it).
    terminals: Mutex<HashMap<String, TerminalRecord>>,
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
}

impl Node {
    /// Migrates the store, loads the catalog and every booking, and starts the workers, the
    /// writer and the sweeper.
    pub async fn start(
        config: Config,
        store: Arc<dyn Store>,
    ) -> Result<(Arc<Node>, Background), StartError> {
        store.migrate().await?;
        let catalog = Catalog::build(store.load_catalog().await?);
        let (work, pool_rx) = workers::queue(config.work_queue_max);
        let (sales, sales_rx) = mpsc::channel(config.writer_queue_max.max(1));
        let node = Arc::new(Node {
            lamport: LamportClock::new(0),
            catalog: RwLock::new(Arc::new(Catalog::default())),
            shows: RwLock::new(HashMap::new()),
            booking_shows: Mutex::new(HashMap::new()),
            hold_shows: Mutex::new(HashMap::new()),
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
        Ok((
            node,
            Background {
                workers,
                writer,
                sweeper,
            },
        ))
    }

    /// Stops the background parts after the connections are done: the sweeper, then the writer
    /// (which commits what is queued), then the workers.
    pub async fn stop_background(&self, background: Background) {
        self.shutdown.cancel();
        let _ = background.sweeper.await;
        self.writer_stop.cancel();
        let _ = background.writer.await;
        let work = self.work.clone();
        let _ = tokio::task::spawn_blocking(move || background.workers.stop(&work)).await;
    }

    /// Rebuilds sold seats from the store.
    async fn recover(&self) -> Result<(), StartError> {
        let bookings = self.store.load_bookings().await?;
        let count = bookings.len();
        for stored in bookings {
            let Some(slot) = self.show(stored.booking.show_id) else {
                tracing::warn!(code = %stored.booking.code, "booking of an unknown show not loaded");
                continue;
            };
            self.lamport.observe(stored.booking.lamport);
            let code = stored.booking.code.clone();
            let status = stored.booking.status;
            let lamport = stored.booking.lamport;
            let mut state = slot.state.lock();
            let mut booking = stored.booking;
            booking.status = cinebook_protocol::types::BookingStatus::Confirmed;
            // Replay as sold, then as cancelled if it was: the same events as when it happened.
            let sold = Event::Sold {
                hold_id: None,
                booking,
                idempotency_key: stored.idempotency_key,
            };
            let record = state
                .restore(sold, lamport)
                .map_err(|e| StartError::Recovery(format!("booking {code}: {e}")))?;
            self.index_events(slot.show_id, std::slice::from_ref(&record));
            if let Some(refund) = match status {
                cinebook_protocol::types::BookingStatus::Refunded => Some(true),
                cinebook_protocol::types::BookingStatus::Cancelled => Some(false),
                _ => None,
            } {
                state
                    .restore(
                        Event::Cancelled {
                            code: code.clone(),
                            refund,
                        },
                        lamport,
                    )
                    .map_err(|e| StartError::Recovery(format!("booking {code}: {e}")))?;
            }
            slot.published(&state, &[]);
        }
        tracing::info!(
            bookings = count,
            shows = self.shows.read().len(),
            "recovered from the store"
        );
        Ok(())
    }

    /// Replaces the catalog snapshot, creating show slots for new shows and updating prices.
    pub fn install_catalog(&self, catalog: Catalog) {
        let mut shows = self.shows.write();
        for show in catalog.shows.values() {
            let Ok(pricing) = Pricing::new(show) else {
                tracing::warn!(show_id = show.id, "show skipped: invalid prices");
                continue;
            };
            if let Some(slot) = shows.get(&show.id) {
                slot.state.lock().set_pricing(pricing);
                continue;
            }
            let Ok(layout) = catalog.layout(show.screen_id) else {
                continue;
            };
            let state = ShowState::new(show.id, layout, pricing, self.config.hold);
            shows.insert(
                show.id,
                Arc::new(ShowSlot::new(state, self.config.push_buffer_max)),
            );
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

    /// Keeps the hold, booking and idempotency-key indexes in step with a show's events.
    pub(crate) fn index_events(&self, show_id: ShowId, records: &[crate::domain::EventRecord]) {
        for record in records {
            match &record.event {
                Event::Held { hold_id, .. } => {
                    self.hold_shows.lock().insert(*hold_id, show_id);
                }
                Event::Released { hold_id, .. } | Event::Expired { hold_id, .. } => {
                    self.hold_shows.lock().remove(hold_id);
                }
                Event::Sold {
                    hold_id,
                    booking,
                    idempotency_key,
                } => {
                    if let Some(hold_id) = hold_id {
                        self.hold_shows.lock().remove(hold_id);
                    }
                    self.booking_shows
                        .lock()
                        .insert(booking.code.clone(), show_id);
                    self.confirm_keys.lock().insert(
                        (booking.terminal_id, idempotency_key.clone()),
                        booking.code.clone(),
                    );
                }
                Event::Renewed { .. } | Event::Cancelled { .. } | Event::Blocked { .. } => {}
            }
        }
    }

    /// The show an open hold is on.
    pub fn show_of_hold(&self, hold_id: u64) -> Option<Arc<ShowSlot>> {
        let show_id = *self.hold_shows.lock().get(&hold_id)?;
        self.show(show_id)
    }

    /// The booking a terminal confirmed with this idempotency key.
    pub fn booking_for_key(&self, terminal_id: u64, key: &str) -> Option<String> {
        self.confirm_keys
            .lock()
            .get(&(terminal_id, key.to_owned()))
            .cloned()
    }

    /// A fresh hold id.
    pub fn next_hold_id(&self) -> u64 {
        self.next_hold_id.fetch_add(1, Ordering::Relaxed)
    }

    /// This node's role (a single node leads itself).
    pub fn node_role(&self) -> NodeRole {
        NodeRole::Standalone
    }

    /// Finds the terminal for a token (cached after the first lookup).
    pub async fn authenticate(&self, token: &str) -> Result<Option<TerminalRecord>, ErrorBody> {
        let hash = auth::token_sha256(token);
        if let Some(t) = self.terminals.lock().get(&hash) {
            return Ok(Some(t.clone()));
        }
        let found = self.store_call(self.store.terminal_by_token(&hash)).await?;
        match found {
            Some(t) if !t.revoked => {
                self.terminals.lock().insert(hash, t.clone());
                Ok(Some(t))
            }
            _ => Ok(None),
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
            Ok(Err(e)) => Err(store_error(e)),
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
    };
    if matches!(e, StoreError::Corrupt(_)) {
        tracing::error!(error = %e, "store returned corrupt data");
    }
    ErrorBody::new(code, e.to_string())
}
