//! The kiosks: hold, then confirm with an idempotency key (retrying unknown outcomes with the
//! same key, as a kiosk does), release or walk away; refund some sales. And a probe that holds
//! and releases one seat every few ms, so availability is measured even while every kiosk is
//! inside a long retry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cinebook_client::{Client, ClientConfig, Error};
use cinebook_protocol::types::{HoldInfo, Payment, PaymentMethod, SeatSelection};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::checker::DEADLINE_SLACK_MS;
use super::history::{
    CancelOutcome, CancelRec, ConfirmOutcome, ConfirmRec, HoldFate, HoldRec, Shared,
};

/// A kiosk gives up on one confirm, release or refund after this long without a definite answer.
pub const KIOSK_GIVE_UP_MS: u64 = 12_000;

/// One kiosk call (the client's retries and NotLeader hops included) gives up after this long;
/// the kiosk then reconnects and asks again with the same key.
const KIOSK_CALL_TIMEOUT_MS: u64 = 800;

/// A kiosk refunds its oldest sale once it has this many (keeps seats turning over).
const LIVE_SALES_MAX: usize = 3;

/// A kiosk's connection on which a call heard nothing (not even an answer to a ping) for twice
/// this long is left for another node (the client's `liveness_timeout_ms`).
const KIOSK_LIVENESS_TIMEOUT_MS: u64 = 150;

/// Pause between two probe holds.
const PROBE_INTERVAL_MS: u64 = 10;

/// What every kiosk and the probe share.
#[derive(Clone)]
pub struct Ctx {
    /// Node addresses.
    pub addrs: Vec<String>,
    /// The show sold.
    pub show_id: u64,
    /// The record.
    pub history: Shared,
    /// When the run started.
    pub start: Instant,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
}

impl Ctx {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn hold_ok(&self, sent: u64) -> u64 {
        let answered = self.now();
        self.history.lock().holds_ok.push((sent, answered));
        answered
    }

    fn sale_ok(&self, sent: u64) {
        let answered = self.now();
        self.history.lock().sales_ok.push((sent, answered));
    }
}

fn config(token: &str, call_timeout_ms: u64) -> ClientConfig {
    ClientConfig {
        call_timeout_ms,
        connect_timeout_ms: 250,
        backoff_initial_ms: 20,
        backoff_max_ms: 150,
        attempts_max: 12,
        redirects_max: 4,
        liveness_timeout_ms: KIOSK_LIVENESS_TIMEOUT_MS,
        unresponsive_avoid_ms: 2_000,
        ..ClientConfig::with_token(token)
    }
}

async fn connect(ctx: &Ctx, token: &str, call_timeout_ms: u64) -> Option<Client> {
    while !ctx.stopped() {
        if let Ok(client) = Client::connect(ctx.addrs.clone(), config(token, call_timeout_ms)).await
        {
            return Some(client);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Whether asking again may get a different answer (no definite outcome yet).
fn transient(error: &Error) -> bool {
    matches!(
        error,
        Error::NotLeader { .. }
            | Error::Unavailable { .. }
            | Error::Overloaded { .. }
            | Error::OutcomeUnknown { .. }
            | Error::Connect { .. }
            | Error::ConnectTimeout { .. }
            | Error::Timeout { .. }
            | Error::Indeterminate { .. }
            | Error::ConnectionLost { .. }
            | Error::Preface { .. }
            | Error::Internal { .. }
    )
}

/// Whether the error says the hold no longer exists.
fn hold_gone(error: &Error) -> bool {
    matches!(error, Error::HoldExpired { .. } | Error::NotFound { .. })
}

/// A kiosk's (or the probe's) connection. A call that timed out leaves its connection behind:
/// the node may be paused or cut off (a kiosk would reconnect too).
struct Station {
    client: Client,
    token: String,
    call_timeout_ms: u64,
}

impl Station {
    async fn open(ctx: &Ctx, token: &str, call_timeout_ms: u64) -> Option<Station> {
        let client = connect(ctx, token, call_timeout_ms).await?;
        Some(Station {
            client,
            token: token.to_owned(),
            call_timeout_ms,
        })
    }

    async fn after(&mut self, ctx: &Ctx, error: &Error) {
        if matches!(error, Error::Timeout { .. }) {
            if let Some(client) = connect(ctx, &self.token, self.call_timeout_ms).await {
                self.client = client;
            }
        }
    }
}

/// With `CHAOS_TRACE` set, every failed kiosk call is printed (ms since the start, kiosk, call,
/// node, error), to see where a stretch without sales went.
fn trace(ctx: &Ctx, who: &str, what: &str, client: &Client, error: &Error) {
    if std::env::var_os("CHAOS_TRACE").is_some() {
        eprintln!(
            "chaos-trace: {:>7} ms {who} {what} at node {}: {error}",
            ctx.now(),
            node_of(client)
        );
    }
}

fn node_of(client: &Client) -> u32 {
    client.welcome().map_or(0, |w| w.node_id)
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One kiosk until stopped.
pub async fn kiosk(ctx: Ctx, client_no: usize, token: String, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let Some(mut st) = Station::open(&ctx, &token, KIOSK_CALL_TIMEOUT_MS).await else {
        return;
    };
    let mut sales: Vec<String> = Vec::new();
    let mut n = 0u64;
    while !ctx.stopped() {
        n += 1;
        let count = rng.random_range(1..=2);
        let sent = ctx.now();
        let hold = st
            .client
            .hold_with_key(
                ctx.show_id,
                SeatSelection::Best {
                    count,
                    category: None,
                },
                &format!("k{client_no}-h{n}"),
            )
            .await;
        if let Err(e) = &hold {
            trace(&ctx, &format!("kiosk {client_no}"), "hold", &st.client, e);
            st.after(&ctx, e).await;
        }
        if let Ok(hold) = hold {
            let acked_ms = ctx.hold_ok(sent);
            if std::env::var_os("CHAOS_TRACE").is_some() {
                eprintln!("chaos-trace: {acked_ms:>7} ms kiosk {client_no} held (sent at {sent}) at node {}", node_of(&st.client));
            }
            let node = node_of(&st.client);
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..60))).await;
            let roll = rng.random_range(0..100);
            let fate = if roll < 70 {
                confirm(&ctx, &mut st, client_no, n, &hold, &mut sales).await
            } else if roll < 85 {
                release(&ctx, &mut st, &hold).await
            } else {
                HoldFate::Abandoned
            };
            ctx.history.lock().holds.push(HoldRec {
                client: client_no,
                hold_id: hold.hold_id,
                acked_ms,
                node,
                fate,
            });
        }
        if sales.len() >= LIVE_SALES_MAX {
            let code = sales.remove(0);
            refund(&ctx, &mut st, code).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(10..40))).await;
    }
}

async fn confirm(
    ctx: &Ctx,
    st: &mut Station,
    client_no: usize,
    n: u64,
    hold: &HoldInfo,
    sales: &mut Vec<String>,
) -> HoldFate {
    let key = format!("k{client_no}-c{n}");
    let payment = Payment {
        method: PaymentMethod::Card,
        amount: hold.total.clone(),
        reference: None,
    };
    let give_up = ctx.now() + KIOSK_GIVE_UP_MS;
    let (outcome, fate) = loop {
        let sent = ctx.now();
        let answer = st.client.confirm(hold.hold_id, payment.clone(), &key).await;
        if let Err(e) = &answer {
            trace(ctx, &format!("kiosk {client_no}"), "confirm", &st.client, e);
            st.after(ctx, e).await;
        }
        match answer {
            Ok(booking) => {
                if std::env::var_os("CHAOS_TRACE").is_some() {
                    eprintln!(
                        "chaos-trace: {:>7} ms kiosk {client_no} sold (sent at {sent})",
                        ctx.now()
                    );
                }
                ctx.sale_ok(sent);
                sales.push(booking.code.clone());
                let seats = booking.seats.iter().map(|s| s.seat_id).collect();
                break (
                    ConfirmOutcome::Booked {
                        code: booking.code,
                        seats,
                    },
                    HoldFate::Confirmed,
                );
            }
            Err(e) if transient(&e) && ctx.now() < give_up => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) if transient(&e) => break (ConfirmOutcome::Unknown, HoldFate::Unknown),
            Err(e) => {
                let fate = judge_gone(
                    hold,
                    &e,
                    &format!("confirm at node {}", node_of(&st.client)),
                );
                break (ConfirmOutcome::Refused(e.to_string()), fate);
            }
        }
    };
    ctx.history.lock().confirms.push(ConfirmRec {
        client: client_no,
        key,
        outcome,
    });
    fate
}

/// A definite "no such hold" before the deadline is a lost cart; other refusals are not.
fn judge_gone(hold: &HoldInfo, error: &Error, what: &str) -> HoldFate {
    let now = wall_ms();
    if hold_gone(error) && now + DEADLINE_SLACK_MS < hold.expires_at_ms {
        HoldFate::Lost(format!(
            "{what} {} ms before its deadline (wall {now}): {error}",
            hold.expires_at_ms - now
        ))
    } else {
        HoldFate::Unknown
    }
}

async fn release(ctx: &Ctx, st: &mut Station, hold: &HoldInfo) -> HoldFate {
    let give_up = ctx.now() + KIOSK_GIVE_UP_MS;
    let mut retried = false;
    loop {
        let answer = st.client.release(hold.hold_id).await;
        if let Err(e) = &answer {
            trace(ctx, "a kiosk", "release", &st.client, e);
            st.after(ctx, e).await;
        }
        match answer {
            Ok(()) => {
                return HoldFate::Released;
            }
            Err(e) if transient(&e) && ctx.now() < give_up => {
                retried = true;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) if transient(&e) => return HoldFate::Unknown,
            // A retried release told "no such hold" may be its own first attempt.
            Err(e) if retried && hold_gone(&e) => return HoldFate::Unknown,
            Err(e) => {
                return judge_gone(
                    hold,
                    &e,
                    &format!("release at node {}", node_of(&st.client)),
                )
            }
        }
    }
}

async fn refund(ctx: &Ctx, st: &mut Station, code: String) {
    let give_up = ctx.now() + KIOSK_GIVE_UP_MS;
    let mut retried = false;
    let outcome = loop {
        let sent = ctx.now();
        let answer = st.client.cancel(&code, true, "chaos refund").await;
        if let Err(e) = &answer {
            trace(
                ctx,
                "a kiosk",
                &format!("refund sent at {sent}"),
                &st.client,
                e,
            );
            st.after(ctx, e).await;
        }
        match answer {
            Ok(_) => {
                if std::env::var_os("CHAOS_TRACE").is_some() {
                    eprintln!("chaos-trace: {:>7} ms refunded (sent at {sent})", ctx.now());
                }
                break CancelOutcome::Done;
            }
            Err(e) if transient(&e) && ctx.now() < give_up => {
                retried = true;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) if transient(&e) => break CancelOutcome::Unknown,
            // A retried refund told "already cancelled" may be its own first attempt.
            Err(Error::Conflict { .. }) if retried => break CancelOutcome::Unknown,
            Err(e) => break CancelOutcome::Refused(e.to_string()),
        }
    };
    ctx.history.lock().cancels.push(CancelRec { code, outcome });
}

/// Holds and releases one seat every few ms; each hold that succeeds is a write that succeeded.
pub async fn probe(ctx: Ctx, token: String) {
    let Some(mut st) = Station::open(&ctx, &token, 400).await else {
        return;
    };
    let mut n = 0u64;
    while !ctx.stopped() {
        n += 1;
        let sent = ctx.now();
        let selection = SeatSelection::Best {
            count: 1,
            category: None,
        };
        match st
            .client
            .hold_with_key(ctx.show_id, selection, &format!("probe-{n}"))
            .await
        {
            Ok(hold) => {
                ctx.hold_ok(sent);
                let _ = st.client.release(hold.hold_id).await;
            }
            Err(e) => st.after(&ctx, &e).await,
        }
        tokio::time::sleep(Duration::from_millis(PROBE_INTERVAL_MS)).await;
    }
}
