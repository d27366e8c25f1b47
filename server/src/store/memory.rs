//! In-memory store, for the deterministic simulation and unit tests only.
//!
//! **Not durable**: everything is lost when the process ends. It keeps the same contract as
//! [`super::mysql::MysqlStore`], so that tests written against it hold for MySQL too:
//! - one owner per (show, seat) among live (confirmed or admitted) bookings, unique booking
//!   codes and unique (terminal, idempotency key);
//! - catalog references must exist (a theater's city, a screen's theater, a show's movie and
//!   screen, a sale's show), otherwise [`StoreError::NotFound`] (or a `Conflict` outcome for a
//!   sale);
//! - [`Store::commit_sales`] runs the shared [`group_commit`] algorithm:
//!   each offending sale is a [`SaleOutcome::Conflict`], the others commit; a sale identical to
//!   one already committed (a retried commit) is `Committed`;
//! - [`Store::commit_cancel`] only from `confirmed`; the seats become free and the booking keeps
//!   listing them.
//!
//! [`MemoryStore::set_available`] simulates the database going away: every call then fails with
//! [`StoreError::Unavailable`] (a sale: [`SaleOutcome::NotCommitted`]) and changes nothing.
//!
//! ## Fault injection (deterministic simulation)
//! - [`MemoryStore::set_commit_faults`] installs a hook asked once per sale transaction (the
//!   batch, then each sale alone while isolating a refused batch) what goes wrong with it: a
//!   [`CommitFault`]. `UnknownApplied` makes the transaction durable and reports
//!   [`SaleOutcome::Unknown`]; `UnknownNotApplied` reports `Unknown` and writes nothing.
//! - [`MemoryStore::fail_resolves`] makes the next `n` calls of [`Store::resolve_sale`] fail with
//!   [`StoreError::Unavailable`].
//!
//! Both belong to one handle ([`MemoryStore::share`] starts without faults), as a real node's
//! faults belong to its own connections. Every commit and every `resolve_sale` runs under the one
//! state lock, so a resolve is serialised behind any commit in progress.

use crate::notify::message::{OutboxMark, OutboxMessage, OutboxStats, PendingMessage};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cinebook_protocol::cluster::AuditEntry;

use async_trait::async_trait;
use cinebook_protocol::types::{
    BookingStatus, City, MethodTotals, Movie, PaymentMethod, Role, Screen, SeatId, ShiftReport,
    Show, ShowId, TerminalId, Theater,
};
use parking_lot::Mutex;

use super::group_commit::{self, BatchFailure, ConflictFacts, SaleBackend};
use super::mysql::{widths, REPORT_DEFAULT_CURRENCY};
use super::{
    AdmissionRecord, AdmitOutcome, BlockRecord, CancelRecord, CatalogChanges, CatalogData,
    EpochClaim, EpochState, ExternalId, ExternalKind, SaleOutcome, SaleRecord, SeatRefundRecord,
    Store, StoreError, StoredBooking, TerminalRecord,
};

/// What goes wrong with one sale transaction of a [`MemoryStore`] (see
/// [`MemoryStore::set_commit_faults`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitFault {
    /// Nothing: the transaction commits or is refused as the data says.
    None,
    /// The database is unreachable: nothing is written, the outcome is `NotCommitted`.
    NotCommitted,
    /// The transaction is durable (if the data allows it; otherwise it is refused as usual)
    /// but its answer is lost: the outcome is `Unknown`.
    UnknownApplied,
    /// Nothing is written and no answer comes back: the outcome is `Unknown`.
    UnknownNotApplied,
}

/// The hook of [`MemoryStore::set_commit_faults`].
pub type CommitFaults = Box<dyn FnMut(&[SaleRecord]) -> CommitFault + Send>;

/// The faults installed on one handle.
#[derive(Default)]
struct Faults {
    commit: Option<CommitFaults>,
    resolve_failures: u32,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("commit", &self.commit.as_ref().map(|_| "hook"))
            .field("resolve_failures", &self.resolve_failures)
            .finish()
    }
}

/// `Err` naming `what` when `value` is wider than its MySQL column.
fn check_width(what: &str, value: &str, max_chars: usize) -> Result<(), String> {
    if value.chars().count() > max_chars {
        Err(format!("{what} is longer than {max_chars} characters"))
    } else {
        Ok(())
    }
}

/// [`check_width`] for catalog and terminal upserts.
fn fits(what: &str, value: &str, max_chars: usize) -> Result<(), StoreError> {
    check_width(what, value, max_chars).map_err(StoreError::Conflict)
}

/// Why a sale's values do not fit the MySQL columns, if they do not.
fn sale_width_error(sale: &SaleRecord) -> Result<(), String> {
    let b = &sale.booking;
    check_width("booking code", &b.code, widths::BOOKING_CODE)?;
    check_width(
        "idempotency key",
        &sale.idempotency_key,
        widths::IDEMPOTENCY_KEY,
    )?;
    check_width("currency", &b.total.currency, widths::CURRENCY)?;
    check_width(
        "payment currency",
        &b.payment.amount.currency,
        widths::CURRENCY,
    )?;
    if let Some(reference) = &b.payment.reference {
        check_width("payment reference", reference, widths::PAYMENT_REFERENCE)?;
    }
    for seat in &b.seats {
        check_width("seat label", &seat.label, widths::LABEL)?;
    }
    Ok(())
}

/// A refund as the memory store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RefundRow {
    code: String,
    amount_minor: i64,
    currency: String,
    terminal_id: TerminalId,
    at_ms: u64,
}

/// One audit row, as `audit_events` would hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// The show.
    pub show_id: ShowId,
    /// Lamport time.
    pub lamport: u64,
    /// Node.
    pub node_id: u32,
    /// `sale`, `cancel` or `refund`.
    pub kind: &'static str,
    /// Booking code.
    pub code: String,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
}

#[derive(Debug, Default, Clone)]
struct State {
    available: bool,
    epoch: u64,
    epoch_leader: Option<u32>,
    cities: BTreeMap<u64, City>,
    theaters: BTreeMap<u64, Theater>,
    screens: BTreeMap<u64, Screen>,
    movies: BTreeMap<u64, Movie>,
    shows: BTreeMap<u64, Show>,
    bookings: HashMap<String, StoredBooking>,
    seat_owner: HashMap<(ShowId, SeatId), String>,
    keys: HashMap<(TerminalId, String), String>,
    blocked: BTreeSet<(ShowId, SeatId)>,
    refunds: Vec<RefundRow>,
    /// Seats refunded from each booking by partial refunds (still counted as sold).
    seats_refunded: HashMap<String, u32>,
    audit: Vec<AuditRow>,
    admissions: HashMap<String, cinebook_protocol::door::Admission>,
    terminals: BTreeMap<TerminalId, TerminalRecord>,
    next_terminal_id: TerminalId,
    external_ids: BTreeMap<(String, ExternalKind, String), u64>,
    outbox: super::memory_outbox::MemoryOutbox,
}

impl State {
    fn check_available(&self) -> Result<(), StoreError> {
        if self.available {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                "memory store set unavailable (simulated outage)".into(),
            ))
        }
    }

    /// Why `sale` cannot be committed, if it cannot.
    fn reject_reason(&self, sale: &SaleRecord) -> Option<String> {
        let b = &sale.booking;
        if let Err(reason) = sale_width_error(sale) {
            return Some(reason);
        }
        if !self.shows.contains_key(&b.show_id) {
            return Some(format!("show {} does not exist", b.show_id));
        }
        if self.bookings.contains_key(&b.code) {
            return Some(format!("duplicate booking code {}", b.code));
        }
        if self
            .keys
            .contains_key(&(b.terminal_id, sale.idempotency_key.clone()))
        {
            return Some(format!(
                "duplicate idempotency key {:?} for terminal {}",
                sale.idempotency_key, b.terminal_id
            ));
        }
        let mut seen = HashSet::new();
        for seat in &b.seats {
            if !seen.insert(seat.seat_id) {
                return Some(format!("seat {} twice on booking {}", seat.seat_id, b.code));
            }
            if let Some(owner) = self.seat_owner.get(&(b.show_id, seat.seat_id)) {
                return Some(format!(
                    "seat {} of show {} already sold on booking {owner}",
                    seat.seat_id, b.show_id
                ));
            }
        }
        None
    }

    fn insert_sale(&mut self, sale: &SaleRecord) {
        let b = &sale.booking;
        self.outbox.insert(&sale.outbox);
        self.outbox.set_contact(&b.code, &sale.contact);
        let live = matches!(b.status, BookingStatus::Confirmed | BookingStatus::Admitted);
        if live {
            for seat in &b.seats {
                self.seat_owner
                    .insert((b.show_id, seat.seat_id), b.code.clone());
            }
        }
        self.keys.insert(
            (b.terminal_id, sale.idempotency_key.clone()),
            b.code.clone(),
        );
        self.audit.push(AuditRow {
            show_id: b.show_id,
            lamport: b.lamport,
            node_id: b.node_id,
            kind: "sale",
            code: b.code.clone(),
            at_ms: b.sold_at_ms,
        });
        self.bookings.insert(
            b.code.clone(),
            StoredBooking {
                booking: b.clone(),
                idempotency_key: sale.idempotency_key.clone(),
                hold_id: sale.hold_id,
            },
        );
    }

    /// Commits every sale or none: the first refusal leaves the state untouched.
    fn commit_all(&mut self, sales: &[SaleRecord]) -> Result<(), String> {
        for (done, sale) in sales.iter().enumerate() {
            if let Some(reason) = self.reject_reason(sale) {
                for written in sales[..done].iter().rev() {
                    self.remove_sale(written);
                }
                return Err(reason);
            }
            self.insert_sale(sale);
        }
        Ok(())
    }

    /// Undoes [`State::insert_sale`] of the last sale inserted (a rolled-back batch).
    fn remove_sale(&mut self, sale: &SaleRecord) {
        let b = &sale.booking;
        self.outbox.remove(&sale.outbox);
        for seat in &b.seats {
            if self.seat_owner.get(&(b.show_id, seat.seat_id)) == Some(&b.code) {
                self.seat_owner.remove(&(b.show_id, seat.seat_id));
            }
        }
        self.keys
            .remove(&(b.terminal_id, sale.idempotency_key.clone()));
        let last = self.audit.pop();
        debug_assert!(last.is_some_and(|row| row.code == b.code));
        self.bookings.remove(&b.code);
    }

    fn facts(&self, sale: &SaleRecord) -> ConflictFacts {
        let b = &sale.booking;
        ConflictFacts {
            by_code: self.bookings.get(&b.code).cloned(),
            by_key: self
                .keys
                .get(&(b.terminal_id, sale.idempotency_key.clone()))
                .cloned(),
            seat_owners: b
                .seats
                .iter()
                .filter_map(|s| {
                    let owner = self.seat_owner.get(&(b.show_id, s.seat_id))?;
                    Some((s.seat_id, owner.clone()))
                })
                .collect(),
        }
    }
}

impl State {
    fn put_city(&mut self, city: &City) -> Result<(), StoreError> {
        fits("city name", &city.name, widths::NAME)?;
        self.cities.insert(city.id, city.clone());
        Ok(())
    }

    fn put_theater(&mut self, theater: &Theater) -> Result<(), StoreError> {
        fits("theater name", &theater.name, widths::NAME)?;
        if !self.cities.contains_key(&theater.city_id) {
            return Err(StoreError::NotFound(format!(
                "upsert_theater: city {} does not exist",
                theater.city_id
            )));
        }
        self.theaters.insert(theater.id, theater.clone());
        Ok(())
    }

    fn put_screen(&mut self, screen: &Screen) -> Result<(), StoreError> {
        fits("screen name", &screen.name, widths::NAME)?;
        for seat in &screen.seats {
            fits("seat row", &seat.row, widths::ROW)?;
            fits("seat label", &seat.label, widths::LABEL)?;
        }
        if !self.theaters.contains_key(&screen.theater_id) {
            return Err(StoreError::NotFound(format!(
                "upsert_screen: theater {} does not exist",
                screen.theater_id
            )));
        }
        let mut seen = HashSet::new();
        if let Some(seat) = screen.seats.iter().find(|s| !seen.insert(s.id)) {
            return Err(StoreError::Conflict(format!(
                "upsert_screen: seat id {} appears twice",
                seat.id
            )));
        }
        let mut stored = screen.clone();
        stored.seats.sort_by_key(|s| s.id);
        self.screens.insert(screen.id, stored);
        Ok(())
    }

    fn put_movie(&mut self, movie: &Movie) -> Result<(), StoreError> {
        fits("movie title", &movie.title, widths::TITLE)?;
        fits("rating", &movie.rating, widths::RATING)?;
        self.movies.insert(movie.id, movie.clone());
        Ok(())
    }

    fn put_show(&mut self, show: &Show) -> Result<(), StoreError> {
        fits("currency", &show.currency, widths::CURRENCY)?;
        if !self.movies.contains_key(&show.movie_id) {
            return Err(StoreError::NotFound(format!(
                "upsert_show: movie {} does not exist",
                show.movie_id
            )));
        }
        if !self.screens.contains_key(&show.screen_id) {
            return Err(StoreError::NotFound(format!(
                "upsert_show: screen {} does not exist",
                show.screen_id
            )));
        }
        let mut seen = HashSet::new();
        if let Some(price) = show.prices.iter().find(|p| !seen.insert(p.category)) {
            return Err(StoreError::Conflict(format!(
                "upsert_show: category {} priced twice",
                price.category.name()
            )));
        }
        let mut stored = show.clone();
        stored.prices.sort_by_key(|p| p.category);
        self.shows.insert(show.id, stored);
        Ok(())
    }

    /// Applies a batch to this state; on `Err` the state is half-changed and must be dropped.
    fn apply(&mut self, changes: &CatalogChanges) -> Result<(), StoreError> {
        for city in &changes.cities {
            self.put_city(city)?;
        }
        for theater in &changes.theaters {
            self.put_theater(theater)?;
        }
        for screen in &changes.screens {
            self.put_screen(screen)?;
        }
        for movie in &changes.movies {
            self.put_movie(movie)?;
        }
        for show in &changes.shows {
            self.put_show(show)?;
        }
        for show_id in &changes.removed_shows {
            if self
                .bookings
                .values()
                .any(|b| b.booking.show_id == *show_id)
            {
                return Err(StoreError::Conflict(format!(
                    "show {show_id} has bookings and cannot be removed"
                )));
            }
            self.shows.remove(show_id);
            self.external_ids
                .retain(|(_, kind, _), id| !(*kind == ExternalKind::Show && id == show_id));
        }
        for id in &changes.external_ids {
            fits("import source", &id.source, widths::SOURCE)?;
            fits("external id", &id.external_id, widths::EXTERNAL_ID)?;
            let key = (id.source.clone(), id.kind, id.external_id.clone());
            if self
                .external_ids
                .iter()
                .any(|(k, v)| k.1 == id.kind && *v == id.internal_id && *k != key)
            {
                return Err(StoreError::Conflict(format!(
                    "{} {} already has another external id",
                    id.kind.name(),
                    id.internal_id
                )));
            }
            self.external_ids.insert(key, id.internal_id);
        }
        Ok(())
    }
}

/// The in-memory [`Store`]. Not durable; see the module documentation.
#[derive(Debug)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    /// This handle's fencing epoch; 0 = none.
    fence_epoch: AtomicU64,
    /// This handle's injected faults.
    faults: Mutex<Faults>,
    /// Payment orders, payments and refunds (shared by every handle).
    payments: super::payments::memory::MemoryPayments,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty, available store.
    pub fn new() -> Self {
        MemoryStore {
            state: Arc::new(Mutex::new(State {
                available: true,
                next_terminal_id: 1,
                ..State::default()
            })),
            fence_epoch: AtomicU64::new(0),
            faults: Mutex::new(Faults::default()),
            payments: Default::default(),
        }
    }

    /// Another handle on the same data with its own fence: one per simulated node, as each real
    /// node has its own connection pool to the one database.
    pub fn share(&self) -> MemoryStore {
        MemoryStore {
            state: self.state.clone(),
            fence_epoch: AtomicU64::new(0),
            faults: Mutex::new(Faults::default()),
            payments: self.payments.clone(),
        }
    }

    /// Installs `hook`, asked once per sale transaction of this handle (the whole batch, then
    /// each sale alone while a refused batch is isolated) which [`CommitFault`] it suffers.
    /// Deterministic as long as the hook is.
    pub fn set_commit_faults(&self, hook: CommitFaults) {
        self.faults.lock().commit = Some(hook);
    }

    /// Removes the hook of [`MemoryStore::set_commit_faults`].
    pub fn clear_commit_faults(&self) {
        self.faults.lock().commit = None;
    }

    /// The next `n` calls of [`Store::resolve_sale`] on this handle fail with
    /// [`StoreError::Unavailable`].
    pub fn fail_resolves(&self, n: u32) {
        self.faults.lock().resolve_failures = n;
    }

    fn commit_fault(&self, sales: &[SaleRecord]) -> CommitFault {
        match self.faults.lock().commit.as_mut() {
            Some(hook) => hook(sales),
            None => CommitFault::None,
        }
    }

    fn check_fence(&self, state: &State) -> Result<(), StoreError> {
        let fence = self.fence_epoch.load(Ordering::Acquire);
        if fence != 0 && state.epoch != fence {
            return Err(StoreError::Fenced(format!(
                "this node leads epoch {fence}, the cluster is at {}",
                state.epoch
            )));
        }
        Ok(())
    }

    /// Simulates the database going away (`false`) and coming back (`true`). While
    /// unavailable every method fails with [`StoreError::Unavailable`] and changes nothing.
    pub fn set_available(&self, available: bool) {
        self.state.lock().available = available;
    }

    /// The audit trail so far, in commit order.
    pub fn audit(&self) -> Vec<AuditRow> {
        self.state.lock().audit.clone()
    }

    /// The code of the live booking that owns a seat, if any.
    pub fn seat_owner(&self, show_id: ShowId, seat_id: SeatId) -> Option<String> {
        self.state
            .lock()
            .seat_owner
            .get(&(show_id, seat_id))
            .cloned()
    }
}

#[async_trait]
impl SaleBackend for MemoryStore {
    async fn commit_batch(&self, sales: &[SaleRecord]) -> Result<(), BatchFailure> {
        let fault = self.commit_fault(sales);
        let mut state = self.state.lock();
        let down = |e: StoreError| BatchFailure::NotCommitted(e.to_string());
        state.check_available().map_err(down)?;
        self.check_fence(&state).map_err(down)?;
        match fault {
            CommitFault::None => state.commit_all(sales).map_err(BatchFailure::Refused),
            CommitFault::NotCommitted => Err(BatchFailure::NotCommitted(
                "memory store: injected failure before COMMIT".into(),
            )),
            CommitFault::UnknownApplied => {
                state.commit_all(sales).map_err(BatchFailure::Refused)?;
                Err(BatchFailure::Unknown(
                    "memory store: injected lost COMMIT answer (committed)".into(),
                ))
            }
            CommitFault::UnknownNotApplied => Err(BatchFailure::Unknown(
                "memory store: injected lost COMMIT (not committed)".into(),
            )),
        }
    }

    async fn conflict_facts(&self, sale: &SaleRecord) -> Result<ConflictFacts, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        Ok(state.facts(sale))
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn payments(&self) -> Option<&dyn super::payments::PaymentStore> {
        Some(&self.payments)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.state.lock().check_available()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.state.lock().check_available()
    }

    async fn load_catalog(&self) -> Result<CatalogData, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        Ok(CatalogData {
            cities: state.cities.values().cloned().collect(),
            theaters: state.theaters.values().cloned().collect(),
            screens: state.screens.values().cloned().collect(),
            movies: state.movies.values().cloned().collect(),
            shows: state.shows.values().cloned().collect(),
        })
    }

    async fn upsert_city(&self, city: &City) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        state.put_city(city)
    }

    async fn upsert_theater(&self, theater: &Theater) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        state.put_theater(theater)
    }

    async fn upsert_screen(&self, screen: &Screen) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        state.put_screen(screen)
    }

    async fn upsert_movie(&self, movie: &Movie) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        state.put_movie(movie)
    }

    async fn upsert_show(&self, show: &Show) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        state.put_show(show)
    }

    async fn load_external_ids(&self) -> Result<Vec<ExternalId>, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        Ok(state
            .external_ids
            .iter()
            .map(|((source, kind, external_id), internal_id)| ExternalId {
                source: source.clone(),
                kind: *kind,
                external_id: external_id.clone(),
                internal_id: *internal_id,
            })
            .collect())
    }

    async fn apply_catalog(&self, changes: &CatalogChanges) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        // Applied to a copy that replaces the state only when every change succeeded.
        let mut next = state.clone();
        next.apply(changes)?;
        *state = next;
        Ok(())
    }

    async fn load_bookings(&self) -> Result<Vec<StoredBooking>, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        let mut bookings: Vec<StoredBooking> = state.bookings.values().cloned().collect();
        bookings.sort_by(|a, b| {
            (a.booking.lamport, a.booking.node_id, &a.booking.code).cmp(&(
                b.booking.lamport,
                b.booking.node_id,
                &b.booking.code,
            ))
        });
        Ok(bookings)
    }

    async fn commit_sales(&self, sales: &[SaleRecord]) -> Vec<SaleOutcome> {
        group_commit::commit_sales(self, sales).await
    }

    async fn resolve_sale(&self, code: &str) -> Result<Option<StoredBooking>, StoreError> {
        {
            let mut faults = self.faults.lock();
            if faults.resolve_failures > 0 {
                faults.resolve_failures -= 1;
                return Err(StoreError::Unavailable(
                    "memory store: injected resolve failure".into(),
                ));
            }
        }
        // Commits run entirely under this lock: none is in progress once it is held.
        let state = self.state.lock();
        state.check_available()?;
        Ok(state.bookings.get(code).cloned())
    }

    async fn sale_by_key(
        &self,
        terminal_id: TerminalId,
        idempotency_key: &str,
    ) -> Result<Option<StoredBooking>, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        Ok(state
            .keys
            .get(&(terminal_id, idempotency_key.to_owned()))
            .and_then(|code| state.bookings.get(code))
            .cloned())
    }

    async fn commit_block(&self, block: &BlockRecord) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        self.check_fence(&state)?;
        if !state.shows.contains_key(&block.show_id) {
            return Err(StoreError::NotFound(format!(
                "commit_block: show {} does not exist",
                block.show_id
            )));
        }
        for seat in &block.seats {
            if block.blocked {
                state.blocked.insert((block.show_id, *seat));
            } else {
                state.blocked.remove(&(block.show_id, *seat));
            }
        }
        state.audit.push(AuditRow {
            show_id: block.show_id,
            lamport: block.lamport,
            node_id: block.node_id,
            kind: if block.blocked { "block" } else { "unblock" },
            code: String::new(),
            at_ms: block.at_ms,
        });
        Ok(())
    }

    async fn load_blocked_seats(&self) -> Result<Vec<(ShowId, SeatId)>, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        Ok(state.blocked.iter().copied().collect())
    }

    async fn commit_seat_refund(&self, refund: &SeatRefundRecord) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        self.check_fence(&state)?;
        fits("reason", &refund.reason, widths::REASON)?;
        fits("currency", &refund.amount.currency, widths::CURRENCY)?;
        let stored = state
            .bookings
            .get_mut(&refund.code)
            .ok_or_else(|| StoreError::NotFound(format!("booking {}", refund.code)))?;
        crate::domain::refunded_seats(&stored.booking, &refund.seats)
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        stored
            .booking
            .seats
            .retain(|s| !refund.seats.contains(&s.seat_id));
        stored.booking.total.amount_minor -= refund.amount.amount_minor;
        let show_id = stored.booking.show_id;
        for seat in &refund.seats {
            state.seat_owner.remove(&(show_id, *seat));
        }
        let count = u32::try_from(refund.seats.len()).unwrap_or(u32::MAX);
        let refunded = state.seats_refunded.entry(refund.code.clone()).or_default();
        *refunded = refunded.saturating_add(count);
        state.refunds.push(RefundRow {
            code: refund.code.clone(),
            amount_minor: refund.amount.amount_minor,
            currency: refund.amount.currency.clone(),
            terminal_id: refund.terminal_id,
            at_ms: refund.at_ms,
        });
        state.audit.push(AuditRow {
            show_id,
            lamport: refund.lamport,
            node_id: refund.node_id,
            kind: "partial_refund",
            code: refund.code.clone(),
            at_ms: refund.at_ms,
        });
        state.outbox.insert(&refund.outbox);
        Ok(())
    }

    async fn commit_cancel(&self, cancel: &CancelRecord) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        self.check_fence(&state)?;
        if cancel.refund {
            fits("reason", &cancel.reason, widths::REASON)?;
            fits("currency", &cancel.amount.currency, widths::CURRENCY)?;
        }
        let (show_id, seats) = match state.bookings.get_mut(&cancel.code) {
            None => return Err(StoreError::NotFound(format!("booking {}", cancel.code))),
            Some(stored) if stored.booking.status != BookingStatus::Confirmed => {
                return Err(StoreError::Conflict(format!(
                    "booking {} is {:?}, not confirmed",
                    cancel.code, stored.booking.status
                )))
            }
            Some(stored) => {
                stored.booking.status = if cancel.refund {
                    BookingStatus::Refunded
                } else {
                    BookingStatus::Cancelled
                };
                let seats: Vec<SeatId> = stored.booking.seats.iter().map(|s| s.seat_id).collect();
                (stored.booking.show_id, seats)
            }
        };
        for seat in seats {
            state.seat_owner.remove(&(show_id, seat));
        }
        if cancel.refund {
            state.refunds.push(RefundRow {
                code: cancel.code.clone(),
                amount_minor: cancel.amount.amount_minor,
                currency: cancel.amount.currency.clone(),
                terminal_id: cancel.terminal_id,
                at_ms: cancel.at_ms,
            });
        }
        state.audit.push(AuditRow {
            show_id,
            lamport: cancel.lamport,
            node_id: cancel.node_id,
            kind: if cancel.refund { "refund" } else { "cancel" },
            code: cancel.code.clone(),
            at_ms: cancel.at_ms,
        });
        state.outbox.insert(&cancel.outbox);
        Ok(())
    }

    async fn commit_admission(&self, record: &AdmissionRecord) -> Result<AdmitOutcome, StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        self.check_fence(&state)?;
        let a = &record.admission;
        fits("gate", &a.gate, widths::GATE)?;
        let status = match state.bookings.get(&a.code) {
            None => return Err(StoreError::NotFound(format!("booking {}", a.code))),
            Some(stored) => stored.booking.status,
        };
        match status {
            BookingStatus::Confirmed => {}
            BookingStatus::Admitted => {
                return state
                    .admissions
                    .get(&a.code)
                    .cloned()
                    .map(AdmitOutcome::Already)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("booking {} admitted without a row", a.code))
                    })
            }
            other => {
                return Err(StoreError::Conflict(format!(
                    "booking {} is {other:?}, not confirmed",
                    a.code
                )))
            }
        }
        if let Some(stored) = state.bookings.get_mut(&a.code) {
            stored.booking.status = BookingStatus::Admitted;
        }
        state.admissions.insert(a.code.clone(), a.clone());
        state.audit.push(AuditRow {
            show_id: a.show_id,
            lamport: record.lamport,
            node_id: record.node_id,
            kind: "admit",
            code: a.code.clone(),
            at_ms: a.at_ms,
        });
        Ok(AdmitOutcome::Admitted)
    }

    async fn add_terminal(
        &self,
        name: &str,
        role: Role,
        token_sha256: &str,
    ) -> Result<TerminalId, StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        fits("terminal name", name, widths::NAME)?;
        fits("token hash", token_sha256, widths::TOKEN_SHA256)?;
        if state
            .terminals
            .values()
            .any(|t| t.token_sha256 == token_sha256)
        {
            return Err(StoreError::Conflict(
                "add_terminal: token hash already in use".into(),
            ));
        }
        let id = state.next_terminal_id;
        state.next_terminal_id += 1;
        state.terminals.insert(
            id,
            TerminalRecord {
                id,
                name: name.to_owned(),
                role,
                token_sha256: token_sha256.to_owned(),
                revoked: false,
            },
        );
        Ok(id)
    }

    async fn terminal_by_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<TerminalRecord>, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        Ok(state
            .terminals
            .values()
            .find(|t| t.token_sha256 == token_sha256)
            .cloned())
    }

    async fn list_terminals(&self) -> Result<Vec<TerminalRecord>, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        Ok(state.terminals.values().cloned().collect())
    }

    async fn revoke_terminal(&self, id: TerminalId) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        match state.terminals.get_mut(&id) {
            Some(terminal) => {
                terminal.revoked = true;
                Ok(())
            }
            None => Err(StoreError::NotFound(format!("terminal {id}"))),
        }
    }

    async fn current_epoch(&self) -> Result<EpochState, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        Ok(EpochState {
            epoch: state.epoch,
            leader_node_id: state.epoch_leader,
        })
    }

    async fn claim_epoch(&self, node_id: u32, seen_epoch: u64) -> Result<EpochClaim, StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        if state.epoch != seen_epoch {
            return Ok(EpochClaim::Lost(EpochState {
                epoch: state.epoch,
                leader_node_id: state.epoch_leader,
            }));
        }
        state.epoch += 1;
        state.epoch_leader = Some(node_id);
        Ok(EpochClaim::Claimed(state.epoch))
    }

    fn set_fence(&self, epoch: Option<u64>) {
        self.fence_epoch
            .store(epoch.unwrap_or(0), Ordering::Release);
    }

    async fn outbox_pending(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<PendingMessage>, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        Ok(state.outbox.pending(now_ms, limit))
    }

    async fn outbox_mark(&self, id: &str, mark: &OutboxMark) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        state.outbox.mark(id, mark);
        Ok(())
    }

    async fn outbox_dead(&self, limit: usize) -> Result<Vec<PendingMessage>, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        Ok(state.outbox.dead(limit))
    }

    async fn outbox_replay(&self, ids: &[String]) -> Result<u64, StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        Ok(state.outbox.replay(ids, crate::notify::now_ms()))
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        Ok(state.outbox.stats())
    }

    async fn outbox_append(&self, messages: &[OutboxMessage]) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.check_available()?;
        state.outbox.insert(messages);
        Ok(())
    }

    async fn audit_trail(&self, show_id: u64) -> Result<Vec<AuditEntry>, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        let mut rows: Vec<AuditEntry> = state
            .audit
            .iter()
            .filter(|r| r.show_id == show_id)
            .map(|r| AuditEntry {
                lamport: r.lamport,
                node_id: r.node_id,
                kind: r.kind.to_owned(),
                code: Some(r.code.clone()),
                detail: format!("{} {}", r.kind, r.code),
                at_ms: r.at_ms,
            })
            .collect();
        rows.sort_by_key(|r| (r.lamport, r.node_id));
        Ok(rows)
    }

    async fn shift_report(
        &self,
        terminal_id: TerminalId,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<ShiftReport, StoreError> {
        let state = self.state.lock();
        state.check_available()?;
        let in_range = |at: u64| at >= from_ms && at < to_ms;
        let mut lines: BTreeMap<PaymentMethod, MethodTotals> = BTreeMap::new();
        let mut first: Option<(u64, String)> = None;
        let mut note = |at: u64, currency: &str| {
            if first.as_ref().is_none_or(|(t, _)| at < *t) {
                first = Some((at, currency.to_owned()));
            }
        };
        let mut sold: Vec<&StoredBooking> = state
            .bookings
            .values()
            .filter(|s| s.booking.terminal_id == terminal_id && in_range(s.booking.sold_at_ms))
            .collect();
        sold.sort_by(|a, b| a.booking.code.cmp(&b.booking.code));
        for stored in sold {
            let b = &stored.booking;
            note(b.sold_at_ms, &b.total.currency);
            let totals = lines
                .entry(b.payment.method)
                .or_insert_with(|| empty(b.payment.method));
            totals.sales += 1;
            let refunded = state.seats_refunded.get(&b.code).copied().unwrap_or(0);
            totals.seats = totals
                .seats
                .saturating_add(u32::try_from(b.seats.len()).unwrap_or(u32::MAX))
                .saturating_add(refunded);
            totals.sales_minor += b.payment.amount.amount_minor;
        }
        for refund in state
            .refunds
            .iter()
            .filter(|r| r.terminal_id == terminal_id && in_range(r.at_ms))
        {
            let method = match state.bookings.get(&refund.code) {
                Some(stored) => stored.booking.payment.method,
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "refund of unknown booking {}",
                        refund.code
                    )))
                }
            };
            note(refund.at_ms, &refund.currency);
            let totals = lines.entry(method).or_insert_with(|| empty(method));
            totals.refunds += 1;
            totals.refunds_minor += refund.amount_minor;
        }
        Ok(ShiftReport {
            terminal_id,
            from_ms,
            to_ms,
            currency: first
                .map(|(_, currency)| currency)
                .unwrap_or_else(|| REPORT_DEFAULT_CURRENCY.to_owned()),
            lines: lines.into_values().collect(),
        })
    }
}

fn empty(method: PaymentMethod) -> MethodTotals {
    MethodTotals {
        method,
        sales: 0,
        seats: 0,
        sales_minor: 0,
        refunds: 0,
        refunds_minor: 0,
    }
}

#[cfg(test)]
mod tests {
    use cinebook_protocol::types::PaymentMethod;

    use super::*;
    use crate::testing::{contract, sample_catalog, sample_sale, seed_catalog};

    macro_rules! contract_test {
        ($name:ident) => {
            #[tokio::test]
            async fn $name() {
                let store = MemoryStore::new();
                contract::$name(&store).await;
            }
        };
    }

    contract_test!(migrate_is_idempotent);
    contract_test!(catalog_round_trip);
    contract_test!(batch_of_fifty);
    contract_test!(idempotency_keys_are_unique);
    contract_test!(cancel_frees_seats);
    contract_test!(seat_refunds);
    contract_test!(shift_report_figures);
    contract_test!(terminals);
    contract_test!(sale_of_unknown_show_is_rejected);
    contract_test!(overlong_values_are_rejected);
    contract_test!(catalog_changes);
    contract_test!(sale_conflicts_are_classified);
    contract_test!(hold_ids_and_keys_round_trip);
    contract_test!(outbox);
    contract_test!(blocked_seats_round_trip);
    contract_test!(payment_orders);
    contract_test!(admissions);

    #[tokio::test]
    async fn double_sale_is_isolated() {
        let store = MemoryStore::new();
        let owners = contract::double_sale_is_isolated(&store).await;
        assert_eq!(
            store
                .seat_owner(crate::testing::SAMPLE_SHOW_ID, 2)
                .as_deref(),
            Some("A1")
        );
        assert_eq!(store.seat_owner(crate::testing::SAMPLE_SHOW_ID, 4), None);
        let sales: Vec<String> = store
            .audit()
            .into_iter()
            .filter(|a| a.kind == "sale")
            .map(|a| a.code)
            .collect();
        assert_eq!(sales, owners, "one audit row per committed sale");
    }

    #[tokio::test]
    async fn an_unavailable_store_fails_and_changes_nothing() {
        let store = MemoryStore::new();
        seed_catalog(&store, &sample_catalog()).await;
        store.set_available(false);
        let sale = sample_sale("Q1", 1, &[1], PaymentMethod::Cash, 1);
        let outcomes = store.commit_sales(std::slice::from_ref(&sale)).await;
        assert!(
            matches!(outcomes[..], [SaleOutcome::NotCommitted(_)]),
            "{outcomes:?}"
        );
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            store.load_catalog().await,
            Err(StoreError::Unavailable(_))
        ));
        store.set_available(true);
        assert!(store.load_bookings().await.expect("load").is_empty());
        assert_eq!(
            store.commit_sales(&[sale]).await,
            vec![SaleOutcome::Committed]
        );
    }
}
