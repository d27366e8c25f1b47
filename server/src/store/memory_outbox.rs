//! The [`super::memory::MemoryStore`]'s outbox: rows and contacts in memory, with the same
//! conditional state changes as the SQL stores (`store::outbox`).

use std::collections::HashMap;

use cinebook_protocol::types::Contact;

use super::outbox::{count_into, state, LAST_ERROR_CHARS_MAX};
use crate::notify::message::{OutboxMark, OutboxMessage, OutboxStats, PendingMessage};

#[derive(Debug, Clone)]
struct Row {
    message: OutboxMessage,
    state: &'static str,
    attempts: u32,
    next_at_ms: u64,
    last_error: Option<String>,
}

/// Outbox rows in order of writing, and the contact of each booking.
#[derive(Debug, Default, Clone)]
pub struct MemoryOutbox {
    rows: Vec<Row>,
    contacts: HashMap<String, Contact>,
}

impl MemoryOutbox {
    /// Writes `messages`; an id stored already is kept as it is.
    pub fn insert(&mut self, messages: &[OutboxMessage]) {
        for m in messages {
            if self.rows.iter().any(|r| r.message.id == m.id) {
                continue;
            }
            self.rows.push(Row {
                message: m.clone(),
                state: state::PENDING,
                attempts: 0,
                next_at_ms: m.created_at_ms,
                last_error: None,
            });
        }
    }

    /// Undoes [`MemoryOutbox::insert`] of these messages (a rolled-back batch).
    pub fn remove(&mut self, messages: &[OutboxMessage]) {
        self.rows
            .retain(|r| !messages.iter().any(|m| m.id == r.message.id));
    }

    /// Keeps a booking's contact.
    pub fn set_contact(&mut self, code: &str, contact: &Contact) {
        if !contact.is_empty() {
            self.contacts.insert(code.to_owned(), contact.clone());
        }
    }

    fn pending_message(&self, seq: usize, row: &Row) -> PendingMessage {
        PendingMessage {
            seq: seq as u64 + 1,
            message: row.message.clone(),
            contact: self
                .contacts
                .get(&row.message.code)
                .cloned()
                .unwrap_or_default(),
            attempts: row.attempts,
            last_error: row.last_error.clone(),
        }
    }

    /// Pending rows due at `now_ms`, oldest first.
    pub fn pending(&self, now_ms: u64, limit: usize) -> Vec<PendingMessage> {
        self.select(limit, |r| {
            r.state == state::PENDING && r.next_at_ms <= now_ms
        })
    }

    /// Dead rows, oldest first.
    pub fn dead(&self, limit: usize) -> Vec<PendingMessage> {
        self.select(limit, |r| r.state == state::DEAD)
    }

    fn select(&self, limit: usize, keep: impl Fn(&Row) -> bool) -> Vec<PendingMessage> {
        self.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| keep(r))
            .take(limit)
            .map(|(i, r)| self.pending_message(i, r))
            .collect()
    }

    /// Applies `mark` to the pending row `id`.
    pub fn mark(&mut self, id: &str, mark: &OutboxMark) {
        let Some(row) = self
            .rows
            .iter_mut()
            .find(|r| r.message.id == id && r.state == state::PENDING)
        else {
            return;
        };
        let clip = |e: &str| Some(e.chars().take(LAST_ERROR_CHARS_MAX).collect());
        match mark {
            OutboxMark::Sent { .. } => row.state = state::SENT,
            OutboxMark::Retry {
                attempts,
                next_at_ms,
                error,
            } => {
                row.attempts = *attempts;
                row.next_at_ms = *next_at_ms;
                row.last_error = clip(error);
            }
            OutboxMark::Dead { attempts, error } => {
                row.state = state::DEAD;
                row.attempts = *attempts;
                row.last_error = clip(error);
            }
        }
    }

    /// Dead rows `ids` (all when empty) pending again.
    pub fn replay(&mut self, ids: &[String], now_ms: u64) -> u64 {
        let mut changed = 0;
        for row in &mut self.rows {
            if row.state == state::DEAD && (ids.is_empty() || ids.contains(&row.message.id)) {
                row.state = state::PENDING;
                row.attempts = 0;
                row.next_at_ms = now_ms;
                changed += 1;
            }
        }
        changed
    }

    /// Rows by state.
    pub fn stats(&self) -> OutboxStats {
        let mut stats = OutboxStats::default();
        for name in [state::PENDING, state::SENT, state::DEAD] {
            let rows = self.rows.iter().filter(|r| r.state == name);
            let count = rows.clone().count() as u64;
            let oldest = rows.map(|r| r.message.created_at_ms).min();
            count_into(&mut stats, name, count, oldest);
        }
        stats
    }
}
