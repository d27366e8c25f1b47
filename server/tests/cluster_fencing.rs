//! Fencing in MySQL: a node that claimed an epoch can commit; once another node claims the
//! next one, the first node's sale and cancel transactions fail with `Fenced` and write nothing.

use cinebook_protocol::types::{Money, PaymentMethod};
use cinebook_server::store::{CancelRecord, EpochClaim, SaleOutcome, Store, StoreError};
use cinebook_server::testing::{
    sample_catalog, sample_sale, seed_catalog, TestDatabase, SAMPLE_SHOW_ID,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leader_cannot_commit() {
    let db = TestDatabase::create().await;
    let old = db.store().await;
    let new = db.store().await;
    old.migrate().await.expect("migrate");
    seed_catalog(&old, &sample_catalog()).await;

    let start = old.current_epoch().await.expect("epoch");
    assert_eq!(
        old.claim_epoch(1, start.epoch).await.expect("claim"),
        EpochClaim::Claimed(start.epoch + 1)
    );
    old.set_fence(Some(start.epoch + 1));
    let first = sample_sale("FENCE-001", 1, &[10], PaymentMethod::Card, 1);
    assert_eq!(
        old.commit_sales(&[first]).await,
        vec![SaleOutcome::Committed]
    );

    // A stale claim loses; a claim on the current epoch wins and deposes the old leader.
    match new.claim_epoch(2, start.epoch).await.expect("claim") {
        EpochClaim::Lost(state) => {
            assert_eq!(state.epoch, start.epoch + 1);
            assert_eq!(state.leader_node_id, Some(1));
        }
        other => panic!("a stale claim must lose, got {other:?}"),
    }
    assert_eq!(
        new.claim_epoch(2, start.epoch + 1).await.expect("claim"),
        EpochClaim::Claimed(start.epoch + 2)
    );
    new.set_fence(Some(start.epoch + 2));

    let late = sample_sale("FENCE-002", 1, &[11], PaymentMethod::Card, 2);
    let outcomes = old.commit_sales(&[late]).await;
    assert!(
        matches!(&outcomes[..], [fenced] if fenced.is_fenced()),
        "the deposed leader committed: {outcomes:?}"
    );
    let cancel = CancelRecord {
        code: "FENCE-001".into(),
        refund: true,
        amount: Money {
            amount_minor: 0,
            currency: "EUR".into(),
        },
        terminal_id: 1,
        at_ms: 3,
        lamport: 3,
        node_id: 1,
        reason: "test".into(),
        outbox: Vec::new(),
    };
    assert!(matches!(
        old.commit_cancel(&cancel).await,
        Err(StoreError::Fenced(_))
    ));
    let stored: Vec<String> = new
        .load_bookings()
        .await
        .expect("load")
        .into_iter()
        .map(|b| b.booking.code)
        .collect();
    assert_eq!(
        stored,
        vec!["FENCE-001".to_owned()],
        "nothing of the deposed leader's was written"
    );

    // The new leader commits, and the audit trail lists sales in (lamport, node_id) order.
    let next = sample_sale("FENCE-003", 1, &[11], PaymentMethod::Card, 0);
    assert_eq!(
        new.commit_sales(&[next]).await,
        vec![SaleOutcome::Committed]
    );
    let trail = new.audit_trail(SAMPLE_SHOW_ID).await.expect("audit");
    let order: Vec<(u64, Option<String>)> =
        trail.iter().map(|e| (e.lamport, e.code.clone())).collect();
    assert_eq!(
        order,
        vec![(0, Some("FENCE-003".into())), (1, Some("FENCE-001".into()))]
    );
    db.drop_database().await;
}

/// A hand-over leaves no moment in which a third node can claim: the chaos suite's rare
/// `holds_lost` (a node that never caught up won the claim after the old leader gave its lease
/// up, before the node taken over by claimed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_over_leaves_no_gap_for_a_third_node_to_claim() {
    let db = TestDatabase::create().await;
    let two = db.store().await;
    let one = db.store().await;
    two.migrate().await.expect("migrate");
    let start = two.current_epoch().await.expect("epoch");
    assert_eq!(
        two.claim_epoch(2, start.epoch).await.expect("claim"),
        EpochClaim::Claimed(start.epoch + 1)
    );
    let epoch = start.epoch + 1;
    assert!(two.renew_lease(2, epoch, 300).await.expect("renew"));
    // Node 3 caught up and asked for the hand-over; node 1, which never caught up, claims in
    // the same moment.
    let handed = cinebook_server::cluster::leader::hand_over_in_store(&two, 2, epoch, 3, 300)
        .await
        .expect("hand over");
    let seen = one.current_epoch().await.expect("epoch");
    match one.claim_epoch(1, seen.epoch).await.expect("claim") {
        EpochClaim::Lost(_) => {}
        other => panic!("node 1 won a claim between two leaders: {other:?}"),
    }
    let stored = one.current_epoch().await.expect("epoch");
    assert_eq!(stored.leader_node_id, Some(3), "node 3 leads next");
    assert_eq!(handed, Some(stored.epoch));
    assert!(
        !two.renew_lease(2, epoch, 300).await.expect("renew"),
        "the old leader no longer leads"
    );
    db.drop_database().await;
}
