//! A copy of the books and the sums a checker asks for.

use super::{SimOrder, SimPayment, SimRefund};

/// A copy of the books, for checkers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LedgerSnapshot {
    /// Every order, oldest first.
    pub orders: Vec<SimOrder>,
    /// Every payment, oldest first.
    pub payments: Vec<SimPayment>,
    /// Every refund, oldest first.
    pub refunds: Vec<SimRefund>,
}

impl LedgerSnapshot {
    /// Minor units captured on an order (all its captured payments).
    pub fn captured_minor(&self, order_id: &str) -> u64 {
        self.payments
            .iter()
            .filter(|p| p.order_id == order_id && p.captured)
            .map(|p| p.amount_minor)
            .sum()
    }

    /// Minor units refunded on an order.
    pub fn refunded_minor(&self, order_id: &str) -> u64 {
        self.refunds
            .iter()
            .filter(|r| r.order_id == order_id)
            .map(|r| r.amount_minor)
            .sum()
    }

    /// Orders with more than one captured payment or more captured than their amount: empty
    /// unless something charged a customer twice.
    pub fn orders_charged_twice(&self) -> Vec<String> {
        let twice = |order: &&SimOrder| {
            let captures = self
                .payments
                .iter()
                .filter(|p| p.order_id == order.id && p.captured)
                .count();
            captures > 1 || self.captured_minor(&order.id) > order.amount_minor
        };
        self.orders
            .iter()
            .filter(twice)
            .map(|o| o.id.clone())
            .collect()
    }
}
