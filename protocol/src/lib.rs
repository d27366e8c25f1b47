//! The CineBook wire protocol.
//!
//! Every CineBook program speaks these frames: the server, the client library kiosks embed, the
//! `cinebook` terminal client, the load generator and the cluster's nodes. `docs/PROTOCOL.md` is the
//! normative, byte-level specification; the golden vectors in `tests/golden.rs` keep this crate and
//! that document in step.
//!
//! # Layout
//!
//! - [`preface`]: the fixed magic bytes and version that open every connection, and the check a
//!   server runs on them (a wrong magic gets one readable line, then close).
//! - [`codec`]: [`FrameCodec`], a `tokio_util` codec. A frame is a u32 big-endian payload length
//!   followed by the payload; the length is checked against `frame_max_bytes` *before* anything is
//!   allocated. The payload is a postcard-encoded [`Envelope`].
//! - [`envelope`]: [`Envelope`] `{ request_id, lamport, body }` and [`Body`] (request, reply, error,
//!   push). Request ids let a client pipeline; [`PUSH_REQUEST_ID`] marks server pushes.
//! - [`request`], [`reply`], [`push`]: one enum each, one variant per message.
//! - [`page`]: paged lists (`ListPage`, `Page`): the list, the cursor and the limit.
//! - [`types`]: the domain values those messages carry (ids, money, seats, shows, bookings).
//! - [`ticket`]: signed QR tickets ([`ticket::qr_text`]) and their offline check; [`door`]: what
//!   the ticket and door requests carry.
//! - [`money`]: [`types::Money`] printed for people (`12.50 CHF`), in the currency's own digits.
//! - [`cluster`]: what only nodes exchange: replicated events, show snapshots, the audit trail.
//! - [`error`]: [`ErrorCode`], the typed error every side shares, and this crate's own
//!   [`ProtocolError`].
//! - [`lamport`]: [`LamportClock`], `max(local, received) + 1`.
//!
//! # Encoding
//!
//! The design card named bincode; bincode is unmaintained (its 3.0 release is a deliberate compile
//! error, RUSTSEC-2025-0141 covers 2.x), so payloads use postcard, whose wire format is stable and
//! documented. The encoding is private to [`codec`]: swapping it touches one module.
//!
//! # Evolution
//!
//! Enums are append-only: a new message, error code or category is a new variant at the end, never
//! a reordering, never a removed variant. Struct fields are never reordered or removed; a new field
//! means a new message variant (postcard has no field tags). Incompatible changes bump
//! [`PROTOCOL_VERSION`].
#![deny(missing_docs)]

pub mod cluster;
pub mod codec;
pub mod door;
pub mod envelope;
pub mod error;
pub mod lamport;
pub mod money;
pub mod page;
pub mod preface;
pub mod push;
pub mod reply;
pub mod request;
pub mod ticket;
pub mod types;

pub use codec::{decode_payload, encode_payload, FrameCodec, Incoming, FRAME_MAX_BYTES_DEFAULT};
pub use envelope::{Body, Envelope, PUSH_REQUEST_ID};
pub use error::{ErrorBody, ErrorCode, ProtocolError};
pub use lamport::LamportClock;
pub use preface::{
    PrefaceCheck, PrefaceError, MAGIC, PREFACE_LEN, PROTOCOL_VERSION, PROTOCOL_VERSION_MIN,
    WRONG_MAGIC_LINE,
};
pub use push::Push;
pub use reply::Reply;
pub use request::{Request, PEER_NONCE_BYTES, PEER_PROOF_BYTES};
