//! The contract of the audit trail: every sale, cancellation and block of a show, in
//! `(lamport, node_id)` order, and nothing of another show.

use cinebook_protocol::types::{Money, PaymentMethod};

use crate::store::{BlockRecord, CancelRecord, Store};
use crate::testing::{sample_catalog, sample_sale, seed_catalog, SAMPLE_CURRENCY, SAMPLE_SHOW_ID};

/// Sales, a refund and a block come back in `(lamport, node_id)` order, whatever order they were
/// committed in; another show's trail is empty.
pub async fn audit_trail_in_order<S: Store + ?Sized>(store: &S) {
    seed_catalog(store, &sample_catalog()).await;
    assert!(store
        .audit_trail(SAMPLE_SHOW_ID)
        .await
        .expect("empty")
        .is_empty());
    // Committed out of Lamport order: the trail sorts them.
    let late = sample_sale("AT2", 1, &[11], PaymentMethod::Cash, 300);
    let early = sample_sale("AT1", 1, &[10], PaymentMethod::Card, 100);
    store.commit_sales(std::slice::from_ref(&late)).await;
    store.commit_sales(std::slice::from_ref(&early)).await;
    let refund = CancelRecord {
        code: "AT1".into(),
        refund: true,
        amount: Money {
            amount_minor: early.booking.total.amount_minor,
            currency: SAMPLE_CURRENCY.into(),
        },
        terminal_id: 1,
        at_ms: 400,
        lamport: 400,
        node_id: 1,
        reason: "audit contract".into(),
        outbox: Vec::new(),
    };
    store.commit_cancel(&refund).await.expect("refund");
    let block = BlockRecord {
        show_id: SAMPLE_SHOW_ID,
        seats: vec![40],
        blocked: true,
        terminal_id: 1,
        at_ms: 200,
        lamport: 200,
        node_id: 1,
        reason: None,
    };
    store.commit_block(&block).await.expect("block");

    let trail = store.audit_trail(SAMPLE_SHOW_ID).await.expect("trail");
    let order: Vec<(u64, &str, Option<&str>)> = trail
        .iter()
        .map(|e| (e.lamport, e.kind.as_str(), e.code.as_deref()))
        .collect();
    assert_eq!(
        order,
        vec![
            (100, "sale", Some("AT1")),
            (200, "block", None),
            (300, "sale", Some("AT2")),
            (400, "refund", Some("AT1")),
        ],
        "{trail:?}"
    );
    assert!(trail.iter().all(|e| e.node_id == 1 && !e.detail.is_empty()));
    assert_eq!(trail[0].at_ms, 100);
    assert!(store.audit_trail(987_654).await.expect("other").is_empty());
}
