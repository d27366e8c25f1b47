//! A CineBook node: seat maps in memory, holds, and sales written through to MySQL.
//!
//! # Layout
//!
//! - [`domain`]: the seat-map state machine, a pure function. `ShowState::apply(command, now_ms,
//!   lamport)` checks a command against a show's seats and returns the events it causes; the same
//!   events replay on recovery (and, later, on followers). No clock reads, no I/O, no locks.
//! - [`store`]: the [`store::Store`] trait and its MySQL, embedded SQLite and in-memory
//!   implementations.
//! - [`node`]: the plumbing around it: the worker pool (a bounded crossbeam channel, OS threads,
//!   one `parking_lot::Mutex` per show), the group-commit writer, the hold sweeper, the catalog
//!   snapshot, terminals and roles, and one handler per request.
//! - [`net`]: the accept loop (connection admission by semaphore, graceful shutdown) and the
//!   connection task (preface, hello, pipelined requests, subscriptions, timeouts).
//! - [`cluster`]: leader and followers: the bully election, replication of the event stream,
//!   and the fencing epoch in the database.
//! - [`import`]: catalog import (JSON over HTTP(S) or from a file, seat maps from CSV), the
//!   scheduled sync and the sample cinema of a first start.
//! - [`metrics`]: Prometheus metrics, `/healthz` and `/readyz` on `--metrics-listen`.
//! - [`config`]: every limit, named with its unit.
//! - [`testing`]: a uniquely named MySQL database per test, dropped afterwards.
#![deny(missing_docs)]

pub mod cluster;
pub mod config;
pub mod domain;
pub mod import;
pub mod metrics;
pub mod net;
pub mod node;
pub mod notify;
pub mod store;
pub mod testing;

pub use config::{Config, ConnectionLimits};
pub use net::server::{RunningServer, Server};
