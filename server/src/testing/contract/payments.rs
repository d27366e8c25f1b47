//! The payment-order rules every store keeps (`store::payments`): create is idempotent by
//! (terminal, key); transitions are conditional; gateway order ids and refund ids are unique;
//! refunds are found by receipt and updated in place.

use cinebook_protocol::types::{PaymentOrderState, Role};

use crate::store::payments::{OrderChange, OrderRecord, PaymentRow, RefundRow};
use crate::store::{Store, StoreError};

fn order(order_id: u64, key: &str) -> OrderRecord {
    OrderRecord {
        order_id,
        terminal_id: 1,
        role: Role::Kiosk,
        hold_id: order_id + 1000,
        show_id: super::SAMPLE_SHOW_ID,
        seats: vec![3, 4, 17],
        amount_minor: 3_000,
        currency: super::SAMPLE_CURRENCY.to_owned(),
        gateway_order_id: None,
        idempotency_key: key.to_owned(),
        state: PaymentOrderState::Creating,
        payment_id: None,
        booking_code: None,
        reason: None,
        window_ends_at_ms: 9_000,
        created_at_ms: 1_000 + order_id,
        updated_at_ms: 1_000 + order_id,
        contact: Default::default(),
    }
}

/// Orders, payments and refunds round-trip and keep their rules.
pub async fn payment_orders(store: &dyn Store) {
    let payments = store.payments().expect("the store keeps payment orders");
    let first = order(1, "k1");
    assert_eq!(payments.create_order(&first).await.expect("create"), first);
    // The same key answers the first order, whatever the new one said.
    let again = payments.create_order(&order(2, "k1")).await.expect("again");
    assert_eq!(again.order_id, 1);
    assert_eq!(payments.order(2).await.expect("read"), None);
    payments
        .create_order(&order(3, "k3"))
        .await
        .expect("second");
    // Conditional transitions.
    let to_awaiting = OrderChange {
        gateway_order_id: Some("order_A".into()),
        ..OrderChange::to(PaymentOrderState::AwaitingPayment, 2_000)
    };
    assert!(payments
        .change_order(1, &[PaymentOrderState::Creating], &to_awaiting)
        .await
        .expect("change"));
    assert!(!payments
        .change_order(1, &[PaymentOrderState::Creating], &to_awaiting)
        .await
        .expect("moved already"));
    let taken = OrderChange {
        gateway_order_id: Some("order_A".into()),
        ..OrderChange::to(PaymentOrderState::AwaitingPayment, 2_000)
    };
    assert!(matches!(
        payments
            .change_order(3, &[PaymentOrderState::Creating], &taken)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        payments
            .change_order(99, &[PaymentOrderState::Creating], &to_awaiting)
            .await,
        Err(StoreError::NotFound(_))
    ));
    let read = payments
        .order_by_gateway_id("order_A")
        .await
        .expect("by gateway id")
        .expect("found");
    assert_eq!(read.state, PaymentOrderState::AwaitingPayment);
    assert_eq!(read.seats, vec![3, 4, 17]);
    assert_eq!(read.updated_at_ms, 2_000);
    let booked = OrderChange {
        payment_id: Some("pay_1".into()),
        booking_code: Some("CODE".into()),
        ..OrderChange::to(PaymentOrderState::Booked, 3_000)
    };
    assert!(payments
        .change_order(1, &[PaymentOrderState::AwaitingPayment], &booked)
        .await
        .expect("book"));
    let read = payments.order(1).await.expect("read").expect("found");
    assert_eq!(read.gateway_order_id.as_deref(), Some("order_A"), "kept");
    assert_eq!(read.booking_code.as_deref(), Some("CODE"));
    assert_eq!(
        payments
            .order_by_booking("CODE")
            .await
            .expect("by booking")
            .map(|o| o.order_id),
        Some(1)
    );
    let open: Vec<u64> = payments
        .open_orders()
        .await
        .expect("open")
        .iter()
        .map(|o| o.order_id)
        .collect();
    assert_eq!(open, vec![3]);
    assert_eq!(payments.all_orders().await.expect("all").len(), 2);
    // Payments: recorded, then updated.
    let mut payment = PaymentRow {
        payment_id: "pay_1".into(),
        order_id: 1,
        amount_minor: 3_000,
        currency: super::SAMPLE_CURRENCY.to_owned(),
        status: "authorized".into(),
        at_ms: 2_500,
    };
    payments.record_payment(&payment).await.expect("payment");
    payment.status = "captured".into();
    payments
        .record_payment(&payment)
        .await
        .expect("payment again");
    assert_eq!(
        payments.order_payments(1).await.expect("payments"),
        vec![payment]
    );
    // Refunds: by receipt, the gateway id filled in later, processed by the gateway id.
    let mut refund = RefundRow {
        receipt: "cb-refund-1".into(),
        order_id: 1,
        payment_id: "pay_1".into(),
        booking_code: None,
        gateway_refund_id: None,
        amount_minor: 3_000,
        currency: super::SAMPLE_CURRENCY.to_owned(),
        state: "requested".into(),
        created_at_ms: 4_000,
        updated_at_ms: 4_000,
    };
    payments.record_refund(&refund).await.expect("refund");
    refund.gateway_refund_id = Some("rfnd_1".into());
    refund.state = "pending".into();
    refund.updated_at_ms = 4_100;
    payments.record_refund(&refund).await.expect("refund id");
    assert_eq!(
        payments.refund("cb-refund-1").await.expect("read"),
        Some(refund.clone())
    );
    assert!(payments
        .refund_processed("rfnd_1", "processed", 4_200)
        .await
        .expect("processed"));
    assert!(!payments
        .refund_processed("rfnd_unknown", "processed", 4_200)
        .await
        .expect("unknown"));
    let all = payments.all_refunds().await.expect("refunds");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].state, "processed");
}
