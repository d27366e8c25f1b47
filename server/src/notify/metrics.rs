//! The notification metrics, registered with the node's others (`crate::metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// Label of `cinebook_notify_sends_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ChannelLabel {
    /// `email` or `sms`.
    channel: &'static str,
}

/// Outbox lag, sends, retries, dead letters and relayed rows.
#[derive(Debug, Default)]
pub struct NotifyMetrics {
    sends: Family<ChannelLabel, Counter>,
    duplicates: Counter,
    retries: Counter,
    dead_letters: Counter,
    relayed: Counter,
    outbox_pending: Gauge,
    outbox_lag_seconds: Gauge,
}

impl NotifyMetrics {
    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "notify_sends",
            "Notifications sent, by channel (email, sms)",
            self.sends.clone(),
        );
        registry.register(
            "notify_duplicates",
            "Deliveries of a message id already sent on a channel: nothing was sent again",
            self.duplicates.clone(),
        );
        registry.register(
            "notify_retries",
            "Failed notification attempts scheduled to be tried again",
            self.retries.clone(),
        );
        registry.register(
            "notify_dead_letters",
            "Notifications parked after notify_attempts_max attempts (or a permanent failure)",
            self.dead_letters.clone(),
        );
        registry.register(
            "outbox_relayed",
            "Outbox rows the relay published and the broker acknowledged",
            self.relayed.clone(),
        );
        registry.register(
            "outbox_pending",
            "Outbox rows not yet delivered or relayed",
            self.outbox_pending.clone(),
        );
        registry.register_with_unit(
            "outbox_lag",
            "Age of the oldest outbox row not yet delivered or relayed (0: none)",
            Unit::Seconds,
            self.outbox_lag_seconds.clone(),
        );
    }

    /// One message sent on `channel`.
    pub fn sent(&self, channel: &'static str, count: u32) {
        self.sends
            .get_or_create(&ChannelLabel { channel })
            .inc_by(u64::from(count));
    }

    /// Channels skipped as duplicates.
    pub fn duplicates(&self, count: u32) {
        self.duplicates.inc_by(u64::from(count));
    }

    /// Channels skipped as duplicates so far.
    pub fn duplicates_seen(&self) -> u64 {
        self.duplicates.get()
    }

    /// Sends on `channel` so far.
    pub fn sends_seen(&self, channel: &'static str) -> u64 {
        self.sends.get_or_create(&ChannelLabel { channel }).get()
    }

    /// A failed attempt to be retried.
    pub fn retried(&self) {
        self.retries.inc();
    }

    /// A message parked.
    pub fn dead_letter(&self) {
        self.dead_letters.inc();
    }

    /// Rows acknowledged by the broker.
    pub fn relayed(&self, rows: u64) {
        self.relayed.inc_by(rows);
    }

    /// The outbox as last read: rows pending and the age of the oldest, seconds.
    pub fn outbox(&self, pending: u64, lag_seconds: u64) {
        self.outbox_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.outbox_lag_seconds
            .set(i64::try_from(lag_seconds).unwrap_or(i64::MAX));
    }
}
