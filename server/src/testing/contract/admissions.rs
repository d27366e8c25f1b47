//! The contract of admissions at the door: once per booking, the first one kept and told again,
//! only confirmed bookings, the status durable through `load_bookings`, audited.

use cinebook_protocol::door::Admission;
use cinebook_protocol::types::{BookingStatus, Money, PaymentMethod};

use crate::store::{AdmissionRecord, AdmitOutcome, CancelRecord, Store, StoreError};
use crate::testing::{sample_catalog, sample_sale, seed_catalog, SAMPLE_CURRENCY, SAMPLE_SHOW_ID};

fn record(code: &str, terminal_id: u64, gate: &str, at_ms: u64, offline: bool) -> AdmissionRecord {
    AdmissionRecord {
        admission: Admission {
            code: code.into(),
            show_id: SAMPLE_SHOW_ID,
            at_ms,
            terminal_id,
            gate: gate.into(),
            offline,
        },
        lamport: at_ms,
        node_id: 1,
    }
}

/// Admits a booking once; a second admission (another gate) answers the first; a cancelled or
/// unknown booking is refused; an admitted booking cannot be cancelled and keeps its seats.
pub async fn admissions<S: Store + ?Sized>(store: &S) {
    seed_catalog(store, &sample_catalog()).await;
    let sale = sample_sale("AD1", 1, &[10, 11], PaymentMethod::Cash, 100);
    let other = sample_sale("AD2", 1, &[12], PaymentMethod::Card, 101);
    store.commit_sales(&[sale.clone(), other]).await;

    let first = record("AD1", 7, "main door", 1_000, false);
    assert_eq!(
        store.commit_admission(&first).await.expect("admit"),
        AdmitOutcome::Admitted
    );
    let again = record("AD1", 8, "side door", 2_000, true);
    assert_eq!(
        store.commit_admission(&again).await.expect("again"),
        AdmitOutcome::Already(first.admission.clone())
    );

    let cancel = CancelRecord {
        code: "AD2".into(),
        refund: false,
        amount: Money {
            amount_minor: 0,
            currency: SAMPLE_CURRENCY.into(),
        },
        terminal_id: 1,
        at_ms: 300,
        lamport: 300,
        node_id: 1,
        reason: "admissions contract".into(),
        outbox: Vec::new(),
    };
    store.commit_cancel(&cancel).await.expect("cancel");
    assert!(matches!(
        store
            .commit_admission(&record("AD2", 7, "main door", 3_000, false))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .commit_admission(&record("NOPE", 7, "main door", 3_000, false))
            .await,
        Err(StoreError::NotFound(_))
    ));
    // Admitted: not cancellable, and still the owner of its seats.
    let cancel_admitted = CancelRecord {
        code: "AD1".into(),
        ..cancel
    };
    assert!(matches!(
        store.commit_cancel(&cancel_admitted).await,
        Err(StoreError::Conflict(_))
    ));
    let stored = store.load_bookings().await.expect("load");
    let admitted = stored
        .iter()
        .find(|b| b.booking.code == "AD1")
        .expect("AD1 stored");
    assert_eq!(admitted.booking.status, BookingStatus::Admitted);
    assert_eq!(admitted.booking.seats.len(), 2);
    let resold = sample_sale("AD3", 1, &[10], PaymentMethod::Cash, 400);
    let outcome = store.commit_sales(&[resold]).await;
    assert!(
        matches!(outcome[0], crate::store::SaleOutcome::Conflict(_)),
        "{outcome:?}"
    );
    let trail = store.audit_trail(SAMPLE_SHOW_ID).await.expect("trail");
    assert!(
        trail
            .iter()
            .any(|e| e.kind == "admit" && e.code.as_deref() == Some("AD1")),
        "{trail:?}"
    );
}
