//! Server pushes: frames the server sends without a request, with request id
//! [`crate::PUSH_REQUEST_ID`]. Append-only.

use serde::{Deserialize, Serialize};

use crate::cluster::{ReplicatedEvent, ShowSnapshot};
use crate::types::{ChangeCause, SeatChange, ShowId};

/// A server push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Push {
    /// (0) Seats of a subscribed show changed. `seq` increases by exactly one per change of the
    /// show; a gap means pushes were lost and the seat map must be fetched again.
    SeatsChanged {
        /// The show.
        show_id: ShowId,
        /// The show's sequence number after this change.
        seq: u64,
        /// Why.
        cause: ChangeCause,
        /// The seats and their new states.
        changes: Vec<SeatChange>,
    },
    /// (1) This connection fell behind on a show and pushes were dropped: fetch the seat map again.
    Resync {
        /// The show.
        show_id: ShowId,
    },
    /// (2) The node is shutting down; reconnect (to another node) after the given delay.
    ShuttingDown {
        /// Human-readable reason.
        reason: String,
        /// Suggested delay before reconnecting.
        reconnect_after_ms: u64,
    },
    /// (3) To a follower: one event of a show, in sequence order.
    Replicated {
        /// The show.
        show_id: ShowId,
        /// The show's sequence number after the event.
        seq: u64,
        /// Lamport time of the change.
        lamport: u64,
        /// The change.
        event: ReplicatedEvent,
    },
    /// (4) To a follower: a show's whole state; later `Replicated` pushes continue from its seq.
    Snapshot(ShowSnapshot),
    /// (5) To a follower: the leader is alive; sent every heartbeat interval.
    Heartbeat {
        /// The leader.
        leader_id: u32,
        /// Its epoch.
        epoch: u64,
    },
    /// (6) To a follower: the catalog changed in the database; reload it.
    CatalogChanged,
    /// (7) To a subscribed guest that sent nothing for the node's idle timeout: answer with any
    /// frame (naturally `Request::Ping` with this nonce) within the node's guest ping timeout,
    /// or the connection is closed.
    Ping {
        /// Chosen by the server; echo it in `Request::Ping` to match the answer.
        nonce: u64,
    },
}
