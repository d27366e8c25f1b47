//! The simulator's books: orders, payments and refunds in memory, and every rule that changes
//! them (Razorpay's): one captured payment per order, capture only of an authorized payment for
//! its full amount, refunds adding up to at most what was captured.
//!
//! Each change answers the entity and the webhook events it causes ([`EventDraft`]); sending
//! them is the dispatcher's business.

mod error;
mod records;
mod rules;
mod snapshot;

pub use error::ApiError;
pub use records::{SimOrder, SimPayment, SimRefund};
use rules::{check_currency, check_notes, check_receipt};
pub use rules::{
    ID_RANDOM_CHARS, NOTES_MAX, NOTE_MAX_CHARS, ORDER_AMOUNT_MAX_MINOR, ORDER_AMOUNT_MIN_MINOR,
    RECEIPT_MAX_CHARS,
};
pub use snapshot::LedgerSnapshot;

use std::collections::{HashMap, HashSet};

use cinebook_gateway::razorpay::wire;
use cinebook_gateway::{OrderStatus, PaymentStatus, RefundStatus};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A webhook event a change caused, before it has an id and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    /// `payment.captured`, …
    pub name: &'static str,
    /// The payment, as it was at the event.
    pub payment: Option<wire::Payment>,
    /// The order, as it was at the event.
    pub order: Option<wire::Order>,
    /// The refund, as it was at the event.
    pub refund: Option<wire::Refund>,
}

/// Orders, payments and refunds, in the order they were made.
#[derive(Debug)]
pub struct Ledger {
    orders: Vec<SimOrder>,
    payments: Vec<SimPayment>,
    refunds: Vec<SimRefund>,
    order_index: HashMap<String, usize>,
    payment_index: HashMap<String, usize>,
    refund_ids: HashSet<String>,
    rng: StdRng,
    orders_max: usize,
}

const ID_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
impl Ledger {
    /// Empty books; ids drawn from `seed`.
    pub fn new(seed: u64, orders_max: usize) -> Ledger {
        Ledger {
            orders: Vec::new(),
            payments: Vec::new(),
            refunds: Vec::new(),
            order_index: HashMap::new(),
            payment_index: HashMap::new(),
            refund_ids: HashSet::new(),
            rng: StdRng::seed_from_u64(seed),
            orders_max,
        }
    }

    fn new_id(&mut self, prefix: &str) -> String {
        let mut id = String::with_capacity(prefix.len() + ID_RANDOM_CHARS);
        id.push_str(prefix);
        for _ in 0..ID_RANDOM_CHARS {
            let at = self.rng.random_range(0..ID_ALPHABET.len());
            id.push(char::from(ID_ALPHABET[at]));
        }
        id
    }

    fn unique_id(&mut self, prefix: &str) -> String {
        loop {
            let id = self.new_id(prefix);
            let taken = self.order_index.contains_key(&id)
                || self.payment_index.contains_key(&id)
                || self.refund_ids.contains(&id);
            if !taken {
                return id;
            }
        }
    }

    /// `POST /v1/orders`. `auto_capture_default` applies when the request does not say.
    pub fn create_order(
        &mut self,
        request: wire::OrderCreate,
        auto_capture_default: bool,
        now_s: u64,
    ) -> Result<SimOrder, ApiError> {
        if !(ORDER_AMOUNT_MIN_MINOR..=ORDER_AMOUNT_MAX_MINOR).contains(&request.amount) {
            return Err(ApiError::bad_field(
                "amount",
                "The amount must be at least 1.00 of the currency",
            ));
        }
        check_currency(&request.currency)?;
        check_receipt(&request.receipt)?;
        check_notes(&request.notes)?;
        if self.orders.len() >= self.orders_max {
            return Err(ApiError::bad_request("The simulator holds its most orders"));
        }
        let order = SimOrder {
            id: self.unique_id("order_"),
            amount_minor: request.amount,
            currency: request.currency,
            receipt: request.receipt,
            notes: request.notes.0,
            auto_capture: request.payment_capture.unwrap_or(auto_capture_default),
            status: OrderStatus::Created,
            attempts: 0,
            amount_paid_minor: 0,
            created_at_s: now_s,
        };
        self.order_index.insert(order.id.clone(), self.orders.len());
        self.orders.push(order.clone());
        Ok(order)
    }

    /// One order.
    pub fn order(&self, order_id: &str) -> Result<&SimOrder, ApiError> {
        self.order_index
            .get(order_id)
            .map(|&at| &self.orders[at])
            .ok_or_else(ApiError::unknown_id)
    }

    /// One payment.
    pub fn payment(&self, payment_id: &str) -> Result<&SimPayment, ApiError> {
        self.payment_index
            .get(payment_id)
            .map(|&at| &self.payments[at])
            .ok_or_else(ApiError::unknown_id)
    }

    /// Every payment of an order, oldest first.
    pub fn order_payments(&self, order_id: &str) -> Result<Vec<SimPayment>, ApiError> {
        self.order(order_id)?;
        let of_order = |p: &&SimPayment| p.order_id == order_id;
        Ok(self.payments.iter().filter(of_order).cloned().collect())
    }

    /// Every refund of a payment, oldest first.
    pub fn payment_refunds(&self, payment_id: &str) -> Result<Vec<SimRefund>, ApiError> {
        self.payment(payment_id)?;
        let of_payment = |r: &&SimRefund| r.payment_id == payment_id;
        Ok(self.refunds.iter().filter(of_payment).cloned().collect())
    }

    /// Everything, for checkers.
    pub fn snapshot(&self) -> LedgerSnapshot {
        LedgerSnapshot {
            orders: self.orders.clone(),
            payments: self.payments.clone(),
            refunds: self.refunds.clone(),
        }
    }

    fn order_mut(&mut self, order_id: &str) -> Result<&mut SimOrder, ApiError> {
        match self.order_index.get(order_id) {
            Some(&at) => Ok(&mut self.orders[at]),
            None => Err(ApiError::unknown_id()),
        }
    }

    fn payment_mut(&mut self, payment_id: &str) -> Result<&mut SimPayment, ApiError> {
        match self.payment_index.get(payment_id) {
            Some(&at) => Ok(&mut self.payments[at]),
            None => Err(ApiError::unknown_id()),
        }
    }

    /// Whether a new payment may be attempted on the order (Razorpay: not once paid, and not
    /// while another payment of it is authorized).
    fn check_payable(&self, order_id: &str) -> Result<&SimOrder, ApiError> {
        let order = self.order(order_id)?;
        if order.status == OrderStatus::Paid {
            return Err(ApiError::bad_request("Order has already been paid"));
        }
        let authorized =
            |p: &SimPayment| p.order_id == order_id && p.status == PaymentStatus::Authorized;
        if self.payments.iter().any(authorized) {
            return Err(ApiError::bad_request(
                "A payment of this order is already authorized",
            ));
        }
        Ok(order)
    }

    fn add_payment(
        &mut self,
        order_id: &str,
        status: PaymentStatus,
        now_s: u64,
    ) -> Result<SimPayment, ApiError> {
        let id = self.unique_id("pay_");
        let order = self.order_mut(order_id)?;
        order.attempts += 1;
        order.status = OrderStatus::Attempted;
        let payment = SimPayment {
            id,
            order_id: order.id.clone(),
            amount_minor: order.amount_minor,
            currency: order.currency.clone(),
            status,
            captured: false,
            amount_refunded_minor: 0,
            error_description: (status == PaymentStatus::Failed)
                .then(|| "Payment declined by the bank (simulated)".to_owned()),
            created_at_s: now_s,
        };
        self.payment_index
            .insert(payment.id.clone(), self.payments.len());
        self.payments.push(payment.clone());
        Ok(payment)
    }

    /// The customer paid on the checkout: a payment, authorized, and captured at once if the
    /// order asked for that.
    pub fn pay(
        &mut self,
        order_id: &str,
        now_s: u64,
    ) -> Result<(SimPayment, Vec<EventDraft>), ApiError> {
        let auto_capture = self.check_payable(order_id)?.auto_capture;
        let payment = self.add_payment(order_id, PaymentStatus::Authorized, now_s)?;
        let mut events = vec![EventDraft {
            name: "payment.authorized",
            payment: Some(payment.to_wire()),
            order: None,
            refund: None,
        }];
        if !auto_capture {
            return Ok((payment, events));
        }
        let (captured, more) =
            self.capture(&payment.id, payment.amount_minor, &payment.currency)?;
        events.extend(more);
        Ok((captured, events))
    }

    /// The customer's card was declined on the checkout: a failed payment.
    pub fn decline(
        &mut self,
        order_id: &str,
        now_s: u64,
    ) -> Result<(SimPayment, Vec<EventDraft>), ApiError> {
        self.check_payable(order_id)?;
        let payment = self.add_payment(order_id, PaymentStatus::Failed, now_s)?;
        let event = EventDraft {
            name: "payment.failed",
            payment: Some(payment.to_wire()),
            order: None,
            refund: None,
        };
        Ok((payment, vec![event]))
    }

    /// `POST /v1/payments/{id}/capture`: only an authorized payment, for its full amount.
    pub fn capture(
        &mut self,
        payment_id: &str,
        amount_minor: u64,
        currency: &str,
    ) -> Result<(SimPayment, Vec<EventDraft>), ApiError> {
        let payment = self.payment_mut(payment_id)?;
        match payment.status {
            PaymentStatus::Authorized => {}
            PaymentStatus::Captured | PaymentStatus::Refunded => {
                return Err(ApiError::bad_request(
                    "This payment has already been captured",
                ))
            }
            PaymentStatus::Created | PaymentStatus::Failed => {
                return Err(ApiError::bad_request(
                    "Only payments which have been authorized and not yet captured can be captured",
                ))
            }
        }
        if amount_minor != payment.amount_minor {
            return Err(ApiError::bad_field(
                "amount",
                "Capture amount must be equal to the amount authorized",
            ));
        }
        if currency != payment.currency {
            return Err(ApiError::bad_field(
                "currency",
                "Currency should be same as the payment currency",
            ));
        }
        payment.status = PaymentStatus::Captured;
        payment.captured = true;
        let payment = payment.clone();
        let order = self.order_mut(&payment.order_id)?;
        assert_eq!(order.amount_paid_minor, 0, "one captured payment per order");
        order.amount_paid_minor = payment.amount_minor;
        order.status = OrderStatus::Paid;
        let order = order.to_wire();
        let events = vec![
            EventDraft {
                name: "payment.captured",
                payment: Some(payment.to_wire()),
                order: None,
                refund: None,
            },
            EventDraft {
                name: "order.paid",
                payment: Some(payment.to_wire()),
                order: Some(order),
                refund: None,
            },
        ];
        Ok((payment, events))
    }

    /// `POST /v1/payments/{id}/refund`: of a captured payment, at most what is left.
    pub fn refund(
        &mut self,
        payment_id: &str,
        request: wire::RefundCreate,
        now_s: u64,
    ) -> Result<(SimRefund, Vec<EventDraft>), ApiError> {
        check_receipt(&request.receipt)?;
        check_notes(&request.notes)?;
        let id = self.unique_id("rfnd_");
        let payment = self.payment_mut(payment_id)?;
        match payment.status {
            PaymentStatus::Captured => {}
            PaymentStatus::Refunded => {
                return Err(ApiError::bad_request(
                    "The payment has been fully refunded already",
                ))
            }
            _ => {
                return Err(ApiError::bad_request(
                    "Only captured payments can be refunded",
                ))
            }
        }
        let left_minor = payment.amount_minor - payment.amount_refunded_minor;
        let amount_minor = request.amount.unwrap_or(left_minor);
        if amount_minor == 0 || amount_minor > left_minor {
            return Err(ApiError::bad_field(
                "amount",
                "The refund amount provided is greater than amount captured and not yet refunded",
            ));
        }
        payment.amount_refunded_minor += amount_minor;
        if payment.amount_refunded_minor == payment.amount_minor {
            payment.status = PaymentStatus::Refunded;
        }
        assert!(payment.amount_refunded_minor <= payment.amount_minor);
        let refund = SimRefund {
            id,
            payment_id: payment.id.clone(),
            order_id: payment.order_id.clone(),
            amount_minor,
            currency: payment.currency.clone(),
            receipt: request.receipt,
            notes: request.notes.0,
            status: RefundStatus::Processed,
            created_at_s: now_s,
        };
        let event = EventDraft {
            name: "refund.processed",
            payment: Some(payment.to_wire()),
            order: None,
            refund: Some(refund.to_wire()),
        };
        self.refund_ids.insert(refund.id.clone());
        self.refunds.push(refund.clone());
        Ok((refund, vec![event]))
    }
}

#[cfg(test)]
mod tests;
