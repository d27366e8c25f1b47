//! The simulator's shared state: books, switches, webhook target and log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cinebook_gateway::razorpay::wire;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, watch};

use crate::config::SimConfig;
use crate::ledger::{EventDraft, Ledger};
use crate::switches::Switches;
use crate::webhook::{Outgoing, WebhookRecord};

/// The account id in every webhook.
pub const ACCOUNT_ID: &str = "acc_CinebookPaysim";

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

#[derive(Debug)]
pub(crate) struct Sim {
    pub(crate) config: SimConfig,
    pub(crate) ledger: Mutex<Ledger>,
    pub(crate) switches: Mutex<Switches>,
    pub(crate) webhook_url: Mutex<Option<String>>,
    pub(crate) webhook_log: Mutex<Vec<WebhookRecord>>,
    /// Events emitted and not yet delivered, dropped or given up on.
    pub(crate) webhooks_pending: AtomicU64,
    event_rng: Mutex<StdRng>,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    shutdown: watch::Receiver<bool>,
}

/// Event ids come from their own stream, so REST calls do not shift them.
const EVENT_SEED_SALT: u64 = 0x6576_656e_7473;
const EVENT_ID_CHARS: usize = 14;

impl Sim {
    pub(crate) fn new(
        config: SimConfig,
        outgoing: mpsc::UnboundedSender<Outgoing>,
        shutdown: watch::Receiver<bool>,
    ) -> Sim {
        Sim {
            ledger: Mutex::new(Ledger::new(config.seed, config.orders_max)),
            switches: Mutex::new(config.switches.clone()),
            webhook_url: Mutex::new(config.webhook_url.clone()),
            webhook_log: Mutex::new(Vec::new()),
            webhooks_pending: AtomicU64::new(0),
            event_rng: Mutex::new(StdRng::seed_from_u64(config.seed ^ EVENT_SEED_SALT)),
            outgoing,
            shutdown,
            config,
        }
    }

    fn event_id(&self) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut rng = self.event_rng.lock();
        let mut id = String::from("evt_");
        for _ in 0..EVENT_ID_CHARS {
            id.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
        }
        id
    }

    /// Queues the webhooks of a change. Called with the ledger locked, so events leave in the
    /// order their changes were made.
    pub(crate) fn emit(&self, drafts: Vec<EventDraft>) {
        for draft in drafts {
            let order_id = draft
                .order
                .as_ref()
                .map(|o| o.id.clone())
                .or_else(|| draft.payment.as_ref().and_then(|p| p.order_id.clone()));
            let contains = [
                draft.payment.as_ref().map(|_| "payment"),
                draft.order.as_ref().map(|_| "order"),
                draft.refund.as_ref().map(|_| "refund"),
            ];
            let event = wire::Event {
                entity: "event".to_owned(),
                account_id: Some(ACCOUNT_ID.to_owned()),
                event: draft.name.to_owned(),
                contains: contains.iter().flatten().map(|s| (*s).to_owned()).collect(),
                payload: wire::EventPayload {
                    payment: draft.payment.map(|entity| wire::Wrapped { entity }),
                    order: draft.order.map(|entity| wire::Wrapped { entity }),
                    refund: draft.refund.map(|entity| wire::Wrapped { entity }),
                },
                created_at: now_s(),
            };
            let body = match serde_json::to_vec(&event) {
                Ok(body) => body,
                Err(error) => {
                    tracing::error!(%error, "webhook body not serializable");
                    continue;
                }
            };
            let outgoing = Outgoing {
                event_id: self.event_id(),
                name: draft.name.to_owned(),
                order_id,
                body,
            };
            self.webhooks_pending.fetch_add(1, Ordering::SeqCst);
            if self.outgoing.send(outgoing).is_err() {
                self.webhooks_pending.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Whether [`crate::SimHandle::shutdown`] (or its drop) happened.
    pub(crate) fn is_shut_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Sleeps `wait_ms`, or less if the simulator shuts down meanwhile.
    pub(crate) async fn sleep_unless_shutdown(&self, wait_ms: u64) {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wait_ms)) => {}
            _ = shutdown.wait_for(|stop| *stop) => {}
        }
    }
}
