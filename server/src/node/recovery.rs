//! The store is the truth after a restart or a failover: [`Node::recover`] rebuilds every show
//! from it at start-up, [`Node::take_over`] brings a new leader's replicated shows in line with
//! it. Both hand the same [`DurableShow`] facts to the show core, which applies them whatever
//! order the bookings come in and whatever their Lamport times.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use cinebook_protocol::types::ShowId;

use super::{now_ms, Node, StartError};
use crate::domain::{DurableShow, ShowInput};
use crate::store::{StoreError, StoredBooking};

/// A stored confirm key and what it sold: ((terminal, key), (booking code, hold)).
type StoredKey = ((u64, String), (String, Option<u64>));

/// The store's facts, grouped by show, and the hold each stored confirm key came from.
struct Facts {
    shows: HashMap<ShowId, DurableShow>,
    keys: Vec<StoredKey>,
    bookings: usize,
}

impl Node {
    async fn read_facts(&self) -> Result<Facts, StoreError> {
        let bookings = self.store.load_bookings().await?;
        let blocked = self.store.load_blocked_seats().await?;
        let mut facts = Facts {
            shows: HashMap::new(),
            keys: Vec::with_capacity(bookings.len()),
            bookings: bookings.len(),
        };
        for StoredBooking {
            booking,
            idempotency_key,
            hold_id,
        } in bookings
        {
            self.lamport.observe(booking.lamport);
            facts.keys.push((
                (booking.terminal_id, idempotency_key.clone()),
                (booking.code.clone(), hold_id),
            ));
            facts
                .shows
                .entry(booking.show_id)
                .or_default()
                .bookings
                .push((booking, idempotency_key));
        }
        for (show_id, seat_id) in blocked {
            let durable = facts.shows.entry(show_id).or_default();
            durable.blocked.get_or_insert_with(Vec::new).push(seat_id);
        }
        Ok(facts)
    }

    /// Rebuilds sold and blocked seats from the store at start-up. A stored fact that does not
    /// fit stops the start: memory must never begin out of step with the store.
    pub(super) async fn recover(&self) -> Result<(), StartError> {
        let facts = self.read_facts().await?;
        let count = facts.bookings;
        for (show_id, durable) in facts.shows {
            let Some(slot) = self.show(show_id) else {
                tracing::warn!(show_id, "bookings of an unknown show not loaded");
                continue;
            };
            let output = self
                .apply_input(&slot, ShowInput::Durable(durable))
                .map_err(|e| StartError::Recovery(format!("show {show_id}: {e}")))?;
            if let Some(first) = output.diverged.first() {
                return Err(StartError::Recovery(format!("show {show_id}: {first}")));
            }
        }
        self.remember_hold_keys(facts.keys);
        tracing::info!(
            bookings = count,
            shows = self.shows.read().len(),
            "recovered from the store"
        );
        Ok(())
    }

    /// Becomes the leader of `epoch`: fence the store, bring every show in line with it (a sale
    /// or block the old leader committed but did not replicate), continue hold ids above
    /// every replicated one, and rebuild the holds of open payment orders (before the node
    /// answers as leader, so the first capture it settles finds its hold).
    pub async fn take_over(self: &Arc<Self>, epoch: u64) -> Result<(), StoreError> {
        self.store.set_fence(Some(epoch));
        // Shows created just before the failover may not have reached this node yet.
        self.reload_catalog().await?;
        let facts = self.read_facts().await?;
        let mut applied = 0usize;
        for slot in self.show_slots() {
            let durable = facts.shows.get(&slot.show_id).cloned().unwrap_or_default();
            let durable = DurableShow {
                blocked: Some(durable.blocked.unwrap_or_default()),
                ..durable
            };
            match self.apply_input(&slot, ShowInput::Durable(durable)) {
                Ok(output) => {
                    applied += output.records.len();
                    for why in output.diverged {
                        tracing::error!(show_id = slot.show_id, %why, "STORED FACT DOES NOT FIT THE REPLICATED STATE");
                    }
                }
                Err(e) => tracing::error!(show_id = slot.show_id, error = %e, "take-over refused"),
            }
        }
        self.remember_hold_keys(facts.keys);
        let max_hold = self
            .show_slots()
            .iter()
            .filter_map(|s| s.read().max_hold_id())
            .max()
            .unwrap_or(0);
        self.next_hold_id.fetch_max(
            max_hold.saturating_add(1).max(now_ms() << 12),
            Ordering::Relaxed,
        );
        let payment_holds = match self.payments {
            Some(_) => super::payments::restore::restore_holds(self).await,
            None => 0,
        };
        tracing::info!(
            epoch,
            applied,
            payment_holds,
            "took over: seats rebuilt from the store"
        );
        Ok(())
    }

    /// Which hold each stored confirm key sold (where the store knows), so that a key reused for
    /// another hold is a `Conflict` after a restart too.
    fn remember_hold_keys(&self, keys: Vec<StoredKey>) {
        let mut index = self.confirm_keys.lock();
        for (key, (code, hold_id)) in keys {
            let entry = index.entry(key).or_insert((code.clone(), hold_id));
            if entry.0 == code && entry.1.is_none() {
                entry.1 = hold_id;
            }
        }
    }
}
