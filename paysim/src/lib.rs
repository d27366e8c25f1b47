//! `cinebook-paysim`: a local payment gateway that speaks Razorpay's REST API, so every test
//! and the first run take card payments with no account and no network.
//!
//! It serves, on 127.0.0.1, the `/v1` orders, payments and refunds endpoints with Razorpay's
//! JSON and error shapes behind basic auth; a hosted checkout page
//! (`GET /checkout/{order_id}?callback_url=…`) whose Pay and Decline buttons post to
//! `POST /sim/orders/{order_id}/pay|decline`; and signed webhooks to a configured URL. Fault
//! switches delay, duplicate, reorder or drop webhooks and make REST calls answer 5xx or hang.
//! Every random choice comes from one seed.
//!
//! # Layout
//!
//! - [`Simulator::start`] / [`SimHandle`] (`handle.rs`): start in-process on 127.0.0.1:0, base
//!   URL, switches ([`SimControl`]), webhook URL, books, shutdown.
//! - [`SimConfig`] (`config.rs`): keys, seed, limits, switches at start.
//! - [`Switches`] / [`SwitchesPatch`] (`switches.rs`): the fault switches.
//! - `ledger/`: the books and Razorpay's rules for orders, payments, refunds.
//! - `paying.rs`: the checkout buttons (Pay, Decline) and their answers.
//! - `sim.rs`: state shared by the HTTP handlers and the dispatcher.
//! - `api/`: the HTTP routes (REST, checkout, `/sim/…` control).
//! - `webhook.rs`: the dispatcher (signing, switches, bounded retries) and its log.
//!
//! The binary (`main.rs`, feature `cli`) is `cinebook-paysim --listen ADDR --webhook-url URL`.

#![deny(missing_docs)]

mod api;
mod config;
mod handle;
pub mod ledger;
mod paying;
mod sim;
mod switches;
mod webhook;

pub use config::*;
pub use handle::{SimControl, SimError, SimHandle, Simulator};
pub use ledger::{ApiError, LedgerSnapshot, SimOrder, SimPayment, SimRefund};
pub use paying::{CheckoutDeclined, CheckoutPaid, DeclineDetail, DeclineMetadata};
pub use sim::ACCOUNT_ID;
pub use switches::{
    Endpoint, SwitchError, Switches, SwitchesPatch, REORDER_WINDOW_MAX, SWITCH_WAIT_MAX_MS,
};
pub use webhook::{WebhookOutcome, WebhookRecord, WEBHOOK_RETRY_BACKOFF_MAX_MS};
