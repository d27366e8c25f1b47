//! The CineBook client library, for kiosks and box offices.
//!
//! # Layout
//!
//! - [`Client`] (`client.rs`): one shared connection per client and its clones; reconnects with
//!   backoff across a list of node addresses, follows `NotLeader` to the leader, retries
//!   `Unavailable`/`Overloaded`, and bounds every call by [`ClientConfig::call_timeout_ms`].
//! - The typed calls (`api.rs`): one method per protocol request, such as [`Client::hold`] and
//!   [`Client::confirm`].
//! - `payments.rs`: online payments through the node's gateway ([`Client::create_payment_order`],
//!   [`Client::verify_checkout`], [`Client::payment_status`]).
//! - `conn.rs`: one open connection — preface, `Hello`, a writer task that batches frames, a
//!   reader task, and the map of pipelined calls in flight (request id → oneshot).
//! - [`Subscription`] (`subscription.rs`): a show's live seat map as a [`futures::Stream`] of
//!   [`SeatUpdate`]s that re-fetches the map on any gap, so it is never silently wrong.
//! - [`blocking`]: [`blocking::Client`], the same calls for code that is not async.
//! - [`Error`] (`error.rs`): the server's error codes, one variant each, and transport failures.
//! - [`ClientConfig`] (`config.rs`): every limit, each named with its unit.
//!
//! The `cinebook` terminal client (scriptable CLI and the full-screen box office) is built only with
//! the default `cli` feature; kiosks depend on this crate with `default-features = false`.
//!
//! # Safety of retries
//!
//! A call is retried only when that cannot apply it twice: server errors mean nothing was
//! applied; after a lost connection, reads, keyed holds ([`Client::hold`] makes a key) and keyed
//! confirms are sent again, while a cancel or release in flight is reported as
//! [`Error::Indeterminate`]. A confirm always carries the caller's idempotency key, so a retried
//! confirm returns the same booking, never a second one.
//!
//! # A kiosk sale
//!
//! ```no_run
//! use cinebook_client::types::{Money, Payment, PaymentMethod, SeatSelection, ShowFilter};
//! use cinebook_client::{new_idempotency_key, Client, ClientConfig, SeatUpdate};
//! use futures::StreamExt;
//!
//! # async fn sale() -> Result<(), cinebook_client::Error> {
//! let config = ClientConfig {
//!     client_name: "kiosk-3".into(),
//!     ..ClientConfig::with_token("kiosk-3-token")
//! };
//! // Any node will do: reads are served everywhere, writes find the leader.
//! let client = Client::connect(["10.0.0.1:7878", "10.0.0.2:7878"], config).await?;
//!
//! // Pick tonight's first show and follow its seat map live.
//! let shows = client.list_shows(ShowFilter::default()).await?;
//! let Some(show) = shows.first() else { return Ok(()) };
//! let mut live = client.subscribe(show.show.id);
//! let mut map = None;
//! if let Some(update) = live.next().await {
//!     update?.apply(&mut map); // the first update is always a full snapshot
//! }
//!
//! // Two adjacent standard seats, then pay by card.
//! let hold = client
//!     .hold(show.show.id, SeatSelection::Best { count: 2, category: None })
//!     .await?;
//! let payment = Payment {
//!     method: PaymentMethod::Card,
//!     amount: hold.total.clone(),
//!     reference: Some("auth-123456".into()),
//! };
//! let key = new_idempotency_key(); // keep it until confirm answers
//! let booking = client.confirm(hold.hold_id, payment, &key).await?;
//! println!("booking {} for seats {:?}", booking.code, hold.labels);
//!
//! // Our own sale comes back as a push.
//! if let Some(Ok(update @ SeatUpdate::Changes { .. })) = live.next().await {
//!     update.apply(&mut map);
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod api;
mod backoff;
pub mod blocking;
mod client;
mod config;
mod conn;
mod door_api;
mod error;
mod pages;
mod payments;
mod subscription;
mod tls;
mod welcome;

pub use api::{NewTerminal, Pong};
pub use backoff::new_idempotency_key;
pub use client::Client;
pub use config::ClientConfig;
pub use error::{Error, Result};
pub use pages::{LIST_PAGES_MAX, LIST_PAGE_ITEMS};
pub use subscription::{SeatUpdate, Subscription};
pub use tls::TlsOptions;
pub use welcome::Welcome;

/// Tickets, scans and admissions (the door requests).
pub use cinebook_protocol::request::ADMISSIONS_REPORT_MAX;
/// The protocol's domain types (shows, seats, holds, bookings), re-exported for convenience.
pub use cinebook_protocol::types;
pub use cinebook_protocol::{door, ticket};
/// The protocol's request and reply enums, for [`Client::request`].
pub use cinebook_protocol::{ErrorCode, Reply, Request};
