//! Requests: what a client (or a peer node) asks. One variant per message, append-only.
//!
//! The variant index is the postcard discriminant on the wire; docs/PROTOCOL.md lists them.

use serde::{Deserialize, Serialize};

use crate::cluster::ShowPosition;
use crate::types::{
    Category, City, Contact, HoldId, Movie, Payment, Role, Screen, SeatId, SeatSelection, Show,
    ShowFilter, ShowId, TerminalId, Theater,
};

/// A request. Every request gets exactly one [`crate::Reply`] or [`crate::ErrorBody`] with the same
/// request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// (0) First frame after the preface. `token: None` is a guest.
    Hello {
        /// Protocol version the client speaks.
        version: u16,
        /// Free-form client name for logs, such as `kiosk-3/1.2.0`.
        client_name: String,
        /// Terminal token, if any.
        token: Option<String>,
    },
    /// (1) Liveness check; answered with `Pong` carrying the same nonce.
    Ping {
        /// Echoed back.
        nonce: u64,
    },
    /// (2) All cities.
    ListCities,
    /// (3) Theaters, optionally of one city.
    ListTheaters {
        /// City filter.
        city_id: Option<u64>,
    },
    /// (4) Movies, optionally only those playing in one city.
    ListMovies {
        /// City filter.
        city_id: Option<u64>,
    },
    /// (5) Shows matching a filter.
    ListShows(ShowFilter),
    /// (6) A show's seat map.
    GetSeatMap {
        /// The show.
        show_id: ShowId,
    },
    /// (7) Hold seats (all or nothing).
    Hold {
        /// The show.
        show_id: ShowId,
        /// Which seats.
        selection: SeatSelection,
        /// A retried hold with the same key returns the same hold.
        idempotency_key: Option<String>,
    },
    /// (8) Extend a hold's expiry (up to the server's ceiling).
    Renew {
        /// The hold.
        hold_id: HoldId,
    },
    /// (9) Give a hold's seats back.
    Release {
        /// The hold.
        hold_id: HoldId,
    },
    /// (10) Turn a hold into a sale. Acknowledged only after the sale is durable.
    Confirm {
        /// The hold.
        hold_id: HoldId,
        /// The payment taken.
        payment: Payment,
        /// A retried confirm with the same key returns the same booking, never a second one.
        idempotency_key: String,
    },
    /// (11) Cancel a booking, freeing its seats; with `refund`, record a refund.
    Cancel {
        /// Booking code.
        code: String,
        /// Record a refund of the amount paid.
        refund: bool,
        /// Free-form reason for the audit trail.
        reason: String,
    },
    /// (12) Look up (or reprint) a booking.
    GetBooking {
        /// Booking code.
        code: String,
    },
    /// (13) Every booking of a show (box office and admin; used by load verification).
    ListBookings {
        /// The show.
        show_id: ShowId,
    },
    /// (14) Receive a push for every seat change of a show on this connection.
    Subscribe {
        /// The show.
        show_id: ShowId,
    },
    /// (15) Stop receiving a show's pushes.
    Unsubscribe {
        /// The show.
        show_id: ShowId,
    },
    /// (16) Sales, refunds and comps by payment method for a terminal (default: the caller) in
    /// `[from_ms, to_ms)`.
    ShiftReport {
        /// Terminal; `None` is the caller. Another terminal needs the admin role.
        terminal_id: Option<TerminalId>,
        /// Range start, inclusive.
        from_ms: u64,
        /// Range end, exclusive.
        to_ms: u64,
    },
    /// (17) Admin: create or update a city.
    UpsertCity(City),
    /// (18) Admin: create or update a theater.
    UpsertTheater(Theater),
    /// (19) Admin: create or update a screen and its layout. A layout cannot change while a show on
    /// it has sold seats.
    UpsertScreen(Screen),
    /// (20) Admin: create or update a movie.
    UpsertMovie(Movie),
    /// (21) Admin: create or update a show.
    UpsertShow(Show),
    /// (22) Admin: block or unblock seats of a show (house seats, broken seats).
    BlockSeats {
        /// The show.
        show_id: ShowId,
        /// Seats.
        seats: Vec<SeatId>,
        /// `true` blocks, `false` frees.
        blocked: bool,
    },
    /// (23) Admin: create a terminal; the reply carries its token, shown once.
    AddTerminal {
        /// Name.
        name: String,
        /// Role.
        role: Role,
    },
    /// (24) Admin: list terminals.
    ListTerminals,
    /// (25) Admin: revoke a terminal's token.
    RevokeTerminal {
        /// Terminal.
        terminal_id: TerminalId,
    },
    /// (26) A show's screen layout by category; kept separate from seat maps for cheap lookups.
    GetScreen {
        /// Screen.
        screen_id: u64,
    },
    /// (27) Free seats per category of a show, answered without taking the show's lock.
    Availability {
        /// The show.
        show_id: ShowId,
        /// Category, or all.
        category: Option<Category>,
    },
    /// (28) Admin: a show's audit trail (sales, cancellations) in `(lamport, node_id)` order.
    AuditTrail {
        /// The show.
        show_id: ShowId,
    },
    /// (29) Node: who leads, as this node knows it. Answered with `NodeStatus`.
    NodeStatus {
        /// The asking node.
        node_id: u32,
    },
    /// (30) Node (bully election): a lower node asks whether a higher one is alive. The answer
    /// (`NodeStatus`) is the bully "Answer": the callee takes over the election.
    Election {
        /// The candidate.
        node_id: u32,
    },
    /// (31) Node (bully election): the sender is the leader of `epoch`.
    Coordinator {
        /// The new leader.
        node_id: u32,
        /// The fencing epoch it claimed in the database.
        epoch: u64,
        /// Its client address, for `NotLeader` answers.
        client_addr: String,
    },
    /// (32) Node: stream the leader's events from these positions. Answered with `Following`,
    /// then `Replicated`, `Snapshot` and `Heartbeat` pushes on this connection.
    Follow {
        /// The follower.
        node_id: u32,
        /// Where it is, per show; shows not listed start from a snapshot.
        positions: Vec<ShowPosition>,
    },
    /// (33) Node: the first step of peer authentication (instead of `Hello`). The node proves
    /// the cluster secret by challenge-response; the secret itself never crosses the wire.
    /// Answered with `PeerChallenge`. See docs/PROTOCOL.md 11.8.
    PeerHello {
        /// Protocol version the node speaks (as in `Hello`).
        version: u16,
        /// The connecting node's id, as in the cluster's `--peers`.
        node_id: u32,
        /// [`PEER_NONCE_BYTES`] fresh random bytes; the answering node's proof covers them.
        nonce: [u8; PEER_NONCE_BYTES],
    },
    /// (34) Node: the second step of peer authentication: the connecting node's HMAC-SHA256 over
    /// both nonces. Answered with `Welcome` (role `Node`) or `Unauthenticated`.
    PeerProof {
        /// `HMAC-SHA256(secret, "CINEBOOK-PEER-V1" 01 ids nonces)`, docs/PROTOCOL.md 11.8.
        proof: [u8; PEER_PROOF_BYTES],
    },
    /// (35) Start an online payment for a hold: the node creates a gateway order for the
    /// hold's total and pins the hold for the payment window. Retried with the same key, it
    /// answers the same order. Answered with `PaymentOrder`.
    CreatePaymentOrder {
        /// The hold (the caller's own).
        hold_id: HoldId,
        /// A retry with the same key returns the same order, never a second one.
        idempotency_key: String,
    },
    /// (36) The checkout's result for one of the caller's orders (Razorpay's
    /// `razorpay_payment_id` and `razorpay_signature`). The node checks the signature and the
    /// payment at the gateway, then sells. Answered with `PaymentOrder`.
    VerifyCheckout {
        /// Our order id.
        order_id: u64,
        /// The gateway's payment id.
        payment_id: String,
        /// Hex HMAC-SHA256 of `gateway_order_id|payment_id` under the key secret.
        signature: String,
    },
    /// (37) One of the caller's payment orders as it is now. Answered with `PaymentOrder`.
    PaymentStatus {
        /// Our order id.
        order_id: u64,
    },
    /// (38) Node: a follower, on its `Follow` connection, acknowledges that it applied the
    /// leader's stream up to these positions (only shows that moved; none: "alive and following").
    /// A leader answers a hold only once every caught-up follower acknowledged it, and grants
    /// holds only while one did (or its stored lease was renewed) within `leader_lease_ms`. `taking_over`: a recovered higher node
    /// asks the leader to stop granting and hand over; the answer (`NodeStatus`) comes once the
    /// leader has stopped. See docs/PROTOCOL.md 11.7.
    ReplicaAck {
        /// The follower.
        node_id: u32,
        /// Applied positions.
        positions: Vec<ShowPosition>,
        /// Asks the leader to hand over to this node.
        taking_over: bool,
    },
    /// (39) Box office: refund some seats of a confirmed booking, by the booking's payment
    /// method (through the gateway for a gateway-paid one); the seats become free, the booking
    /// keeps the others. Answered with `SeatsRefunded`.
    RefundSeats {
        /// Booking code.
        code: String,
        /// The seats to refund: some, not all, of the booking's.
        seats: Vec<SeatId>,
        /// Why (recorded with the refund).
        reason: String,
    },
    /// (40) A booking's ticket: the booking and its signed QR payload. Kiosks and the web get
    /// their own bookings' only. Answered with `Ticket`.
    GetTicket {
        /// Booking code.
        code: String,
    },
    /// (41) The cinema's ticket-verification public key, for offline door scanners. Anyone may
    /// ask. Answered with `TicketKey`.
    TicketKey,
    /// (42) Door: admit the holder of a ticket (a QR payload or a booking code) at this door.
    /// Answered with `Scan` (admitted or refused with the reason), never an error for a
    /// refused ticket.
    Scan {
        /// A QR payload (`CB1:…`) or a booking code.
        ticket: String,
        /// The gate's name, recorded with the admission (1..=64 bytes).
        gate: String,
        /// Where this door admits.
        place: crate::door::DoorPlace,
    },
    /// (43) Door: admissions an offline scanner made by signature, reported when it is back
    /// (at most `ADMISSIONS_REPORT_MAX`). Answered with `AdmissionsReported`, one result each,
    /// in order; one admitted before by another scanner is `Duplicate`.
    ReportAdmissions {
        /// The admissions.
        admissions: Vec<crate::door::OfflineAdmission>,
    },
    /// (44) Box office: block or unblock seats of a show (house seats) with a reason for the
    /// audit trail (1..=200 bytes). `BlockSeats` without a reason stays admin-only.
    BlockSeatsWithReason {
        /// The show.
        show_id: ShowId,
        /// Seats.
        seats: Vec<SeatId>,
        /// `true` blocks, `false` frees.
        blocked: bool,
        /// Why, such as `house seats for the director`.
        reason: String,
    },
    /// (45) One page of a list (cities, theaters, movies, shows, bookings, terminals, audit
    /// trail): the items after a cursor, at most `limit`. Answered with `Page`. The unpaged
    /// list requests answer `PageRequired` when their reply would not fit a frame.
    ListPage(crate::page::PageRequest),
    // Notifications (issue 16): the customer's contact on a sale, and show cancellation.
    /// (46) `Confirm` with the customer's contact: the booking keeps it and the confirmation
    /// (and later refund or show-change notices) are sent to it. Answered with `Booking`.
    ConfirmWithContact {
        /// The hold.
        hold_id: HoldId,
        /// The payment taken.
        payment: Payment,
        /// A retried confirm with the same key returns the same booking, never a second one.
        idempotency_key: String,
        /// Where the customer hears about the booking (both parts optional).
        contact: Contact,
    },
    /// (47) `CreatePaymentOrder` with the customer's contact, kept on the order and given to
    /// the booking the captured payment makes. Answered with `PaymentOrder`.
    CreatePaymentOrderWithContact {
        /// The hold (the caller's own).
        hold_id: HoldId,
        /// A retry with the same key returns the same order, never a second one.
        idempotency_key: String,
        /// Where the customer hears about the booking.
        contact: Contact,
    },
    /// (48) Admin: cancel a show. Every confirmed booking of it is refunded (by its payment
    /// method, through the gateway where paid that way) and every customer notified. The show
    /// stays in the catalog (its seats are not blocked by this). Answered with `ShowCancelled`.
    CancelShow {
        /// The show.
        show_id: ShowId,
        /// Why (recorded with each refund, told to customers).
        reason: String,
    },
}

/// The most admissions one `ReportAdmissions` carries.
pub const ADMISSIONS_REPORT_MAX: usize = 500;

/// Bytes of a peer-authentication nonce (`PeerHello.nonce`, `PeerChallenge.nonce`).
pub const PEER_NONCE_BYTES: usize = 32;

/// Bytes of a peer-authentication proof: an HMAC-SHA256 tag.
pub const PEER_PROOF_BYTES: usize = 32;

impl Request {
    /// The message name used in logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "hello",
            Request::Ping { .. } => "ping",
            Request::ListCities => "list_cities",
            Request::ListTheaters { .. } => "list_theaters",
            Request::ListMovies { .. } => "list_movies",
            Request::ListShows(_) => "list_shows",
            Request::GetSeatMap { .. } => "get_seat_map",
            Request::Hold { .. } => "hold",
            Request::Renew { .. } => "renew",
            Request::Release { .. } => "release",
            Request::Confirm { .. } => "confirm",
            Request::Cancel { .. } => "cancel",
            Request::GetBooking { .. } => "get_booking",
            Request::ListBookings { .. } => "list_bookings",
            Request::Subscribe { .. } => "subscribe",
            Request::Unsubscribe { .. } => "unsubscribe",
            Request::ShiftReport { .. } => "shift_report",
            Request::UpsertCity(_) => "upsert_city",
            Request::UpsertTheater(_) => "upsert_theater",
            Request::UpsertScreen(_) => "upsert_screen",
            Request::UpsertMovie(_) => "upsert_movie",
            Request::UpsertShow(_) => "upsert_show",
            Request::BlockSeats { .. } => "block_seats",
            Request::AddTerminal { .. } => "add_terminal",
            Request::ListTerminals => "list_terminals",
            Request::RevokeTerminal { .. } => "revoke_terminal",
            Request::GetScreen { .. } => "get_screen",
            Request::Availability { .. } => "availability",
            Request::AuditTrail { .. } => "audit_trail",
            Request::NodeStatus { .. } => "node_status",
            Request::Election { .. } => "election",
            Request::Coordinator { .. } => "coordinator",
            Request::Follow { .. } => "follow",
            Request::PeerHello { .. } => "peer_hello",
            Request::PeerProof { .. } => "peer_proof",
            Request::CreatePaymentOrder { .. } => "create_payment_order",
            Request::VerifyCheckout { .. } => "verify_checkout",
            Request::PaymentStatus { .. } => "payment_status",
            Request::ReplicaAck { .. } => "replica_ack",
            Request::RefundSeats { .. } => "refund_seats",
            Request::GetTicket { .. } => "get_ticket",
            Request::TicketKey => "ticket_key",
            Request::Scan { .. } => "scan",
            Request::ReportAdmissions { .. } => "report_admissions",
            Request::BlockSeatsWithReason { .. } => "block_seats_with_reason",
            Request::ListPage(page) => page.list.name(),
            Request::ConfirmWithContact { .. } => "confirm_with_contact",
            Request::CreatePaymentOrderWithContact { .. } => "create_payment_order_with_contact",
            Request::CancelShow { .. } => "cancel_show",
        }
    }
}
