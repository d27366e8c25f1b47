//! The webhook dispatcher: one task that sends queued events to the webhook URL, signed, with
//! the delay, duplicate, reorder and drop switches applied and bounded retries on non-2xx.
//!
//! First tries are made one after the other, so without the reorder switch events arrive in
//! the order they happened as long as the receiver accepts them. A refused event is retried by
//! a task of its own, so it does not hold up the events behind it (and so arrives after them,
//! as with a real gateway, which promises no order).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use cinebook_gateway::signature;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::sim::Sim;

/// Retry waits double up to this, milliseconds.
pub const WEBHOOK_RETRY_BACKOFF_MAX_MS: u64 = 5_000;
/// Drop decisions come from their own stream, seeded from the simulator's seed.
const DROP_SEED_SALT: u64 = 0x6472_6f70;

/// A webhook waiting to be sent.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) event_id: String,
    pub(crate) name: String,
    pub(crate) order_id: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// What became of one webhook send (or of an event that was never sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookRecord {
    /// `X-Razorpay-Event-Id`; a duplicate or retry has the same one.
    pub event_id: String,
    /// `payment.captured`, …
    pub event: String,
    /// The order it is about.
    pub order_id: Option<String>,
    /// What happened.
    pub outcome: WebhookOutcome,
}

/// The fate of one send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    /// Dropped by the drop switch: never sent.
    Dropped,
    /// No webhook URL was set: not sent.
    NoUrl,
    /// Sent; the receiver answered this status.
    Answered {
        /// 1 for the first try.
        attempt: u32,
        /// HTTP status.
        status: u16,
    },
    /// Sent; no answer (refused, timed out).
    Failed {
        /// 1 for the first try.
        attempt: u32,
        /// What went wrong.
        error: String,
    },
}

enum Next {
    Event(Outgoing),
    HoldOver,
    Closed,
}

async fn next(inbox: &mut mpsc::UnboundedReceiver<Outgoing>, hold_ms: Option<u64>) -> Next {
    let Some(hold_ms) = hold_ms else {
        return inbox.recv().await.map_or(Next::Closed, Next::Event);
    };
    match tokio::time::timeout(Duration::from_millis(hold_ms), inbox.recv()).await {
        Ok(Some(event)) => Next::Event(event),
        Ok(None) => Next::Closed,
        Err(_) => Next::HoldOver,
    }
}

/// Runs until the queue closes (the simulator is dropped) or the task is aborted.
pub(crate) async fn dispatch(sim: Arc<Sim>, mut inbox: mpsc::UnboundedReceiver<Outgoing>) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(sim.config.webhook_timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhook client cannot be built: no webhooks");
            return;
        }
    };
    let mut drop_rng = StdRng::seed_from_u64(sim.config.seed ^ DROP_SEED_SALT);
    let mut held: Vec<Outgoing> = Vec::new();
    loop {
        let hold_ms = (!held.is_empty()).then_some(sim.config.webhook_reorder_hold_ms);
        let event = match next(&mut inbox, hold_ms).await {
            Next::Closed => return,
            Next::HoldOver => {
                send_reversed(&client, &sim, &mut held).await;
                continue;
            }
            Next::Event(event) => event,
        };
        let (dropped, copies, reorder, window) = {
            let mut switches = sim.switches.lock();
            let dropped = if switches.webhook_drop_next > 0 {
                switches.webhook_drop_next -= 1;
                true
            } else {
                drop_rng.random::<f64>() < switches.webhook_drop_probability
            };
            let copies = if switches.webhook_duplicate { 2 } else { 1 };
            let window = switches.webhook_reorder_window as usize;
            (dropped, copies, switches.webhook_reorder, window)
        };
        if dropped {
            record(&sim, &event, WebhookOutcome::Dropped);
            sim.webhooks_pending.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        // A duplicate counts as its own pending send.
        sim.webhooks_pending.fetch_add(copies - 1, Ordering::SeqCst);
        let copies = vec![event; copies as usize];
        if reorder {
            held.extend(copies);
            if held.len() >= window {
                send_reversed(&client, &sim, &mut held).await;
            }
        } else {
            for copy in copies {
                deliver(&client, &sim, copy).await;
            }
        }
    }
}

async fn send_reversed(client: &reqwest::Client, sim: &Arc<Sim>, held: &mut Vec<Outgoing>) {
    while let Some(event) = held.pop() {
        deliver(client, sim, event).await;
    }
}

fn record(sim: &Sim, event: &Outgoing, outcome: WebhookOutcome) {
    sim.webhook_log.lock().push(WebhookRecord {
        event_id: event.event_id.clone(),
        event: event.name.clone(),
        order_id: event.order_id.clone(),
        outcome,
    });
}

/// Sends one event once; if that is not accepted, retries it from a task of its own.
async fn deliver(client: &reqwest::Client, sim: &Arc<Sim>, event: Outgoing) {
    let delay_ms = sim.switches.lock().webhook_delay_ms;
    if delay_ms > 0 {
        sim.sleep_unless_shutdown(delay_ms).await;
    }
    let signature = signature::webhook(sim.config.webhook_secret.as_bytes(), &event.body);
    let attempt = Attempt {
        event: &event,
        signature: &signature,
    };
    if attempt.send(client, sim, 1).await || sim.config.webhook_attempts_max <= 1 {
        sim.webhooks_pending.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let (client, sim) = (client.clone(), Arc::clone(sim));
    tokio::spawn(async move {
        let attempt = Attempt {
            event: &event,
            signature: &signature,
        };
        let mut backoff_ms = sim.config.webhook_retry_backoff_ms;
        for number in 2..=sim.config.webhook_attempts_max {
            sim.sleep_unless_shutdown(backoff_ms).await;
            if sim.is_shut_down() || attempt.send(&client, &sim, number).await {
                break;
            }
            backoff_ms = (backoff_ms * 2).min(WEBHOOK_RETRY_BACKOFF_MAX_MS);
        }
        sim.webhooks_pending.fetch_sub(1, Ordering::SeqCst);
    });
}

struct Attempt<'a> {
    event: &'a Outgoing,
    signature: &'a str,
}

impl Attempt<'_> {
    /// One POST; whether it was accepted (2xx). Without a webhook URL: logged, and done.
    async fn send(&self, client: &reqwest::Client, sim: &Sim, attempt: u32) -> bool {
        let Some(url) = sim.webhook_url.lock().clone() else {
            record(sim, self.event, WebhookOutcome::NoUrl);
            return true;
        };
        let sent = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Razorpay-Signature", self.signature)
            .header("X-Razorpay-Event-Id", &self.event.event_id)
            .body(self.event.body.clone())
            .send()
            .await;
        let outcome = match sent {
            Ok(answer) => WebhookOutcome::Answered {
                attempt,
                status: answer.status().as_u16(),
            },
            Err(error) => WebhookOutcome::Failed {
                attempt,
                error: error.to_string(),
            },
        };
        let accepted = matches!(outcome, WebhookOutcome::Answered { status, .. } if (200..300).contains(&status));
        record(sim, self.event, outcome);
        accepted
    }
}
