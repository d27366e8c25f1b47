//! The seat-map state machine: the rules of selling seats, as a pure function.
//!
//! [`ShowState`] is one show's seats, holds and bookings. [`ShowState::apply`] takes a
//! [`Command`], the current time and a Lamport time, checks the command against the seats, and
//! returns the [`EventRecord`]s it caused, already applied. [`ShowState::replay`] applies an event
//! produced elsewhere (recovery from MySQL, a follower applying the leader's stream) through the
//! same code path. Nothing in this module reads a clock, does I/O or takes a lock: the node's
//! plumbing passes time in and writes results out.
//!
//! # Rules
//! - A seat is free, held (by one hold), sold (by one booking) or blocked.
//! - A hold is all or nothing: if any seat is not free, nothing is held and the error names the
//!   seats. Holds belong to a terminal, expire at `expires_at_ms`, can be renewed up to a ceiling,
//!   and are capped in seats per hold and holds per terminal ([`HoldLimits`]).
//! - Best-available picks adjacent seats in one row (an aisle breaks adjacency), nearest the
//!   screen's ideal position, never leaving a single orphan seat when another choice exists.
//!   Wheelchair and companion places are given only when asked for by category.
//! - A sale is two steps because it is acknowledged only after the database commit:
//!   [`ShowState::begin_sale`] validates and pins the hold (it can no longer expire or be released),
//!   the plumbing commits, then `Command::Sell` turns the seats sold (or
//!   [`ShowState::abort_sale`] unpins the hold, whose seats stay held).
//! - A cancellation frees a sold booking's seats; with a refund it is recorded as one. Either way
//!   it is not a release.
//! - Sales close per show and role ([`sales_close_at_ms`]): the caller passes the closing time
//!   in, `Hold` and `begin_sale` compare it with `now_ms`.
//! - Idempotency keys: a hold or confirm retried with the same (terminal, key) gets the original
//!   hold or booking back, never a second one.

mod best_available;
pub mod code;
mod error;
mod events;
mod layout;
mod sales_window;
mod show_core;
mod show_state;

pub use best_available::pick_best;
pub use code::{booking_code, CodeGenerator, RandomCodes, SeededCodes};
pub use error::DomainError;
pub use events::{Command, Event, EventRecord, HoldSpec};
pub use layout::{Layout, Pricing};
pub use sales_window::{sales_close_at_ms, BOX_OFFICE_LATE_MIN_DEFAULT, SALES_NEVER_CLOSE};
pub use show_core::{DurableShow, SaleRequest, SaleResult, ShowInput, ShowOutput};
pub use show_state::{
    refunded_seats, Hold, HoldLimits, SaleIntent, ShowState, SlotState, CODE_CANDIDATES_MAX,
};
