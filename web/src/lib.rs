//! `cinebook-web`: the customer web site. Stateless: every customer's hold and payment lives on
//! the nodes (reached through `cinebook-client` with a terminal of role `web`); the browser
//! carries only a signed session cookie naming its holds, so any replica can serve any request.
//!
//! # Layout
//!
//! - [`WebConfig`] (`config.rs`): every limit, each named with its unit.
//! - [`App`] (`app.rs`): the shared state and the router ([`App::router`], [`serve`]).
//! - `session.rs`: the signed session cookie (which holds are this browser's).
//! - `limiter.rs`: the per-address hold limit.
//! - `live_hub.rs`: one node subscription per watched show, fanned out to its WebSockets.
//! - `error.rs`: [`ApiError`], every failure as a typed JSON error with a sentence.
//! - `json.rs`: the JSON shapes of docs/WEB.md.
//! - `api/`: the JSON API (`/api/...`), the WebSocket feed and the webhook forwarder.
//! - `pages/`: the server-rendered pages and their small scripts (`assets/`).

#![deny(missing_docs)]

mod api;
mod app;
mod config;
mod error;
mod json;
mod limiter;
mod live_hub;
mod pages;
mod session;
pub mod ticket;

pub use app::{serve, App};
pub use config::{parse_proxy, WebConfig};
pub use error::ApiError;
pub use session::SESSION_COOKIE;
