//! Replies: the successful answer to a request. One variant per answer shape, append-only.

use serde::{Deserialize, Serialize};

use crate::cluster::AuditEntry;
use crate::types::{
    Booking, Category, City, HoldId, HoldInfo, Movie, NodeRole, PaymentOrderInfo, Role, Screen,
    SeatMap, SeatsRefund, ShiftReport, ShowCancellation, ShowId, ShowSummary, Terminal, TerminalId,
    Theater,
};

/// A successful reply, carried in a frame with the request's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// (0) Answer to `Hello`.
    Welcome {
        /// This node's id.
        node_id: u32,
        /// This node's cluster role.
        node_role: NodeRole,
        /// Client address of the current leader, if known.
        leader: Option<String>,
        /// The node's Lamport time.
        lamport: u64,
        /// The caller's role (guest without a token).
        role: Role,
        /// The caller's terminal id, if authenticated.
        terminal_id: Option<TerminalId>,
        /// Server wall-clock time, ms since the Unix epoch.
        server_time_ms: u64,
        /// How long a new hold lives.
        hold_ttl_ms: u64,
    },
    /// (1) Answer to `Ping`.
    Pong {
        /// The request's nonce.
        nonce: u64,
        /// Server wall-clock time.
        server_time_ms: u64,
    },
    /// (2) Cities.
    Cities(Vec<City>),
    /// (3) Theaters.
    Theaters(Vec<Theater>),
    /// (4) Movies.
    Movies(Vec<Movie>),
    /// (5) Shows.
    Shows(Vec<ShowSummary>),
    /// (6) A seat map.
    SeatMap(SeatMap),
    /// (7) A hold placed or renewed.
    Held(HoldInfo),
    /// (8) A hold released.
    Released {
        /// The hold.
        hold_id: HoldId,
    },
    /// (9) A booking (confirm, cancel, get booking).
    Booking(Booking),
    /// (10) Bookings of a show.
    Bookings(Vec<Booking>),
    /// (11) Subscribed; pushes follow from `seq + 1`.
    Subscribed {
        /// The show.
        show_id: ShowId,
        /// Current sequence number.
        seq: u64,
    },
    /// (12) Unsubscribed.
    Unsubscribed {
        /// The show.
        show_id: ShowId,
    },
    /// (13) A shift report.
    ShiftReport(ShiftReport),
    /// (14) An admin upsert or block applied.
    Done,
    /// (15) A terminal was created: the token is shown only here.
    TerminalAdded {
        /// Id.
        terminal_id: TerminalId,
        /// Bearer token; store it, it cannot be shown again.
        token: String,
    },
    /// (16) Terminals.
    Terminals(Vec<Terminal>),
    /// (17) A screen with its layout.
    Screen(Screen),
    /// (18) Free seats per category.
    Availability {
        /// The show.
        show_id: ShowId,
        /// `(category, free seats)`.
        free: Vec<(Category, u32)>,
    },
    /// (19) A show's audit trail.
    AuditTrail(Vec<AuditEntry>),
    /// (20) A node's view of the cluster (answer to `NodeStatus` and `Election`).
    NodeStatus {
        /// The answering node.
        node_id: u32,
        /// Its role.
        node_role: NodeRole,
        /// The leader it knows, if any.
        leader_id: Option<u32>,
        /// The leader's client address, if known.
        leader_addr: Option<String>,
        /// The highest fencing epoch it has seen.
        epoch: u64,
    },
    /// (21) The leader accepted a follower; events follow as pushes.
    Following {
        /// The leader.
        leader_id: u32,
        /// Its epoch.
        epoch: u64,
    },
    /// (22) Answer to `PeerHello`: the answering node's own nonce and its proof that it knows
    /// the cluster secret (over both nonces), so the connecting node can tell a real peer from
    /// an impostor before it trusts anything it says.
    PeerChallenge {
        /// The answering node's id.
        node_id: u32,
        /// Fresh random bytes; the connecting node's `PeerProof` covers them.
        nonce: [u8; crate::request::PEER_NONCE_BYTES],
        /// `HMAC-SHA256(secret, "CINEBOOK-PEER-V1" 02 ids nonces)`, docs/PROTOCOL.md 11.8.
        proof: [u8; crate::request::PEER_PROOF_BYTES],
    },
    /// (23) A payment order (answer to `CreatePaymentOrder`, `VerifyCheckout`, `PaymentStatus`).
    PaymentOrder(PaymentOrderInfo),
    /// (24) What a partial refund returned (answer to `RefundSeats`).
    SeatsRefunded(SeatsRefund),
    /// (25) A booking's ticket (answer to `GetTicket`).
    Ticket(crate::door::TicketInfo),
    /// (26) The ticket-verification key (answer to `TicketKey`).
    TicketKey(crate::door::TicketKeyInfo),
    /// (27) What a scan decided (answer to `Scan`).
    Scan(crate::door::ScanResult),
    /// (28) One result per reported offline admission, in order (answer to `ReportAdmissions`).
    AdmissionsReported(Vec<crate::door::ScanResult>),
    /// (29) One page of a list (answer to `ListPage`).
    Page(crate::page::Page),
    /// (30) What cancelling a show did (answer to `CancelShow`).
    ShowCancelled(ShowCancellation),
}
