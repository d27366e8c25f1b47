//! The contract of sale outcomes, hold ids, key lookups and blocked seats.

use cinebook_protocol::types::PaymentMethod;

use crate::store::{BlockRecord, SaleConflict, SaleOutcome, Store, StoreError};
use crate::testing::{sample_catalog, sample_sale, seed_catalog, SAMPLE_SHOW_ID};

/// Each kind of refusal is classified by what is stored; a sale identical to a stored one is
/// `Committed`; the rest of the batch commits.
pub async fn sale_conflicts_are_classified<S: Store + ?Sized>(store: &S) {
    seed_catalog(store, &sample_catalog()).await;
    let first = sample_sale("A1", 1, &[1, 2], PaymentMethod::Cash, 1);
    assert_eq!(
        store.commit_sales(std::slice::from_ref(&first)).await,
        vec![SaleOutcome::Committed]
    );
    let seat_taken = sample_sale("B1", 1, &[2], PaymentMethod::Cash, 2);
    let mut code_taken = sample_sale("A1", 2, &[5], PaymentMethod::Card, 3);
    code_taken.idempotency_key = "other-key".into();
    let mut key_taken = sample_sale("C1", 1, &[6], PaymentMethod::Cash, 4);
    key_taken.idempotency_key = first.idempotency_key.clone();
    let good = sample_sale("D1", 1, &[7], PaymentMethod::Cash, 5);
    let mut invalid = sample_sale("E1", 1, &[8], PaymentMethod::Card, 6);
    invalid.booking.payment.reference = Some("r".repeat(5_000));
    let outcomes = store
        .commit_sales(&[
            seat_taken,
            code_taken,
            key_taken,
            first.clone(),
            good,
            invalid,
        ])
        .await;
    assert_eq!(outcomes.len(), 6, "{outcomes:?}");
    assert!(
        matches!(&outcomes[0], SaleOutcome::Conflict(SaleConflict::SeatTaken(why)) if why.contains("A1")),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], SaleOutcome::Conflict(SaleConflict::CodeTaken));
    assert_eq!(
        outcomes[2],
        SaleOutcome::Conflict(SaleConflict::KeyTaken {
            existing_code: "A1".into()
        })
    );
    assert_eq!(outcomes[3], SaleOutcome::Committed, "identical retry");
    assert_eq!(outcomes[4], SaleOutcome::Committed);
    assert!(
        matches!(
            &outcomes[5],
            SaleOutcome::Conflict(SaleConflict::Invalid(_))
        ),
        "{outcomes:?}"
    );
    let mut codes: Vec<String> = store
        .load_bookings()
        .await
        .expect("load")
        .into_iter()
        .map(|b| b.booking.code)
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["A1".to_owned(), "D1".to_owned()]);
}

/// The hold a sale came from is stored and read back; a booking is found by its terminal's
/// key and resolved by its code.
pub async fn hold_ids_and_keys_round_trip<S: Store + ?Sized>(store: &S) {
    seed_catalog(store, &sample_catalog()).await;
    let mut with_hold = sample_sale("H1", 3, &[1], PaymentMethod::Cash, 10);
    with_hold.hold_id = Some(HOLD_ID_WIDE);
    let mut without = sample_sale("H2", 3, &[2], PaymentMethod::Card, 11);
    without.hold_id = None;
    assert_eq!(
        store
            .commit_sales(&[with_hold.clone(), without.clone()])
            .await,
        vec![SaleOutcome::Committed; 2]
    );
    let stored = store.load_bookings().await.expect("load");
    let hold_of = |code: &str| {
        stored
            .iter()
            .find(|b| b.booking.code == code)
            .map(|b| b.hold_id)
    };
    assert_eq!(hold_of("H1"), Some(Some(HOLD_ID_WIDE)));
    assert_eq!(hold_of("H2"), Some(None));

    let found = store
        .sale_by_key(3, &with_hold.idempotency_key)
        .await
        .expect("by key")
        .expect("the booking of the key");
    assert_eq!(found.booking, with_hold.booking);
    assert_eq!(found.hold_id, with_hold.hold_id);
    assert!(store
        .sale_by_key(4, &with_hold.idempotency_key)
        .await
        .expect("other terminal")
        .is_none());
    assert!(store
        .sale_by_key(3, "no-such-key")
        .await
        .expect("no key")
        .is_none());
    let resolved = store.resolve_sale("H2").await.expect("resolve");
    assert_eq!(resolved.map(|b| b.booking), Some(without.booking));
    assert!(store.resolve_sale("NOPE").await.expect("resolve").is_none());

    // The same sale from another hold is not the stored one.
    let mut other_hold = with_hold.clone();
    other_hold.hold_id = Some(7);
    assert_eq!(
        store.commit_sales(&[other_hold]).await,
        vec![SaleOutcome::Conflict(SaleConflict::CodeTaken)]
    );
}

/// A hold id wider than 32 bits (both SQL stores keep 63 bits at least).
const HOLD_ID_WIDE: u64 = (1 << 53) + 7;

fn block(seats: &[u32], blocked: bool, at_ms: u64) -> BlockRecord {
    BlockRecord {
        show_id: SAMPLE_SHOW_ID,
        seats: seats.to_vec(),
        blocked,
        terminal_id: 1,
        at_ms,
        lamport: at_ms,
        node_id: 1,
        reason: None,
    }
}

/// Blocked seats are durable; unblocking deletes; both are idempotent; an unknown show is
/// `NotFound`.
pub async fn blocked_seats_round_trip<S: Store + ?Sized>(store: &S) {
    seed_catalog(store, &sample_catalog()).await;
    assert!(store.load_blocked_seats().await.expect("none").is_empty());
    store
        .commit_block(&block(&[3, 4, 5], true, 1))
        .await
        .expect("block");
    store
        .commit_block(&block(&[4, 9], false, 2))
        .await
        .expect("unblock");
    store
        .commit_block(&block(&[3], true, 3))
        .await
        .expect("block again");
    assert_eq!(
        store.load_blocked_seats().await.expect("blocked"),
        vec![(SAMPLE_SHOW_ID, 3), (SAMPLE_SHOW_ID, 5)]
    );
    let mut unknown = block(&[1], true, 4);
    unknown.show_id = 987_654;
    match store.commit_block(&unknown).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("a block of an unknown show: {other:?}"),
    }
    assert_eq!(store.load_blocked_seats().await.expect("blocked").len(), 2);
}
