//! [`PaymentStore`] in memory: the tables as maps, one mutex, the same rules as the databases
//! (unique (terminal, key), unique gateway order id, conditional transitions).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use cinebook_protocol::types::PaymentOrderState;
use parking_lot::Mutex;

use super::{OrderChange, OrderRecord, PaymentRow, PaymentStore, RefundRow};
use crate::store::StoreError;

/// The payment tables of a [`crate::store::memory::MemoryStore`].
#[derive(Debug, Clone, Default)]
pub struct MemoryPayments {
    tables: Arc<Mutex<Tables>>,
}

#[derive(Debug, Default)]
struct Tables {
    orders: BTreeMap<u64, OrderRecord>,
    payments: BTreeMap<String, PaymentRow>,
    refunds: BTreeMap<String, RefundRow>,
    refund_order: Vec<String>,
}

#[async_trait]
impl PaymentStore for MemoryPayments {
    async fn create_order(&self, order: &OrderRecord) -> Result<OrderRecord, StoreError> {
        let mut t = self.tables.lock();
        let same_key = t.orders.values().find(|o| {
            o.terminal_id == order.terminal_id && o.idempotency_key == order.idempotency_key
        });
        if let Some(existing) = same_key {
            return Ok(existing.clone());
        }
        if t.orders.contains_key(&order.order_id) {
            return Err(StoreError::Conflict(format!(
                "payment order {} exists",
                order.order_id
            )));
        }
        t.orders.insert(order.order_id, order.clone());
        Ok(order.clone())
    }

    async fn order(&self, order_id: u64) -> Result<Option<OrderRecord>, StoreError> {
        Ok(self.tables.lock().orders.get(&order_id).cloned())
    }

    async fn order_by_gateway_id(
        &self,
        gateway_order_id: &str,
    ) -> Result<Option<OrderRecord>, StoreError> {
        let t = self.tables.lock();
        Ok(t.orders
            .values()
            .find(|o| o.gateway_order_id.as_deref() == Some(gateway_order_id))
            .cloned())
    }

    async fn order_by_booking(&self, code: &str) -> Result<Option<OrderRecord>, StoreError> {
        let t = self.tables.lock();
        Ok(t.orders
            .values()
            .find(|o| o.booking_code.as_deref() == Some(code))
            .cloned())
    }

    async fn open_orders(&self) -> Result<Vec<OrderRecord>, StoreError> {
        let t = self.tables.lock();
        Ok(t.orders
            .values()
            .filter(|o| !o.state.is_final())
            .cloned()
            .collect())
    }

    async fn all_orders(&self) -> Result<Vec<OrderRecord>, StoreError> {
        Ok(self.tables.lock().orders.values().cloned().collect())
    }

    async fn change_order(
        &self,
        order_id: u64,
        from: &[PaymentOrderState],
        change: &OrderChange,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables.lock();
        if !t.orders.contains_key(&order_id) {
            return Err(StoreError::NotFound(format!("payment order {order_id}")));
        }
        let taken = change.gateway_order_id.as_ref().is_some_and(|g| {
            t.orders
                .values()
                .any(|o| o.order_id != order_id && o.gateway_order_id.as_ref() == Some(g))
        });
        if taken {
            return Err(StoreError::Conflict(format!(
                "gateway order {:?} belongs to another order",
                change.gateway_order_id
            )));
        }
        match t.orders.get_mut(&order_id) {
            Some(order) if from.contains(&order.state) => {
                change.apply_to(order);
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Err(StoreError::NotFound(format!("payment order {order_id}"))),
        }
    }

    async fn record_payment(&self, payment: &PaymentRow) -> Result<(), StoreError> {
        let mut t = self.tables.lock();
        t.payments
            .insert(payment.payment_id.clone(), payment.clone());
        Ok(())
    }

    async fn order_payments(&self, order_id: u64) -> Result<Vec<PaymentRow>, StoreError> {
        let t = self.tables.lock();
        Ok(t.payments
            .values()
            .filter(|p| p.order_id == order_id)
            .cloned()
            .collect())
    }

    async fn record_refund(&self, refund: &RefundRow) -> Result<(), StoreError> {
        let mut t = self.tables.lock();
        if let Some(id) = &refund.gateway_refund_id {
            let elsewhere = t
                .refunds
                .values()
                .any(|r| r.receipt != refund.receipt && r.gateway_refund_id.as_ref() == Some(id));
            if elsewhere {
                return Err(StoreError::Conflict(format!(
                    "gateway refund {id} is recorded under another receipt"
                )));
            }
        }
        match t.refunds.get_mut(&refund.receipt) {
            Some(row) => {
                if refund.gateway_refund_id.is_some() {
                    row.gateway_refund_id = refund.gateway_refund_id.clone();
                }
                row.state = refund.state.clone();
                row.updated_at_ms = refund.updated_at_ms;
            }
            None => {
                t.refund_order.push(refund.receipt.clone());
                t.refunds.insert(refund.receipt.clone(), refund.clone());
            }
        }
        Ok(())
    }

    async fn refund(&self, receipt: &str) -> Result<Option<RefundRow>, StoreError> {
        Ok(self.tables.lock().refunds.get(receipt).cloned())
    }

    async fn all_refunds(&self) -> Result<Vec<RefundRow>, StoreError> {
        let t = self.tables.lock();
        Ok(t.refund_order
            .iter()
            .filter_map(|r| t.refunds.get(r).cloned())
            .collect())
    }

    async fn refund_processed(
        &self,
        gateway_refund_id: &str,
        state: &str,
        at_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables.lock();
        let row = t
            .refunds
            .values_mut()
            .find(|r| r.gateway_refund_id.as_deref() == Some(gateway_refund_id));
        Ok(match row {
            Some(row) => {
                row.state = state.to_owned();
                row.updated_at_ms = at_ms;
                true
            }
            None => false,
        })
    }
}
