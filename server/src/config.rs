//! Node configuration. Every limit is explicit and carries its unit in its name.

use std::net::SocketAddr;

use cinebook_protocol::FRAME_MAX_BYTES_DEFAULT;

use crate::cluster::ClusterConfig;
use crate::domain::HoldLimits;

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
        }
    }
}
