//! Durable storage behind the [`Store`] trait.
//!
//! The node keeps seat maps in memory; the store is where sales, refunds, the catalog and
//! terminals become durable. A sale is acknowledged only after [`Store::commit_sales`] returned
//! [`SaleOutcome::Committed`] for it; an [`SaleOutcome::Unknown`] sale is resolved with
//! [`Store::resolve_sale`] before anything is said about it. The group-commit algorithm (one
//! transaction per batch, isolation of refused sales) lives once, in [`group_commit`], over the
//! small [`group_commit::SaleBackend`] trait each store implements. Implementations:
//! - [`mysql::MysqlStore`]: production, MySQL or MariaDB through mysql_async.
//! - [`sqlite::SqliteStore`]: the embedded default (one file under `./cinebook-data/`), for a
//!   single node without MySQL; WAL with `synchronous=FULL`, so it keeps the same durability
//!   promise.
//! - [`scratch::ScratchCopy`]: a throw-away copy of an embedded store for dry runs.
//! - [`memory::MemoryStore`]: in-process, for the deterministic simulation and unit tests only
//!   (it is not durable and says so).

mod audit;
pub mod group_commit;
pub mod memory;
mod memory_outbox;
pub mod mysql;
pub mod outbox;
pub mod payments;
pub mod private;
pub mod scratch;
pub mod sqlite;

use async_trait::async_trait;
use cinebook_protocol::cluster::AuditEntry;

use crate::notify::message::{OutboxMark, OutboxMessage, OutboxStats, PendingMessage};
use cinebook_protocol::types::Terminal;
use cinebook_protocol::types::{
    Booking, City, Contact, HoldId, Money, Movie, Role, Screen, SeatId, ShiftReport, Show, ShowId,
    TerminalId, Theater,
};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or the operation failed. For a read nothing changed; for
    /// a write (a cancel, a block, a catalog change) it is normally not applied, but when the
    /// connection broke while `COMMIT` was on its way the write may have happened: re-read
    /// before assuming either. (Sales never answer this: see [`SaleOutcome`].)
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was violated (a seat already sold, a duplicate code or key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Stored data is not what this version of the server can read.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// This node's fencing epoch is no longer the cluster's: another node was elected leader.
    /// Nothing was written.
    #[error("fenced: {0}")]
    Fenced(String),
}

#[cfg(test)]
#[test]
fn a_fenced_sale_is_recognised_by_the_text_of_the_fenced_error() {
    let fenced = SaleOutcome::NotCommitted(StoreError::Fenced("epoch 3".into()).to_string());
    assert!(fenced.is_fenced());
    let down = SaleOutcome::NotCommitted(StoreError::Unavailable("down".into()).to_string());
    assert!(!down.is_fenced());
}

/// The cluster's fencing epoch as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochState {
    /// The current epoch (0 before any election).
    pub epoch: u64,
    /// The node that claimed it.
    pub leader_node_id: Option<u32>,
}

/// The result of trying to claim the next epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochClaim {
    /// This node now leads with this epoch.
    Claimed(u64),
    /// Someone else moved the epoch first.
    Lost(EpochState),
}

/// Everything in the catalog, as loaded at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogData {
    /// Cities.
    pub cities: Vec<City>,
    /// Theaters.
    pub theaters: Vec<Theater>,
    /// Screens with their layouts.
    pub screens: Vec<Screen>,
    /// Movies.
    pub movies: Vec<Movie>,
    /// Shows with their prices.
    pub shows: Vec<Show>,
}

/// One sale to make durable: the booking as the seat map produced it, plus its idempotency key
/// and the hold it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRecord {
    /// The booking (status `Confirmed`).
    pub booking: Booking,
    /// The confirm's idempotency key, unique per terminal.
    pub idempotency_key: String,
    /// The hold the sale confirmed (stored as `bookings.hold_id`), so that after a restart a
    /// key reused for another hold is still told apart from a retry.
    pub hold_id: Option<HoldId>,
    /// The customer's contact (stored on the booking).
    pub contact: Contact,
    /// Outbox rows announcing the sale, written in the sale's own transaction.
    pub outbox: Vec<OutboxMessage>,
}

/// What happened to one sale of a batch. Exactly one per input, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaleOutcome {
    /// Durable.
    Committed,
    /// Definitely not written: a rule of the database refused it.
    Conflict(SaleConflict),
    /// Definitely not written for another reason (the database is down, or the batch stopped
    /// before this sale); a retry may succeed. A fenced store (another node leads) says so
    /// with the text of [`StoreError::Fenced`]: see [`SaleOutcome::is_fenced`].
    NotCommitted(String),
    /// `COMMIT` was sent and no definite answer came back: it may or may not be durable.
    /// Resolve with [`Store::resolve_sale`].
    Unknown(String),
}

/// How the text of [`StoreError::Fenced`] starts.
const FENCED_TEXT_PREFIX: &str = "fenced: ";

impl SaleOutcome {
    /// Whether the sale was not committed because this node's store handle is fenced
    /// ([`StoreError::Fenced`]): another node leads, this one must step down.
    pub fn is_fenced(&self) -> bool {
        matches!(self, SaleOutcome::NotCommitted(why) if why.starts_with(FENCED_TEXT_PREFIX))
    }
}

/// Why the database refused a sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaleConflict {
    /// A seat is already owned by another live booking (booking_seats primary key).
    SeatTaken(String),
    /// The booking code is already used by another booking (generate a new code and retry).
    CodeTaken,
    /// This terminal already used this idempotency key for another booking.
    KeyTaken {
        /// The code of the booking that has the key.
        existing_code: String,
    },
    /// A value the database would not take (too wide, out of range, a missing show).
    Invalid(String),
}

impl std::fmt::Display for SaleConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaleConflict::SeatTaken(why) => write!(f, "seat taken: {why}"),
            SaleConflict::CodeTaken => write!(f, "booking code already used"),
            SaleConflict::KeyTaken { existing_code } => write!(
                f,
                "idempotency key already used for booking {existing_code}"
            ),
            SaleConflict::Invalid(why) => write!(f, "invalid sale: {why}"),
        }
    }
}

/// Seats blocked (house seats, broken seats) or unblocked, to make durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRecord {
    /// The show.
    pub show_id: ShowId,
    /// The seats.
    pub seats: Vec<SeatId>,
    /// `true` blocks the seats, `false` unblocks them.
    pub blocked: bool,
    /// Terminal that (un)blocked.
    pub terminal_id: TerminalId,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// Lamport time.
    pub lamport: u64,
    /// Node that (un)blocked.
    pub node_id: u32,
    /// Why (`BlockSeatsWithReason`), for the audit trail.
    pub reason: Option<String>,
}

/// An admission at the door to make durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionRecord {
    /// When, where and by whom.
    pub admission: cinebook_protocol::door::Admission,
    /// Lamport time.
    pub lamport: u64,
    /// Node that recorded it.
    pub node_id: u32,
}

/// What [`Store::commit_admission`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdmitOutcome {
    /// The booking was confirmed and is now admitted.
    Admitted,
    /// The booking was admitted before: the first admission, unchanged.
    Already(cinebook_protocol::door::Admission),
}

/// A cancellation (with or without refund) to make durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRecord {
    /// Booking code.
    pub code: String,
    /// Whether money is given back.
    pub refund: bool,
    /// Amount refunded (zero without refund).
    pub amount: Money,
    /// Terminal that cancelled.
    pub terminal_id: TerminalId,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// Lamport time.
    pub lamport: u64,
    /// Node that cancelled.
    pub node_id: u32,
    /// Free-form reason.
    pub reason: String,
    /// Outbox rows announcing it, written in the cancellation's own transaction.
    pub outbox: Vec<OutboxMessage>,
}

/// A partial refund (some seats of a confirmed booking) to make durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatRefundRecord {
    /// Booking code.
    pub code: String,
    /// The seats refunded: some, not all, of the booking's.
    pub seats: Vec<SeatId>,
    /// Amount refunded: the seats' prices.
    pub amount: Money,
    /// Terminal that refunded.
    pub terminal_id: TerminalId,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// Lamport time.
    pub lamport: u64,
    /// Node that refunded.
    pub node_id: u32,
    /// Free-form reason.
    pub reason: String,
    /// Outbox rows announcing it, written in the refund's own transaction.
    pub outbox: Vec<OutboxMessage>,
}

/// A terminal as stored: its token only as a SHA-256 hash (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalRecord {
    /// Id.
    pub id: TerminalId,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub token_sha256: String,
    /// Revoked terminals cannot authenticate.
    pub revoked: bool,
}

impl TerminalRecord {
    /// The listing view (no hash).
    pub fn view(&self) -> Terminal {
        Terminal {
            id: self.id,
            name: self.name.clone(),
            role: self.role,
            revoked: self.revoked,
        }
    }
}

/// A booking as stored, with the idempotency key that created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBooking {
    /// The booking, with its current status.
    pub booking: Booking,
    /// The confirm's idempotency key.
    pub idempotency_key: String,
    /// The hold the sale confirmed; `None` for bookings written before migration 3.
    pub hold_id: Option<HoldId>,
}

/// What an external (upstream) id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExternalKind {
    /// A city.
    City,
    /// A theater.
    Theater,
    /// A screen.
    Screen,
    /// A movie.
    Movie,
    /// A show.
    Show,
}

impl ExternalKind {
    /// Every kind.
    pub const ALL: [ExternalKind; 5] = [
        ExternalKind::City,
        ExternalKind::Theater,
        ExternalKind::Screen,
        ExternalKind::Movie,
        ExternalKind::Show,
    ];

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            ExternalKind::City => "city",
            ExternalKind::Theater => "theater",
            ExternalKind::Screen => "screen",
            ExternalKind::Movie => "movie",
            ExternalKind::Show => "show",
        }
    }

    /// Parses [`ExternalKind::name`].
    pub fn parse(text: &str) -> Option<ExternalKind> {
        ExternalKind::ALL.into_iter().find(|k| k.name() == text)
    }
}

/// One upstream id mapped to the internal id of a catalog row. `(source, kind, external_id)`
/// is unique, and so is `(kind, internal_id)`: an internal row belongs to at most one upstream
/// id, so that the mapping stays stable from one import to the next.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExternalId {
    /// Where the id comes from, such as `sample` or the name of a movie API.
    pub source: String,
    /// What it names.
    pub kind: ExternalKind,
    /// The upstream id, as the source spells it.
    pub external_id: String,
    /// The internal id of the row.
    pub internal_id: u64,
}

/// Catalog changes applied together in one transaction ([`Store::apply_catalog`]): an import
/// or a scheduled sync either happens completely or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogChanges {
    /// Cities to create or update.
    pub cities: Vec<City>,
    /// Theaters to create or update.
    pub theaters: Vec<Theater>,
    /// Screens to create or update (their seats are replaced).
    pub screens: Vec<Screen>,
    /// Movies to create or update.
    pub movies: Vec<Movie>,
    /// Shows to create or update (their prices are replaced).
    pub shows: Vec<Show>,
    /// Shows to delete with their prices and external ids. A show with any booking is never
    /// deleted: the whole batch fails with [`StoreError::Conflict`].
    pub removed_shows: Vec<ShowId>,
    /// External id mappings to create or update.
    pub external_ids: Vec<ExternalId>,
}

impl CatalogChanges {
    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.cities.is_empty()
            && self.theaters.is_empty()
            && self.screens.is_empty()
            && self.movies.is_empty()
            && self.shows.is_empty()
            && self.removed_shows.is_empty()
            && self.external_ids.is_empty()
    }
}

/// Durable storage. Every method is one transaction: it either fully happens or not at all.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations (idempotent).
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Cheap liveness check.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The whole catalog.
    async fn load_catalog(&self) -> Result<CatalogData, StoreError>;
    /// Creates or updates a city.
    async fn upsert_city(&self, city: &City) -> Result<(), StoreError>;
    /// Creates or updates a theater.
    async fn upsert_theater(&self, theater: &Theater) -> Result<(), StoreError>;
    /// Creates or updates a screen and replaces its seats.
    async fn upsert_screen(&self, screen: &Screen) -> Result<(), StoreError>;
    /// Creates or updates a movie.
    async fn upsert_movie(&self, movie: &Movie) -> Result<(), StoreError>;
    /// Creates or updates a show and replaces its prices.
    async fn upsert_show(&self, show: &Show) -> Result<(), StoreError>;
    /// Every external id mapping, ordered by (source, kind, external id).
    async fn load_external_ids(&self) -> Result<Vec<ExternalId>, StoreError>;
    /// Applies a batch of catalog changes in one transaction, parents first (cities, theaters,
    /// screens, movies, shows), then removals, then external ids. On `Err` nothing of it was
    /// applied: a missing parent is `NotFound`, a value wider than its column, a removed show
    /// with bookings or an external id mapped twice is `Conflict`.
    async fn apply_catalog(&self, changes: &CatalogChanges) -> Result<(), StoreError>;
    /// Every booking of every show, any status, with seats and payment (start-up rebuild).
    async fn load_bookings(&self) -> Result<Vec<StoredBooking>, StoreError>;
    /// Group commit: writes the batch in one transaction ([`group_commit::commit_sales`]).
    /// Every failure is a per-sale outcome, one per input, in order:
    /// - a sale a rule of the database refused (a seat already sold, a duplicate code or key, a
    ///   value too wide) does not poison the batch: the others are committed and it is
    ///   [`SaleOutcome::Conflict`];
    /// - a sale identical to a booking already stored (same code, content, status, key and
    ///   hold) is `Committed`, so re-sending the very same records is safe and never sells
    ///   twice;
    /// - [`SaleOutcome::NotCommitted`] is definite (nothing of it was written, fenced
    ///   included); [`SaleOutcome::Unknown`] is not: resolve it with [`Store::resolve_sale`].
    async fn commit_sales(&self, sales: &[SaleRecord]) -> Vec<SaleOutcome>;
    /// The booking `code` if it is durable. Returns only once no transaction that may still
    /// write booking `code` is open, so `Ok(None)` means it is not durable and never will be
    /// (by the commit that left it [`SaleOutcome::Unknown`]); `Err` means "could not find out
    /// now, ask again".
    async fn resolve_sale(&self, code: &str) -> Result<Option<StoredBooking>, StoreError>;
    /// The booking this terminal created with this idempotency key, if any.
    async fn sale_by_key(
        &self,
        terminal_id: TerminalId,
        idempotency_key: &str,
    ) -> Result<Option<StoredBooking>, StoreError>;
    /// Blocks (`blocked`) or unblocks seats of a show in one transaction with its audit row,
    /// fenced like sales. Blocking a blocked seat or unblocking a free one is harmless.
    async fn commit_block(&self, block: &BlockRecord) -> Result<(), StoreError>;
    /// Every blocked seat, ordered by (show, seat).
    async fn load_blocked_seats(&self) -> Result<Vec<(ShowId, SeatId)>, StoreError>;
    /// Marks a confirmed booking cancelled or refunded, frees its seats in `booking_seats`, and
    /// records the refund. `Conflict` if the booking is not confirmed any more.
    async fn commit_cancel(&self, cancel: &CancelRecord) -> Result<(), StoreError>;
    /// Refunds some seats of a confirmed booking in one fenced transaction: moves them out of
    /// `booking_seats`, lowers the booking's total by `amount`, records the refund and its audit
    /// row. `Conflict` (nothing changed) if the booking is not confirmed, does not own every
    /// seat (refunded before), or would keep no seat; `NotFound` if there is no such booking.
    async fn commit_seat_refund(&self, refund: &SeatRefundRecord) -> Result<(), StoreError>;
    /// Admits a confirmed booking at the door in one fenced transaction: status `admitted`, the
    /// `admissions` row (when, where, which terminal) and its audit row. A booking admitted
    /// before answers [`AdmitOutcome::Already`] with the first admission (nothing changes);
    /// `Conflict` if it is cancelled or refunded; `NotFound` if there is no such booking.
    async fn commit_admission(&self, record: &AdmissionRecord) -> Result<AdmitOutcome, StoreError>;
    /// Creates a terminal; returns its id.
    async fn add_terminal(
        &self,
        name: &str,
        role: Role,
        token_sha256: &str,
    ) -> Result<TerminalId, StoreError>;
    /// Finds a terminal by token hash.
    async fn terminal_by_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<TerminalRecord>, StoreError>;
    /// Every terminal.
    async fn list_terminals(&self) -> Result<Vec<TerminalRecord>, StoreError>;
    /// Revokes a terminal's token.
    async fn revoke_terminal(&self, id: TerminalId) -> Result<(), StoreError>;
    /// The cluster's current fencing epoch.
    async fn current_epoch(&self) -> Result<EpochState, StoreError> {
        Err(StoreError::Unavailable(
            "this store does not support a cluster; use MySQL".into(),
        ))
    }

    /// Claims epoch `seen_epoch + 1` for `node_id` with a conditional update: it succeeds only if
    /// the stored epoch is still `seen_epoch`, so at most one node leads each epoch.
    async fn claim_epoch(&self, node_id: u32, seen_epoch: u64) -> Result<EpochClaim, StoreError> {
        let _ = (node_id, seen_epoch);
        Err(StoreError::Unavailable(
            "this store does not support a cluster; use MySQL".into(),
        ))
    }

    /// From now on, every sale and cancel transaction of this store handle first checks that the
    /// stored epoch is still `epoch` and fails with [`StoreError::Fenced`] otherwise. `None`
    /// turns the check off (a single node). A store that cannot claim epochs cannot lead a
    /// cluster, so ignoring the fence there is safe.
    fn set_fence(&self, epoch: Option<u64>) {
        let _ = epoch;
    }

    /// The leader of `epoch` renews its lease to the store's now + `lease_ms` (`0`: gives it
    /// up, for a hand-over). Returns `false` when the stored epoch is no longer `epoch`. While a
    /// lease runs, [`Store::claim_epoch`] by another node loses.
    async fn renew_lease(
        &self,
        node_id: u32,
        epoch: u64,
        lease_ms: u64,
    ) -> Result<bool, StoreError> {
        let _ = (node_id, epoch, lease_ms);
        Err(StoreError::Unavailable(
            "this store does not support a cluster; use MySQL".into(),
        ))
    }

    /// The leader `from` of `epoch` hands epoch `epoch + 1` to node `to`, with a lease of
    /// `lease_ms` for it, in one conditional update (a hand-over: no other node can claim in
    /// between). Returns the new epoch, or `None` when `from` no longer leads `epoch`.
    async fn hand_over_epoch(
        &self,
        from: u32,
        epoch: u64,
        to: u32,
        lease_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        let _ = (from, epoch, to, lease_ms);
        Err(StoreError::Unavailable(
            "this store does not support a cluster; use MySQL".into(),
        ))
    }

    /// A show's audit trail (sales, cancellations, refunds and blocks) in `(lamport, node_id)`
    /// order. Every store keeps one: there is no default (an `Unavailable` default told
    /// clients to retry a condition that never passes).
    async fn audit_trail(&self, show_id: u64) -> Result<Vec<AuditEntry>, StoreError>;

    /// Sales (by sale time), refunds (by refund time) and comps by payment method for one
    /// terminal in `[from_ms, to_ms)`.
    async fn shift_report(
        &self,
        terminal_id: TerminalId,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<ShiftReport, StoreError>;

    /// Outbox rows waiting for delivery whose `next_attempt_at_ms <= now_ms`, oldest first, at
    /// most `limit`, each with its booking's contact.
    async fn outbox_pending(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<PendingMessage>, StoreError> {
        let _ = (now_ms, limit);
        Err(no_outbox())
    }

    /// Records what became of delivering message `id` (only a `pending` row changes).
    async fn outbox_mark(&self, id: &str, mark: &OutboxMark) -> Result<(), StoreError> {
        let _ = (id, mark);
        Err(no_outbox())
    }

    /// [`Store::outbox_mark`] for many rows in one transaction (a delivery pass, a relayed
    /// batch): one commit instead of one per row, so delivery costs the sales' store little.
    async fn outbox_mark_all(&self, marks: &[(String, OutboxMark)]) -> Result<(), StoreError> {
        for (id, mark) in marks {
            self.outbox_mark(id, mark).await?;
        }
        Ok(())
    }

    /// Parked (dead) rows, oldest first, at most `limit`.
    async fn outbox_dead(&self, limit: usize) -> Result<Vec<PendingMessage>, StoreError> {
        let _ = limit;
        Err(no_outbox())
    }

    /// Makes the dead rows `ids` (every dead row when empty) pending again with no attempts;
    /// returns how many.
    async fn outbox_replay(&self, ids: &[String]) -> Result<u64, StoreError> {
        let _ = ids;
        Err(no_outbox())
    }

    /// Rows by state and the oldest pending one.
    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        Err(no_outbox())
    }

    /// Writes `messages` to the outbox on their own (a catalog change announced after its own
    /// transaction: a rescheduled show). A message whose id is stored already is skipped.
    async fn outbox_append(&self, messages: &[OutboxMessage]) -> Result<(), StoreError> {
        let _ = messages;
        Err(no_outbox())
    }

    /// [`Store::upsert_show`] and `messages` (announcing a new start to the show's customers)
    /// in one transaction. The default (test doubles, the memory store) writes them one after
    /// the other; the SQL stores override it with one transaction.
    async fn upsert_show_announced(
        &self,
        show: &Show,
        messages: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        self.upsert_show(show).await?;
        if messages.is_empty() {
            return Ok(());
        }
        self.outbox_append(messages).await
    }

    /// The store's payment orders, if it keeps them (every real store does; test doubles that
    /// wrap a store may not, and a node with a gateway refuses to start on one that does not).
    fn payments(&self) -> Option<&dyn payments::PaymentStore> {
        None
    }
}

fn no_outbox() -> StoreError {
    StoreError::Unavailable("this store keeps no outbox".into())
}
