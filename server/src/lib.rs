//! A CineBook node: seat maps in memory, holds, and sales written through to MySQL.
//!
//! # Layout
//!
//! - [`domain`]: the seat-map state machine, a pure function. `ShowState::apply(command, now_ms,
//!   lamport)` checks a command against a show's seats and returns the events it causes; the same
//!   events replay on recovery (and, later, on followers). No clock reads, no I/O, no locks.
//! - [`store`]: the [`store::Store`] trait and its MySQL and in-memory implementations.
//! - [`testing`]: a uniquely named MySQL database per test, dropped afterwards.
#![deny(missing_docs)]

pub mod domain;
pub mod store;
pub mod testing;
