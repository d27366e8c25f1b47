use super::*;

fn order_request(amount: u64, capture: Option<bool>) -> wire::OrderCreate {
    wire::OrderCreate {
        amount,
        currency: "INR".to_owned(),
        receipt: Some("r-1".to_owned()),
        notes: wire::Notes::default(),
        payment_capture: capture,
    }
}

fn refund_request(amount: Option<u64>) -> wire::RefundCreate {
    wire::RefundCreate {
        amount,
        receipt: None,
        notes: wire::Notes::default(),
    }
}

#[test]
fn ids_repeat_for_a_seed() {
    let mut one = Ledger::new(7, 10);
    let mut two = Ledger::new(7, 10);
    let a = one
        .create_order(order_request(500, None), true, 1)
        .map(|o| o.id);
    let b = two
        .create_order(order_request(500, None), true, 1)
        .map(|o| o.id);
    assert_eq!(a, b);
    let id = a.unwrap_or_default();
    assert!(
        id.starts_with("order_") && id.len() == 6 + ID_RANDOM_CHARS,
        "{id}"
    );
}

#[test]
fn an_order_is_paid_once() {
    let mut ledger = Ledger::new(1, 10);
    let Ok(order) = ledger.create_order(order_request(500, Some(true)), false, 1) else {
        panic!("order refused");
    };
    let paid = ledger.pay(&order.id, 2);
    let Ok((payment, events)) = paid else {
        panic!("pay refused");
    };
    assert_eq!(payment.status, PaymentStatus::Captured);
    let names: Vec<_> = events.iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        ["payment.authorized", "payment.captured", "order.paid"]
    );
    assert!(ledger.pay(&order.id, 3).is_err());
    assert!(ledger.capture(&payment.id, 500, "INR").is_err());
    assert!(ledger.snapshot().orders_charged_twice().is_empty());
    assert_eq!(ledger.snapshot().captured_minor(&order.id), 500);
}

#[test]
fn manual_capture_needs_the_full_amount() {
    let mut ledger = Ledger::new(1, 10);
    let Ok(order) = ledger.create_order(order_request(500, Some(false)), true, 1) else {
        panic!("order refused");
    };
    let Ok((payment, _)) = ledger.pay(&order.id, 2) else {
        panic!("pay refused");
    };
    assert_eq!(payment.status, PaymentStatus::Authorized);
    assert!(ledger.pay(&order.id, 2).is_err(), "authorized already");
    assert!(ledger.capture(&payment.id, 400, "INR").is_err());
    assert!(ledger.capture(&payment.id, 500, "USD").is_err());
    assert!(ledger.capture(&payment.id, 500, "INR").is_ok());
    assert_eq!(
        ledger.order(&order.id).map(|o| o.status),
        Ok(OrderStatus::Paid)
    );
}

#[test]
fn refunds_add_up_to_at_most_the_capture() {
    let mut ledger = Ledger::new(1, 10);
    let Ok(order) = ledger.create_order(order_request(1000, Some(true)), true, 1) else {
        panic!("order refused");
    };
    let Ok((payment, _)) = ledger.pay(&order.id, 2) else {
        panic!("pay refused");
    };
    assert!(ledger
        .refund(&payment.id, refund_request(Some(400)), 3)
        .is_ok());
    assert!(ledger
        .refund(&payment.id, refund_request(Some(601)), 3)
        .is_err());
    assert!(ledger.refund(&payment.id, refund_request(None), 3).is_ok());
    assert!(ledger
        .refund(&payment.id, refund_request(Some(1)), 3)
        .is_err());
    let snapshot = ledger.snapshot();
    assert_eq!(snapshot.refunded_minor(&order.id), 1000);
    assert_eq!(
        ledger.payment(&payment.id).map(|p| p.status),
        Ok(PaymentStatus::Refunded)
    );
}

#[test]
fn a_declined_order_can_be_paid_after() {
    let mut ledger = Ledger::new(1, 10);
    let Ok(order) = ledger.create_order(order_request(500, None), true, 1) else {
        panic!("order refused");
    };
    let declined = ledger.decline(&order.id, 2).map(|(p, _)| p.status);
    assert_eq!(declined, Ok(PaymentStatus::Failed));
    assert!(ledger.pay(&order.id, 3).is_ok());
    assert_eq!(ledger.order_payments(&order.id).map(|p| p.len()), Ok(2));
}

#[test]
fn bad_orders_are_refused() {
    let mut ledger = Ledger::new(1, 1);
    assert!(ledger
        .create_order(order_request(99, None), true, 1)
        .is_err());
    let mut bad_currency = order_request(500, None);
    bad_currency.currency = "inr".to_owned();
    assert!(ledger.create_order(bad_currency, true, 1).is_err());
    let mut long_receipt = order_request(500, None);
    long_receipt.receipt = Some("x".repeat(41));
    assert!(ledger.create_order(long_receipt, true, 1).is_err());
    assert!(ledger
        .create_order(order_request(500, None), true, 1)
        .is_ok());
    assert!(
        ledger
            .create_order(order_request(500, None), true, 1)
            .is_err(),
        "orders_max"
    );
}

mod random {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Create {
            amount: u64,
            capture: Option<bool>,
        },
        Pay(usize),
        Decline(usize),
        Capture {
            payment: usize,
            short_minor: u64,
        },
        Refund {
            payment: usize,
            amount: RefundAmount,
        },
    }

    /// Refund amounts near the edge (what is left, ± a little) as well as anywhere.
    #[derive(Debug, Clone)]
    enum RefundAmount {
        All,
        NearLeft(i64),
        Fixed(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u64..2_000, proptest::option::of(any::<bool>()))
                .prop_map(|(amount, capture)| Op::Create { amount, capture }),
            (0usize..8).prop_map(Op::Pay),
            (0usize..8).prop_map(Op::Decline),
            (0usize..8, 0u64..2).prop_map(|(payment, short_minor)| Op::Capture {
                payment,
                short_minor
            }),
            (0usize..8, refund_amount())
                .prop_map(|(payment, amount)| Op::Refund { payment, amount }),
        ]
    }

    fn refund_amount() -> impl Strategy<Value = RefundAmount> {
        prop_oneof![
            Just(RefundAmount::All),
            (-2i64..=2).prop_map(RefundAmount::NearLeft),
            (0u64..1_500).prop_map(RefundAmount::Fixed),
        ]
    }

    fn pick<T: Clone>(items: &[T], at: usize) -> Option<T> {
        (!items.is_empty()).then(|| items[at % items.len()].clone())
    }

    fn apply(ledger: &mut Ledger, op: Op) {
        let snapshot = ledger.snapshot();
        let order = |at| pick(&snapshot.orders, at).map(|o| o.id);
        let payment = |at| pick(&snapshot.payments, at);
        // Each may be refused; the invariants must hold either way.
        let _ = match op {
            Op::Create { amount, capture } => ledger
                .create_order(order_request(amount, capture), false, 1)
                .map(|_| ()),
            Op::Pay(at) => order(at).map_or(Ok(()), |id| ledger.pay(&id, 2).map(|_| ())),
            Op::Decline(at) => order(at).map_or(Ok(()), |id| ledger.decline(&id, 2).map(|_| ())),
            Op::Capture {
                payment: at,
                short_minor,
            } => payment(at).map_or(Ok(()), |p| {
                let amount = p.amount_minor - short_minor.min(p.amount_minor);
                ledger.capture(&p.id, amount, &p.currency).map(|_| ())
            }),
            Op::Refund {
                payment: at,
                amount,
            } => payment(at).map_or(Ok(()), |p| {
                let left = p.amount_minor - p.amount_refunded_minor;
                let amount = match amount {
                    RefundAmount::All => None,
                    RefundAmount::NearLeft(delta) => Some(left.saturating_add_signed(delta)),
                    RefundAmount::Fixed(amount) => Some(amount),
                };
                ledger.refund(&p.id, refund_request(amount), 3).map(|_| ())
            }),
        };
    }

    fn check(snapshot: &LedgerSnapshot) {
        assert!(snapshot.orders_charged_twice().is_empty());
        for order in &snapshot.orders {
            let captured = snapshot.captured_minor(&order.id);
            assert!(captured == 0 || captured == order.amount_minor);
            assert_eq!(order.amount_paid_minor, captured);
            assert_eq!(order.status == OrderStatus::Paid, captured > 0);
            assert!(snapshot.refunded_minor(&order.id) <= captured);
        }
        for payment in &snapshot.payments {
            let refunded: u64 = snapshot
                .refunds
                .iter()
                .filter(|r| r.payment_id == payment.id)
                .map(|r| r.amount_minor)
                .sum();
            assert_eq!(refunded, payment.amount_refunded_minor);
            assert_eq!(
                payment.status == PaymentStatus::Refunded,
                payment.captured && refunded == payment.amount_minor
            );
        }
    }

    proptest! {
        #[test]
        fn the_books_never_charge_twice_or_refund_more_than_captured(
            ops in proptest::collection::vec(op(), 1..60),
        ) {
            let mut ledger = Ledger::new(5, 100);
            for op in ops {
                apply(&mut ledger, op);
                check(&ledger.snapshot());
            }
        }
    }
}
