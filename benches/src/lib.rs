//! `cinebook-load`, the CineBook load generator, as a library (the binary is a thin command line
//! over it, and the tests drive it directly).
//!
//! # Layout
//!
//! - [`catalog`]: the test catalog: `prepare` creates it through admin requests with ids in a
//!   reserved range and the city name [`catalog::CITY_NAME`]; `run` finds it again.
//! - [`workload`]: the workload shapes and the seat choices, drawn from a seeded generator per
//!   connection so that every system sees the same choices.
//! - [`driver`]: runs workers (connections × pipeline slots) for a duration or a number of
//!   operations, with a progress bar, and gathers [`stats::RunStats`].
//! - [`stats`]: latency histograms (hdrhistogram), errors by code, the tables and the JSON.
//! - [`cinebook`]: the CineBook workers (through `cinebook_client::Client`) and `fanout`.
//! - [`redis_baseline`], [`mysql_baseline`]: the same shapes against Redis holds and MySQL row
//!   locks.
//! - [`verify`]: after a run, checks that no seat was sold twice and no acknowledged sale was lost,
//!   from the server's view and straight from MySQL.
//! - [`compare`]: CineBook against both baselines in one command.
//! - [`connections`]: many connections held open at once, holds through a subset of them, and
//!   the node's resident memory (`/proc`).
//! - [`cost`]: CPU time per operation and database rows per sale, around each run.
//! - [`inprocess`]: a CineBook node on its own runtime over a fresh MySQL database.
#![deny(missing_docs)]

pub mod catalog;
pub mod cinebook;
pub mod compare;
pub mod connections;
pub mod cost;
pub mod driver;
pub mod inprocess;
pub mod mysql_baseline;
pub mod redis_baseline;
pub mod stats;
pub mod verify;
pub mod workload;
