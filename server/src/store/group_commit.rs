//! The group-commit algorithm, once for every store.
//!
//! [`commit_sales`] writes a batch in one transaction through a [`SaleBackend`]. When a rule of
//! the database refuses the batch (a seat already sold, a duplicate code or key, a value too
//! wide), the batch was rolled back, and every sale is committed again in a transaction of its
//! own, so that only the offenders fail; each of those is classified into a [`SaleConflict`]
//! by reading what is stored ([`classify`]).
//!
//! Definite outcomes are never lost: when an attempt fails part-way through isolation, the
//! sales already committed stay [`SaleOutcome::Committed`], the failing one is
//! [`SaleOutcome::NotCommitted`] or [`SaleOutcome::Unknown`] (whichever is true), and the sales
//! not yet tried are `NotCommitted`. An attempt whose `COMMIT` was sent is never retried here.

use async_trait::async_trait;
use cinebook_protocol::types::SeatId;

use super::{SaleConflict, SaleOutcome, SaleRecord, StoreError, StoredBooking};

/// Why one transaction of sales did not commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchFailure {
    /// A rule of the database refused a row (uniqueness, width, a missing show); the
    /// transaction was rolled back, nothing was written.
    Refused(String),
    /// Nothing was written for another reason (no connection, fenced, a timeout before
    /// `COMMIT` was sent).
    NotCommitted(String),
    /// `COMMIT` was sent and no definite answer came back.
    Unknown(String),
}

/// What is stored that may explain why a sale was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConflictFacts {
    /// The booking stored under the sale's code.
    pub by_code: Option<StoredBooking>,
    /// The code of the booking stored under the sale's (terminal, idempotency key).
    pub by_key: Option<String>,
    /// The sale's seats already owned by a live booking, with that booking's code.
    pub seat_owners: Vec<(SeatId, String)>,
}

/// What a store provides for [`commit_sales`].
#[async_trait]
pub trait SaleBackend: Send + Sync {
    /// Writes `sales` in one transaction (fenced when the store is fenced): all or nothing.
    async fn commit_batch(&self, sales: &[SaleRecord]) -> Result<(), BatchFailure>;
    /// Reads what is stored about `sale`'s code, key and seats.
    async fn conflict_facts(&self, sale: &SaleRecord) -> Result<ConflictFacts, StoreError>;
}

/// Whether `stored` is exactly `sale` (a retried commit that was already durable).
pub fn is_identical(stored: &StoredBooking, sale: &SaleRecord) -> bool {
    stored.booking == sale.booking
        && stored.idempotency_key == sale.idempotency_key
        && stored.hold_id == sale.hold_id
}

/// The outcome of a sale the database refused with `reason`, given what is stored: an
/// identical booking is `Committed`; otherwise the code, then the key, then the seats are
/// checked; a refusal none of them explains is [`SaleConflict::Invalid`].
pub fn classify(sale: &SaleRecord, facts: &ConflictFacts, reason: &str) -> SaleOutcome {
    let code = sale.booking.code.as_str();
    if let Some(stored) = &facts.by_code {
        if is_identical(stored, sale) {
            return SaleOutcome::Committed;
        }
        return SaleOutcome::Conflict(SaleConflict::CodeTaken);
    }
    if let Some(existing) = facts.by_key.as_ref().filter(|c| c.as_str() != code) {
        return SaleOutcome::Conflict(SaleConflict::KeyTaken {
            existing_code: existing.clone(),
        });
    }
    let taken: Vec<String> = facts
        .seat_owners
        .iter()
        .filter(|(_, owner)| owner.as_str() != code)
        .map(|(seat, owner)| format!("seat {seat} is on booking {owner}"))
        .collect();
    if !taken.is_empty() {
        return SaleOutcome::Conflict(SaleConflict::SeatTaken(format!(
            "show {}: {}",
            sale.booking.show_id,
            taken.join(", ")
        )));
    }
    SaleOutcome::Conflict(SaleConflict::Invalid(reason.to_owned()))
}

/// Group commit with isolation; see the module documentation. One outcome per sale, in order.
pub async fn commit_sales<B: SaleBackend + ?Sized>(
    backend: &B,
    sales: &[SaleRecord],
) -> Vec<SaleOutcome> {
    if sales.is_empty() {
        return Vec::new();
    }
    let reason = match backend.commit_batch(sales).await {
        Ok(()) => return vec![SaleOutcome::Committed; sales.len()],
        Err(BatchFailure::NotCommitted(why)) => {
            return vec![SaleOutcome::NotCommitted(why); sales.len()]
        }
        Err(BatchFailure::Unknown(why)) => return vec![SaleOutcome::Unknown(why); sales.len()],
        Err(BatchFailure::Refused(reason)) => reason,
    };
    if let [sale] = sales {
        return vec![refused(backend, sale, &reason).await];
    }
    tracing::warn!(
        batch = sales.len(),
        %reason,
        "a sale batch was refused; committing its sales one by one"
    );
    isolate(backend, sales).await
}

/// Commits each sale in a transaction of its own; stops at the first attempt that failed for
/// a reason other than a refusal.
async fn isolate<B: SaleBackend + ?Sized>(backend: &B, sales: &[SaleRecord]) -> Vec<SaleOutcome> {
    let mut outcomes = Vec::with_capacity(sales.len());
    for sale in sales {
        let outcome = match backend.commit_batch(std::slice::from_ref(sale)).await {
            Ok(()) => SaleOutcome::Committed,
            Err(BatchFailure::Refused(reason)) => refused(backend, sale, &reason).await,
            Err(BatchFailure::NotCommitted(why)) => SaleOutcome::NotCommitted(why),
            Err(BatchFailure::Unknown(why)) => SaleOutcome::Unknown(why),
        };
        let stop = matches!(
            outcome,
            SaleOutcome::NotCommitted(_) | SaleOutcome::Unknown(_)
        );
        outcomes.push(outcome);
        if stop {
            break;
        }
    }
    let tried = outcomes.len();
    if tried < sales.len() {
        tracing::warn!(
            tried,
            left = sales.len() - tried,
            "isolating a refused batch stopped; the sales not tried are not committed"
        );
    }
    let stopped = "the batch stopped before this sale".to_owned();
    outcomes.resize(sales.len(), SaleOutcome::NotCommitted(stopped));
    debug_assert_eq!(outcomes.len(), sales.len());
    outcomes
}

/// The outcome of a sale refused on its own.
async fn refused<B: SaleBackend + ?Sized>(
    backend: &B,
    sale: &SaleRecord,
    reason: &str,
) -> SaleOutcome {
    let code = sale.booking.code.as_str();
    let facts = match backend.conflict_facts(sale).await {
        Ok(facts) => facts,
        Err(error) => {
            return SaleOutcome::NotCommitted(format!(
                "refused ({reason}); could not read why: {error}"
            ))
        }
    };
    let outcome = classify(sale, &facts, reason);
    match &outcome {
        SaleOutcome::Committed => tracing::warn!(
            code,
            "sale was already committed (a retried commit); not written twice"
        ),
        SaleOutcome::Conflict(conflict) => tracing::error!(
            code,
            show_id = sale.booking.show_id,
            terminal_id = sale.booking.terminal_id,
            %conflict,
            %reason,
            "THE DATABASE REFUSED A SALE; it was not committed"
        ),
        _ => {}
    }
    outcome
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, VecDeque};

    use super::*;
    use crate::testing::sample_sale;
    use cinebook_protocol::types::PaymentMethod;
    use parking_lot::Mutex;

    /// A backend that answers each `commit_batch` from a script (then commits), storing what
    /// it committed.
    #[derive(Default)]
    struct Scripted {
        script: Mutex<VecDeque<Option<BatchFailure>>>,
        stored: Mutex<HashMap<String, StoredBooking>>,
        calls: Mutex<Vec<usize>>,
        facts_fail: bool,
    }

    impl Scripted {
        fn new(script: Vec<Option<BatchFailure>>) -> Self {
            Scripted {
                script: Mutex::new(script.into()),
                ..Scripted::default()
            }
        }
    }

    #[async_trait]
    impl SaleBackend for Scripted {
        async fn commit_batch(&self, sales: &[SaleRecord]) -> Result<(), BatchFailure> {
            self.calls.lock().push(sales.len());
            if let Some(Some(failure)) = self.script.lock().pop_front() {
                return Err(failure);
            }
            let mut stored = self.stored.lock();
            for sale in sales {
                stored.insert(
                    sale.booking.code.clone(),
                    StoredBooking {
                        booking: sale.booking.clone(),
                        idempotency_key: sale.idempotency_key.clone(),
                        hold_id: sale.hold_id,
                    },
                );
            }
            Ok(())
        }

        async fn conflict_facts(&self, sale: &SaleRecord) -> Result<ConflictFacts, StoreError> {
            if self.facts_fail {
                return Err(StoreError::Unavailable("facts".into()));
            }
            let stored = self.stored.lock();
            Ok(ConflictFacts {
                by_code: stored.get(&sale.booking.code).cloned(),
                by_key: None,
                seat_owners: Vec::new(),
            })
        }
    }

    fn sales(n: u32) -> Vec<SaleRecord> {
        (0..n)
            .map(|i| {
                sample_sale(
                    &format!("C{i}"),
                    1,
                    &[i],
                    PaymentMethod::Cash,
                    1000 + u64::from(i),
                )
            })
            .collect()
    }

    fn refused_(why: &str) -> Option<BatchFailure> {
        Some(BatchFailure::Refused(why.into()))
    }

    #[tokio::test]
    async fn a_batch_that_commits_is_committed_in_one_transaction() {
        let backend = Scripted::new(vec![]);
        let outcomes = commit_sales(&backend, &sales(3)).await;
        assert_eq!(outcomes, vec![SaleOutcome::Committed; 3]);
        assert_eq!(*backend.calls.lock(), vec![3]);
        assert!(commit_sales(&backend, &[]).await.is_empty());
    }

    #[tokio::test]
    async fn a_batch_not_committed_or_unknown_says_so_for_every_sale() {
        let backend = Scripted::new(vec![Some(BatchFailure::NotCommitted("down".into()))]);
        let outcomes = commit_sales(&backend, &sales(2)).await;
        assert_eq!(outcomes, vec![SaleOutcome::NotCommitted("down".into()); 2]);
        let backend = Scripted::new(vec![Some(BatchFailure::Unknown("lost".into()))]);
        let outcomes = commit_sales(&backend, &sales(2)).await;
        assert_eq!(outcomes, vec![SaleOutcome::Unknown("lost".into()); 2]);
        assert_eq!(
            *backend.calls.lock(),
            vec![2],
            "an unknown batch is never retried"
        );
    }

    #[tokio::test]
    async fn an_error_part_way_through_isolation_keeps_the_definite_outcomes() {
        // Batch refused; sale 0 commits alone; sale 1 refused; sale 2's COMMIT is lost; sale 3
        // is never tried.
        let backend = Scripted::new(vec![
            refused_("dup"),
            None,
            refused_("dup seat"),
            Some(BatchFailure::Unknown("lost".into())),
        ]);
        let outcomes = commit_sales(&backend, &sales(4)).await;
        assert_eq!(outcomes[0], SaleOutcome::Committed);
        assert_eq!(
            outcomes[1],
            SaleOutcome::Conflict(SaleConflict::Invalid("dup seat".into()))
        );
        assert_eq!(outcomes[2], SaleOutcome::Unknown("lost".into()));
        assert!(matches!(outcomes[3], SaleOutcome::NotCommitted(_)));
        assert_eq!(*backend.calls.lock(), vec![4, 1, 1, 1]);

        let backend = Scripted::new(vec![
            refused_("dup"),
            None,
            Some(BatchFailure::NotCommitted("down".into())),
        ]);
        let outcomes = commit_sales(&backend, &sales(3)).await;
        assert_eq!(outcomes[0], SaleOutcome::Committed);
        assert_eq!(outcomes[1], SaleOutcome::NotCommitted("down".into()));
        assert!(matches!(outcomes[2], SaleOutcome::NotCommitted(_)));
    }

    #[tokio::test]
    async fn a_refusal_whose_reason_cannot_be_read_is_not_committed() {
        let mut backend = Scripted::new(vec![refused_("dup")]);
        backend.facts_fail = true;
        let outcomes = commit_sales(&backend, &sales(1)).await;
        assert!(
            matches!(outcomes[0], SaleOutcome::NotCommitted(_)),
            "{outcomes:?}"
        );
    }

    #[test]
    fn refusals_are_classified_by_what_is_stored() {
        let sale = sample_sale("AAA", 1, &[1, 2], PaymentMethod::Cash, 5);
        let stored = |sale: &SaleRecord| StoredBooking {
            booking: sale.booking.clone(),
            idempotency_key: sale.idempotency_key.clone(),
            hold_id: sale.hold_id,
        };
        let identical = ConflictFacts {
            by_code: Some(stored(&sale)),
            by_key: Some("AAA".into()),
            ..ConflictFacts::default()
        };
        assert_eq!(classify(&sale, &identical, "r"), SaleOutcome::Committed);
        let mut other_hold = sale.clone();
        other_hold.hold_id = Some(99);
        assert_eq!(
            classify(&other_hold, &identical, "r"),
            SaleOutcome::Conflict(SaleConflict::CodeTaken)
        );
        let other = sample_sale("AAA", 2, &[7], PaymentMethod::Card, 6);
        let code_taken = ConflictFacts {
            by_code: Some(stored(&other)),
            ..ConflictFacts::default()
        };
        assert_eq!(
            classify(&sale, &code_taken, "r"),
            SaleOutcome::Conflict(SaleConflict::CodeTaken)
        );
        let key_taken = ConflictFacts {
            by_key: Some("BBB".into()),
            seat_owners: vec![(1, "BBB".into())],
            ..ConflictFacts::default()
        };
        assert_eq!(
            classify(&sale, &key_taken, "r"),
            SaleOutcome::Conflict(SaleConflict::KeyTaken {
                existing_code: "BBB".into()
            })
        );
        let seat_taken = ConflictFacts {
            seat_owners: vec![(2, "CCC".into())],
            ..ConflictFacts::default()
        };
        assert!(matches!(
            classify(&sale, &seat_taken, "r"),
            SaleOutcome::Conflict(SaleConflict::SeatTaken(why)) if why.contains("CCC")
        ));
        assert_eq!(
            classify(&sale, &ConflictFacts::default(), "too long"),
            SaleOutcome::Conflict(SaleConflict::Invalid("too long".into()))
        );
    }
}
