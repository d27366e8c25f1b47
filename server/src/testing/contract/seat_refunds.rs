//! The partial-refund rules every store keeps (`Store::commit_seat_refund`): the seats leave the
//! booking (a reload shows the others and the lower total), a seat refunded before or every seat
//! is `Conflict` and changes nothing, the freed seats sell again, and the shift report counts
//! each partial refund once with the seats still among those sold.

use cinebook_protocol::types::{Money, PaymentMethod, SeatId};

use super::{sample_catalog, sample_sale, seed_catalog, SAMPLE_CURRENCY};
use crate::store::{SaleOutcome, SeatRefundRecord, Store, StoreError};

fn seat_refund(code: &str, seats: &[SeatId], amount_minor: i64, at_ms: u64) -> SeatRefundRecord {
    SeatRefundRecord {
        code: code.into(),
        seats: seats.to_vec(),
        amount: Money {
            amount_minor,
            currency: SAMPLE_CURRENCY.into(),
        },
        terminal_id: 1,
        at_ms,
        lamport: at_ms,
        node_id: 1,
        reason: "one seat less".into(),
        outbox: Vec::new(),
    }
}

/// See the module doc.
pub async fn seat_refunds<S: Store + ?Sized>(store: &S) {
    seed_catalog(store, &sample_catalog()).await;
    let sale = sample_sale("P1", 1, &[20, 21, 22], PaymentMethod::Cash, 100);
    store.commit_sales(std::slice::from_ref(&sale)).await;
    let price = sale.booking.seats[1].price_minor;
    store
        .commit_seat_refund(&seat_refund("P1", &[21], price, 150))
        .await
        .expect("partial refund");
    for (seats, why) in [
        (&[21][..], "a seat refunded before"),
        (&[20, 22][..], "every remaining seat"),
        (&[23][..], "a seat never the booking's"),
    ] {
        match store
            .commit_seat_refund(&seat_refund("P1", seats, price, 151))
            .await
        {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("{why}: expected Conflict, got {other:?}"),
        }
    }
    match store
        .commit_seat_refund(&seat_refund("NOPE", &[1], price, 151))
        .await
    {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("unknown booking: expected NotFound, got {other:?}"),
    }
    let loaded = store.load_bookings().await.expect("load");
    let p1 = loaded
        .iter()
        .find(|b| b.booking.code == "P1")
        .expect("P1 loaded");
    let kept: Vec<SeatId> = p1.booking.seats.iter().map(|s| s.seat_id).collect();
    assert_eq!(kept, vec![20, 22]);
    assert_eq!(
        p1.booking.total.amount_minor,
        sale.booking.total.amount_minor - price
    );
    let resale = sample_sale("P2", 2, &[21], PaymentMethod::Card, 200);
    assert_eq!(
        store.commit_sales(std::slice::from_ref(&resale)).await,
        vec![SaleOutcome::Committed]
    );
    let report = store.shift_report(1, 0, 1_000).await.expect("report");
    let cash = report
        .lines
        .iter()
        .find(|l| l.method == PaymentMethod::Cash)
        .expect("cash line");
    assert_eq!((cash.sales, cash.seats), (1, 3), "{cash:?}");
    assert_eq!((cash.refunds, cash.refunds_minor), (1, price), "{cash:?}");
}
