//! The fault switches: what the simulator does wrong on purpose.
//!
//! Set at start ([`crate::SimConfig::switches`], the binary's flags) and at run time
//! (`POST /sim/control` with a [`SwitchesPatch`] as JSON, or [`crate::SimControl::apply`]).

use serde::{Deserialize, Serialize};

/// One REST endpoint, for the switches that target a single one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /v1/orders`
    CreateOrder,
    /// `GET /v1/orders/{id}`
    FetchOrder,
    /// `GET /v1/orders/{id}/payments`
    OrderPayments,
    /// `GET /v1/payments/{id}`
    FetchPayment,
    /// `POST /v1/payments/{id}/capture`
    Capture,
    /// `POST /v1/payments/{id}/refund`
    Refund,
    /// `GET /v1/payments/{id}/refunds`
    PaymentRefunds,
}

/// The switches in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Switches {
    /// Every webhook waits this long before it is sent, milliseconds.
    pub webhook_delay_ms: u64,
    /// Every webhook is sent twice (same event id).
    pub webhook_duplicate: bool,
    /// Webhooks are held back until `webhook_reorder_window` are waiting (or the hold time ran
    /// out) and then sent newest first.
    pub webhook_reorder: bool,
    /// How many webhooks the reorder switch collects before sending them reversed.
    pub webhook_reorder_window: u32,
    /// Each webhook is dropped (never sent) with this probability, 0.0 to 1.0 (seeded).
    pub webhook_drop_probability: f64,
    /// The next this many webhooks are dropped.
    pub webhook_drop_next: u32,
    /// The next this many REST calls (to `fail_endpoint`, or any) answer `fail_status`
    /// without doing anything.
    pub fail_next: u32,
    /// The status `fail_next` answers, 500 to 599.
    pub fail_status: u16,
    /// Only this endpoint fails; `None`: every one.
    pub fail_endpoint: Option<Endpoint>,
    /// The next this many REST calls (to `hang_endpoint`, or any) answer only after
    /// `hang_ms`, past the client's timeout.
    pub hang_next: u32,
    /// How long a hung call waits, milliseconds.
    pub hang_ms: u64,
    /// Only this endpoint hangs; `None`: every one.
    pub hang_endpoint: Option<Endpoint>,
    /// A hung call does what it was asked before hanging (`true`: the client's timeout hides a
    /// success, the hard case), or hangs without doing it (`false`).
    pub hang_after_effect: bool,
    /// Payments on orders that did not say `payment_capture` are captured at once.
    pub auto_capture: bool,
}

impl Default for Switches {
    fn default() -> Switches {
        Switches {
            webhook_delay_ms: 0,
            webhook_duplicate: false,
            webhook_reorder: false,
            webhook_reorder_window: 2,
            webhook_drop_probability: 0.0,
            webhook_drop_next: 0,
            fail_next: 0,
            fail_status: 503,
            fail_endpoint: None,
            hang_next: 0,
            hang_ms: 30_000,
            hang_endpoint: None,
            hang_after_effect: true,
            auto_capture: true,
        }
    }
}

/// A change to some switches: every field left out stays as it is. `fail_endpoint` and
/// `hang_endpoint` take `null` for "every endpoint".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SwitchesPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_duplicate: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_reorder: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_reorder_window: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_drop_probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_drop_next: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_next: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_endpoint: Option<Option<Endpoint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hang_next: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hang_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hang_endpoint: Option<Option<Endpoint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hang_after_effect: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_capture: Option<bool>,
}

/// A switch value out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("switch {field}: {problem}")]
pub struct SwitchError {
    /// Which switch.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Longest `hang_ms` or `webhook_delay_ms` accepted, milliseconds.
pub const SWITCH_WAIT_MAX_MS: u64 = 10 * 60 * 1000;
/// Largest `webhook_reorder_window` accepted.
pub const REORDER_WINDOW_MAX: u32 = 1_000;

impl Switches {
    /// Applies `patch` if every value in it is in range; changes nothing otherwise.
    pub fn apply(&mut self, patch: &SwitchesPatch) -> Result<(), SwitchError> {
        let mut next = self.clone();
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(value) = patch.$field { next.$field = value; } )* };
        }
        take!(
            webhook_delay_ms,
            webhook_duplicate,
            webhook_reorder,
            webhook_reorder_window,
            webhook_drop_probability,
            webhook_drop_next,
            fail_next,
            fail_status,
            fail_endpoint,
            hang_next,
            hang_ms,
            hang_endpoint,
            hang_after_effect,
            auto_capture
        );
        next.check()?;
        *self = next;
        Ok(())
    }

    /// Whether every value is in range.
    pub fn check(&self) -> Result<(), SwitchError> {
        let fail = |field, problem| Err(SwitchError { field, problem });
        if !(0.0..=1.0).contains(&self.webhook_drop_probability) {
            return fail("webhook_drop_probability", "must be within 0.0 and 1.0");
        }
        if !(500..=599).contains(&self.fail_status) {
            return fail("fail_status", "must be a 5xx status");
        }
        if self.hang_ms > SWITCH_WAIT_MAX_MS || self.webhook_delay_ms > SWITCH_WAIT_MAX_MS {
            return fail("hang_ms/webhook_delay_ms", "at most 10 minutes");
        }
        if self.webhook_reorder_window < 2 || self.webhook_reorder_window > REORDER_WINDOW_MAX {
            return fail("webhook_reorder_window", "must be within 2 and 1000");
        }
        Ok(())
    }
}

/// What a REST call is to suffer, decided (and counted down) when it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    Fail { status: u16 },
    Hang { wait_ms: u64, after_effect: bool },
}

impl Switches {
    pub(crate) fn take_fault(&mut self, endpoint: Endpoint) -> Fault {
        let hits = |target: Option<Endpoint>| target.is_none_or(|t| t == endpoint);
        if self.fail_next > 0 && hits(self.fail_endpoint) {
            self.fail_next -= 1;
            return Fault::Fail {
                status: self.fail_status,
            };
        }
        if self.hang_next > 0 && hits(self.hang_endpoint) {
            self.hang_next -= 1;
            return Fault::Hang {
                wait_ms: self.hang_ms,
                after_effect: self.hang_after_effect,
            };
        }
        Fault::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_out_of_range_changes_nothing() {
        let mut switches = Switches::default();
        let patch = SwitchesPatch {
            fail_next: Some(3),
            webhook_drop_probability: Some(1.5),
            ..SwitchesPatch::default()
        };
        assert!(switches.apply(&patch).is_err());
        assert_eq!(switches, Switches::default());
    }

    #[test]
    fn faults_count_down_per_endpoint() {
        let mut switches = Switches {
            fail_next: 1,
            fail_endpoint: Some(Endpoint::Refund),
            ..Switches::default()
        };
        assert_eq!(switches.take_fault(Endpoint::CreateOrder), Fault::None);
        assert_eq!(
            switches.take_fault(Endpoint::Refund),
            Fault::Fail { status: 503 }
        );
        assert_eq!(switches.take_fault(Endpoint::Refund), Fault::None);
    }
}
