//! The outbox contract: rows written with the change they announce (and not without it), read
//! with the booking's contact, marked only while pending, parked, replayed.

use cinebook_protocol::types::{Contact, PaymentMethod};

use super::{sample_catalog, sample_sale, seed_catalog, SAMPLE_CURRENCY, SAMPLE_SHOW_ID};
use crate::node::catalog::Catalog;
use crate::notify::message::{self, Details, NoticeKind, OutboxMark};
use crate::store::{CancelRecord, SaleOutcome, Store};

/// See the module documentation.
pub async fn outbox<S: Store + ?Sized>(store: &S) {
    seed_catalog(store, &sample_catalog()).await;
    let catalog = Catalog::default();
    let mut sale = sample_sale("OBX1", 1, &[1, 2], PaymentMethod::Cash, 100);
    sale.contact = Contact {
        email: Some("ana@example.ch".into()),
        phone: None,
    };
    let row = message::build(
        &catalog,
        NoticeKind::BookingConfirmed,
        &sale.booking,
        Details::default(),
        100,
    );
    sale.outbox = vec![row.clone()];
    // A refused sale writes no outbox row: it is in the sale's transaction.
    let mut clash = sample_sale("OBX2", 1, &[2], PaymentMethod::Cash, 101);
    clash.outbox = vec![message::build(
        &catalog,
        NoticeKind::BookingConfirmed,
        &clash.booking,
        Details::default(),
        101,
    )];
    let outcomes = store.commit_sales(&[sale.clone(), clash]).await;
    assert_eq!(outcomes[0], SaleOutcome::Committed);
    assert!(
        matches!(outcomes[1], SaleOutcome::Conflict(_)),
        "{outcomes:?}"
    );
    let pending = store.outbox_pending(1_000, 10).await.expect("pending");
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].message, row);
    assert_eq!(pending[0].contact, sale.contact);
    assert_eq!(pending[0].delivery().expect("notice").notice.code, "OBX1");
    // A retry is not due before its time; a dead row waits for a replay.
    let retry = OutboxMark::Retry {
        attempts: 1,
        next_at_ms: 5_000,
        error: "451".into(),
    };
    store.outbox_mark(&row.id, &retry).await.expect("mark");
    assert!(store
        .outbox_pending(4_999, 10)
        .await
        .expect("pending")
        .is_empty());
    assert_eq!(
        store.outbox_pending(5_000, 10).await.expect("pending")[0].attempts,
        1
    );
    let dead = OutboxMark::Dead {
        attempts: 2,
        error: "451 again".into(),
    };
    store.outbox_mark(&row.id, &dead).await.expect("mark");
    assert!(store
        .outbox_pending(u64::MAX, 10)
        .await
        .expect("pending")
        .is_empty());
    let parked = store.outbox_dead(10).await.expect("dead");
    assert_eq!((parked.len(), parked[0].attempts), (1, 2));
    assert_eq!(parked[0].last_error.as_deref(), Some("451 again"));
    // A late mark of a dead row changes nothing.
    store
        .outbox_mark(&row.id, &OutboxMark::Sent { at_ms: 9 })
        .await
        .expect("mark");
    assert_eq!(store.outbox_stats().await.expect("stats").dead, 1);
    assert_eq!(
        store.outbox_replay(&["nope".into()]).await.expect("replay"),
        0
    );
    assert_eq!(store.outbox_replay(&[]).await.expect("replay"), 1);
    let again = store.outbox_pending(u64::MAX, 10).await.expect("pending");
    assert_eq!(again[0].attempts, 0);
    store
        .outbox_mark(&row.id, &OutboxMark::Sent { at_ms: 9 })
        .await
        .expect("mark");
    // A refund's row rides in the cancellation's transaction; a refused one writes none.
    let refund_row = message::build(
        &catalog,
        NoticeKind::BookingRefunded,
        &sale.booking,
        Details::default(),
        200,
    );
    let cancel = CancelRecord {
        code: "OBX1".into(),
        refund: true,
        amount: cinebook_protocol::types::Money {
            amount_minor: sale.booking.total.amount_minor,
            currency: SAMPLE_CURRENCY.into(),
        },
        terminal_id: 1,
        at_ms: 200,
        lamport: 200,
        node_id: 1,
        reason: "r".into(),
        outbox: vec![refund_row.clone()],
    };
    store.commit_cancel(&cancel).await.expect("cancel");
    assert!(
        store.commit_cancel(&cancel).await.is_err(),
        "a second cancel is refused"
    );
    let stats = store.outbox_stats().await.expect("stats");
    assert_eq!((stats.pending, stats.sent, stats.dead), (1, 1, 0));
    assert_eq!(stats.oldest_pending_at_ms, Some(200));
    // A show's upsert and its notices are one write.
    let mut show = sample_catalog().shows[0].clone();
    assert_eq!(show.id, SAMPLE_SHOW_ID);
    show.starts_at_ms += 60_000;
    let moved = message::rescheduled(&catalog, &sale.booking, show.starts_at_ms, 0, 300);
    store
        .upsert_show_announced(&show, std::slice::from_ref(&moved))
        .await
        .expect("upsert");
    store
        .upsert_show_announced(&show, std::slice::from_ref(&moved))
        .await
        .expect("again");
    let ids: Vec<String> = store
        .outbox_pending(u64::MAX, 10)
        .await
        .expect("pending")
        .into_iter()
        .map(|p| p.message.id)
        .collect();
    assert_eq!(
        ids,
        vec![refund_row.id, moved.id],
        "the same notice id is written once"
    );
}
