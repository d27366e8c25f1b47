//! Node configuration. Every limit is explicit and carries its unit in its name.

use std::net::SocketAddr;

use cinebook_protocol::FRAME_MAX_BYTES_DEFAULT;

use crate::cluster::ClusterConfig;
use crate::domain::HoldLimits;

/// Default `list_page_max_items`: 500 show summaries are about 100 KB, a tenth of a default frame.
pub const LIST_PAGE_MAX_ITEMS_DEFAULT: u32 = 500;

/// Everything a node needs to run, with production defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Client listen address.
    pub listen: SocketAddr,
    /// This node's id (1 for a single node).
    pub node_id: u32,
    /// Worker OS threads applying writes.
    pub workers: usize,
    /// Connections admitted at once; one more gets `Overloaded` and is closed.
    pub max_connections: usize,
    /// Jobs waiting for a worker; when full, writes answer `Overloaded`.
    pub work_queue_max: usize,
    /// Sales waiting for the database writer; when full, confirms answer `Overloaded`.
    pub writer_queue_max: usize,
    /// Sales written in one transaction at most.
    pub writer_batch_max: usize,
    /// Sale batches committing at once (each on its own database connection).
    pub writer_batches_in_flight_max: usize,
    /// Hold rules.
    pub hold: HoldLimits,
    /// Largest frame payload accepted or sent.
    pub frame_max_bytes: usize,
    /// Most items in one page of a list (`ListPage`); a larger `limit` is capped to it. A page
    /// is also cut short so that its frame stays within `frame_max_bytes`.
    pub list_page_max_items: u32,
    /// Requests in flight per connection; further frames are not read until one finishes.
    pub in_flight_per_connection_max: usize,
    /// Frames queued to one connection; a subscriber that falls further behind gets `Resync`.
    pub outbound_queue_max: usize,
    /// Seat changes buffered per show for slow subscribers before they must resync.
    pub push_buffer_max: usize,
    /// A connection that sends nothing (and subscribes to nothing) for this long is closed.
    pub idle_timeout_ms: u64,
    /// A preface or a started frame must complete within this time.
    pub frame_timeout_ms: u64,
    /// Every call to the database gives up after this long. A sale's commit that passes it has
    /// an unknown outcome (never a failure): its hold stays pinned while the node resolves it.
    pub store_timeout_ms: u64,
    /// A confirm retried while its first attempt's outcome is being resolved waits this long for
    /// the answer before it is answered `OutcomeUnknown` (retry again with the same key).
    pub outcome_wait_ms: u64,
    /// How often expired holds are swept (holds expire within this of their deadline).
    pub sweep_interval_ms: u64,
    /// On shutdown, how long in-flight requests may take to finish.
    pub shutdown_grace_ms: u64,
    /// A terminal's token is checked against the store again after this long, so a revocation
    /// reaches every node within it.
    pub terminal_cache_ttl_ms: u64,
    /// Minutes after a show's start during which the box office and admins may still hold and
    /// confirm seats (`--box-office-late-min`); kiosks and the web stop at the start.
    pub box_office_late_min: u64,
    /// Cluster membership; `None` for a single node that leads itself.
    pub cluster: Option<ClusterConfig>,
    /// TLS on the client port (`--tls-cert`, `--tls-key`); `None` is plain TCP.
    pub tls: Option<crate::net::tls::TlsFiles>,
    /// Connection guards against hostile or careless clients (issue 13).
    pub limits: ConnectionLimits,
    /// Online payments through a gateway (`--gateway`); `None`: none.
    pub payments: Option<crate::node::payments::PaymentConfig>,
    /// The cinema's ticket-signing key (`--ticket-key`, by default `ticket-signing.key` in the
    /// data directory, made on first start). `None`: a key made for this run only (tests and
    /// embedders; tickets do not verify after a restart).
    pub ticket_signer: Option<cinebook_protocol::ticket::TicketSigner>,
    /// Notifications (issue 16): `None` sends nothing (the outbox still fills).
    pub notify: Option<crate::notify::deliver::NotifyConfig>,
}

/// Limits that keep one client, one address or one guessing attacker from taking a node down.
/// Each is documented in docs/OPERATIONS.md ("Security: roles and limits").
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Guest (tokenless) connections admitted at once; a guest `Hello` beyond it is answered
    /// `Overloaded` and the connection closed. Keep it below `max_connections`: the difference is
    /// reserved for terminals and peers.
    pub guest_connections_max: usize,
    /// Guest read requests building their replies at once, across the whole node. Guests
    /// browse; beyond this they wait their turn, so a crowd of them (a load tester pipelining
    /// `ListShows`) leaves the other cores to the terminals that sell.
    pub guest_reads_running_max: usize,
    /// Connections from one source address at once; one more gets `Overloaded` and is closed.
    pub connections_per_address_max: usize,
    /// A frame whose Lamport time is more than this ahead of the node's clock is refused with
    /// `InvalidArgument` and its time is not applied.
    pub lamport_skew_max: u64,
    /// Encoded bytes queued to one connection; a connection over it is not read until its client
    /// reads, and its read requests wait before they build a reply. A reply counts by its bytes.
    /// What a client that never reads costs is about this plus one reply.
    pub outbound_queue_max_bytes: usize,
    /// Bytes counted against `outbound_queue_max_bytes` for each request still running, so a
    /// client that does not read cannot start more than budget / reserve requests.
    pub in_flight_reply_reserve_bytes: usize,
    /// As `in_flight_reply_reserve_bytes`, for a write (hold, confirm, cancel, admin change):
    /// its reply is a hold or a booking, and it neither waits for room nor for the connection's
    /// read slot, so a box office can have many sales in flight behind a slow commit.
    pub in_flight_write_reserve_bytes: usize,
    /// Longest `Hello.client_name` accepted.
    pub client_name_max_bytes: usize,
    /// Longest `Hello.token` accepted.
    pub token_max_bytes: usize,
    /// Longest of any other string in a request (idempotency keys, booking codes, reasons,
    /// names, catalog text).
    pub request_string_max_bytes: usize,
    /// Failed `Hello`s from one address that back it off (the Nth failure starts the backoff).
    pub auth_failures_before_backoff: u32,
    /// First backoff after `auth_failures_before_backoff` failures; doubles with each further
    /// failure up to `auth_backoff_max_ms`. While backed off, a `Hello` with a token not already
    /// known to be good is answered `Unauthenticated` without asking the store.
    pub auth_backoff_ms: u64,
    /// Longest backoff.
    pub auth_backoff_max_ms: u64,
    /// Failures older than this are forgotten.
    pub auth_failure_window_ms: u64,
    /// How long a wrong token's hash is remembered as wrong (answered without the store).
    pub auth_negative_cache_ms: u64,
    /// Wrong token hashes, and addresses with failures, remembered at most (each).
    pub auth_memory_entries_max: usize,
    /// A subscribed guest that sent nothing for `idle_timeout_ms` is sent `Push::Ping`; it is
    /// closed if it sends nothing within this time after.
    pub guest_ping_timeout_ms: u64,
    /// Warnings about one source address are logged at most once per this interval.
    pub peer_warning_interval_ms: u64,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            guest_connections_max: 8_000,
            guest_reads_running_max: 1,
            connections_per_address_max: 1_000,
            lamport_skew_max: 1_000_000,
            outbound_queue_max_bytes: 16 * 1024,
            in_flight_reply_reserve_bytes: 4 * 1024,
            in_flight_write_reserve_bytes: 1024,
            client_name_max_bytes: 128,
            token_max_bytes: 256,
            request_string_max_bytes: 1_024,
            auth_failures_before_backoff: 5,
            auth_backoff_ms: 1_000,
            auth_backoff_max_ms: 60_000,
            auth_failure_window_ms: 10 * 60 * 1000,
            auth_negative_cache_ms: 30_000,
            auth_memory_entries_max: 65_536,
            guest_ping_timeout_ms: 30_000,
            peer_warning_interval_ms: 10_000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            node_id: 1,
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            max_connections: 10_000,
            work_queue_max: 65_536,
            writer_queue_max: 16_384,
            writer_batch_max: 512,
            writer_batches_in_flight_max: 4,
            hold: HoldLimits::default(),
            frame_max_bytes: FRAME_MAX_BYTES_DEFAULT,
            list_page_max_items: LIST_PAGE_MAX_ITEMS_DEFAULT,
            in_flight_per_connection_max: 256,
            outbound_queue_max: 1024,
            push_buffer_max: 4096,
            idle_timeout_ms: 5 * 60 * 1000,
            frame_timeout_ms: 10_000,
            store_timeout_ms: 5_000,
            outcome_wait_ms: 2_000,
            sweep_interval_ms: 200,
            shutdown_grace_ms: 10_000,
            terminal_cache_ttl_ms: 5_000,
            box_office_late_min: crate::domain::BOX_OFFICE_LATE_MIN_DEFAULT,
            cluster: None,
            tls: None,
            limits: ConnectionLimits::default(),
            payments: None,
            ticket_signer: None,
            notify: None,
        }
    }
}
