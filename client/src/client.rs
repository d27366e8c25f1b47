//! [`Client`]: the shared connection, reconnecting with backoff across the address list, following
//! `NotLeader`, and retrying what is safe to retry. The typed methods are in `api.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use cinebook_protocol::{LamportClock, Reply, Request};
use tokio::sync::Mutex;
use tokio::time::{sleep, timeout, timeout_at, Instant};

use crate::backoff;
use crate::conn::Conn;
use crate::{ClientConfig, Error, Result, Welcome};

/// At most this many unresponsive addresses are remembered (the oldest is forgotten first).
const UNRESPONSIVE_REMEMBERED_MAX: usize = 64;

/// An async CineBook client.
///
/// Cloning is cheap: clones share one connection (and its pipelined calls), one Lamport clock and
/// one reconnect state. Every call is bounded by [`ClientConfig::call_timeout_ms`].
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    addrs: Vec<String>,
    clock: Arc<LamportClock>,
    /// The connection new calls use. An async mutex: concurrent callers wait for one reconnect
    /// instead of each opening their own.
    current: Mutex<Option<Arc<Conn>>>,
    /// A leader address learned from `NotLeader`, tried before the list.
    preferred: StdMutex<Option<String>>,
    /// Where the next round through the list starts.
    next_addr: AtomicUsize,
    /// The `Welcome` of the latest connection.
    welcome: StdMutex<Option<Welcome>>,
    /// Addresses found unresponsive, and when (see `unresponsive_avoid_ms`).
    unresponsive: StdMutex<Vec<(String, Instant)>>,
}

impl Client {
    /// Connects to the first reachable address of `addrs` (`HOST:PORT` each), exchanging the
    /// preface and `Hello`. Unreachable addresses are skipped; the whole attempt is bounded by
    /// `call_timeout_ms`.
    pub async fn connect<I, S>(addrs: I, config: ClientConfig) -> Result<Client>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let addrs: Vec<String> = addrs
            .into_iter()
            .map(Into::into)
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        if addrs.is_empty() {
            return Err(Error::NoAddress);
        }
        let client = Client {
            inner: Arc::new(Inner {
                config,
                addrs,
                clock: Arc::new(LamportClock::new(0)),
                current: Mutex::new(None),
                preferred: StdMutex::new(None),
                next_addr: AtomicUsize::new(0),
                welcome: StdMutex::new(None),
                unresponsive: StdMutex::new(Vec::new()),
            }),
        };
        let deadline = Instant::now() + client.inner.config.call_timeout();
        client.connection(deadline).await?;
        Ok(client)
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The `Welcome` of the most recent connection (it changes after a reconnect).
    pub fn welcome(&self) -> Option<Welcome> {
        lock(&self.inner.welcome).clone()
    }

    /// This client's Lamport time.
    pub fn lamport(&self) -> u64 {
        self.inner.clock.now()
    }

    /// Sends any request and returns the raw reply, with the same timeout, retries and leader
    /// following as the typed methods. Prefer those.
    pub async fn request(&self, request: Request) -> Result<Reply> {
        let call_timeout_ms = self.inner.config.call_timeout_ms;
        let deadline = Instant::now() + self.inner.config.call_timeout();
        match timeout_at(deadline, self.call_until(request, deadline)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout { call_timeout_ms }),
        }
    }

    async fn call_until(&self, request: Request, deadline: Instant) -> Result<Reply> {
        let config = &self.inner.config;
        let repeatable = is_repeatable(&request);
        let mut attempt: u32 = 0;
        let mut redirects: u32 = 0;
        loop {
            let conn = self.connection(deadline).await?;
            let failure = match self.call_watched(&conn, request.clone()).await {
                Ok(reply) => return Ok(reply),
                Err(failure) => failure,
            };
            match &failure.error {
                Error::NotLeader {
                    leader: Some(leader),
                    ..
                } if redirects < config.redirects_max && !self.is_unresponsive(leader) => {
                    redirects += 1;
                    self.follow_leader(&conn, leader).await;
                    continue;
                }
                Error::NotLeader { leader, .. } => {
                    // Out of redirects: back off, then try the leader named last first. During a
                    // failover followers first name the dead leader and later the new one.
                    if let Some(leader) = leader.as_ref().filter(|l| !self.is_unresponsive(l)) {
                        *lock(&self.inner.preferred) = Some(leader.clone());
                    }
                    self.drop_connection(&conn).await
                }
                // A confirm whose outcome the node is still finding out: asking again with the
                // same key gets the booking (or a definite answer) once it knows.
                Error::Unavailable { .. }
                | Error::Overloaded { .. }
                | Error::OutcomeUnknown { .. } => {}
                Error::ConnectionLost { addr, .. } => {
                    if failure.sent && !repeatable {
                        return Err(Error::Indeterminate {
                            request: request.name(),
                            addr: addr.clone(),
                        });
                    }
                    self.drop_connection(&conn).await;
                }
                _ => return Err(failure.error),
            }
            attempt += 1;
            if attempt >= config.attempts_max {
                return Err(failure.error);
            }
            sleep(backoff::delay(
                attempt - 1,
                config.backoff_initial_ms,
                config.backoff_max_ms,
            ))
            .await;
        }
    }

    /// One call on `conn`, watched (`liveness_timeout_ms`): a server that stops answering even
    /// pings gets its connection closed, so the call fails with `ConnectionLost` (and is retried
    /// elsewhere when that is safe) instead of waiting out `call_timeout_ms`.
    async fn call_watched(
        &self,
        conn: &Arc<Conn>,
        request: Request,
    ) -> std::result::Result<Reply, crate::conn::CallFailure> {
        let Some(silence) = self.inner.config.liveness_timeout() else {
            return conn.call(request).await;
        };
        let started = Instant::now();
        tokio::select! {
            biased;
            result = conn.call(request) => result,
            () = conn.unresponsive(started.into_std(), silence) => {
                self.mark_unresponsive(conn.addr());
                Err(crate::conn::CallFailure {
                    error: Error::ConnectionLost {
                        addr: conn.addr().to_string(),
                        message: format!(
                            "no answer, not even to a ping, for {} ms: unresponsive",
                            2 * silence.as_millis()
                        ),
                    },
                    sent: true,
                })
            }
        }
    }

    fn mark_unresponsive(&self, addr: &str) {
        let mut list = lock(&self.inner.unresponsive);
        list.retain(|(a, _)| a != addr);
        if list.len() >= UNRESPONSIVE_REMEMBERED_MAX {
            list.remove(0);
        }
        list.push((addr.to_string(), Instant::now()));
        let mut preferred = lock(&self.inner.preferred);
        if preferred.as_deref() == Some(addr) {
            *preferred = None;
        }
    }

    /// Whether `addr` was found unresponsive within `unresponsive_avoid_ms`.
    fn is_unresponsive(&self, addr: &str) -> bool {
        let avoid = std::time::Duration::from_millis(self.inner.config.unresponsive_avoid_ms);
        let mut list = lock(&self.inner.unresponsive);
        list.retain(|(_, at)| at.elapsed() < avoid);
        list.iter().any(|(a, _)| a == addr)
    }

    /// The connection to use now, opening one if there is none or the last one closed.
    pub(crate) async fn connection(&self, deadline: Instant) -> Result<Arc<Conn>> {
        let call_timeout_ms = self.inner.config.call_timeout_ms;
        let mut current = timeout_at(deadline, self.inner.current.lock())
            .await
            .map_err(|_| Error::Timeout { call_timeout_ms })?;
        let mut avoid = None;
        if let Some(conn) = current.as_ref() {
            if conn.is_usable() {
                return Ok(conn.clone());
            }
            avoid = Some(conn.addr().to_string());
        }
        *current = None;
        let conn = self.connect_any(deadline, avoid.as_deref()).await?;
        *lock(&self.inner.welcome) = Some(conn.welcome().clone());
        *current = Some(conn.clone());
        Ok(conn)
    }

    /// Tries the preferred (leader) address, then each listed address, in rounds with backoff.
    async fn connect_any(&self, deadline: Instant, avoid: Option<&str>) -> Result<Arc<Conn>> {
        let config = &self.inner.config;
        let mut last_error = Error::NoAddress;
        for round in 0..config.attempts_max.max(1) {
            for addr in self.candidates(avoid) {
                let now = Instant::now();
                if now >= deadline {
                    return Err(last_error);
                }
                let limit = config.connect_timeout().min(deadline - now);
                let opened =
                    timeout(limit, Conn::open(&addr, config, self.inner.clock.clone())).await;
                match opened {
                    Ok(Ok(conn)) => return Ok(conn),
                    Ok(Err(error)) if error.is_permanent() => return Err(error),
                    Ok(Err(error)) => last_error = error,
                    Err(_) => {
                        last_error = Error::ConnectTimeout {
                            addr: addr.clone(),
                            connect_timeout_ms: config.connect_timeout_ms,
                        }
                    }
                }
                // A leader we were sent to but cannot reach may no longer be the leader.
                let mut preferred = lock(&self.inner.preferred);
                if preferred.as_deref() == Some(addr.as_str()) {
                    *preferred = None;
                }
            }
            if round + 1 < config.attempts_max {
                let pause = backoff::delay(round, config.backoff_initial_ms, config.backoff_max_ms);
                if Instant::now() + pause >= deadline {
                    return Err(last_error);
                }
                sleep(pause).await;
            }
        }
        Err(last_error)
    }

    /// The order to try addresses in this round: the leader we were sent to, then the list
    /// starting after the last address used, with `avoid` (a node shutting down) last.
    fn candidates(&self, avoid: Option<&str>) -> Vec<String> {
        let addrs = &self.inner.addrs;
        let start = self.inner.next_addr.fetch_add(1, Ordering::Relaxed) % addrs.len();
        let mut order: Vec<String> = lock(&self.inner.preferred).iter().cloned().collect();
        for i in 0..addrs.len() {
            let addr = &addrs[(start + i) % addrs.len()];
            if !order.contains(addr) {
                order.push(addr.clone());
            }
        }
        if let Some(avoid) = avoid {
            if order.len() > 1 {
                if let Some(pos) = order.iter().position(|a| a == avoid) {
                    let addr = order.remove(pos);
                    order.push(addr);
                }
            }
        }
        // Nodes found unresponsive lately go last (stable: the rest keep their order).
        let (stalled, mut live): (Vec<String>, Vec<String>) =
            order.into_iter().partition(|a| self.is_unresponsive(a));
        live.extend(stalled);
        live
    }

    async fn follow_leader(&self, from: &Arc<Conn>, leader: &str) {
        *lock(&self.inner.preferred) = Some(leader.to_string());
        self.drop_connection(from).await;
    }

    /// Stops giving `conn` to new calls (calls and subscriptions already on it keep it alive).
    async fn drop_connection(&self, conn: &Arc<Conn>) {
        let mut current = self.inner.current.lock().await;
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            *current = None;
        }
    }
}

/// Whether a request may be sent again after the connection was lost with it in flight: reads,
/// and writes made idempotent by a key or by their nature.
fn is_repeatable(request: &Request) -> bool {
    match request {
        Request::Hold {
            idempotency_key, ..
        } => idempotency_key.is_some(),
        // A scan sent again would find its own admission and refuse the guest it let in.
        Request::Release { .. }
        | Request::Cancel { .. }
        | Request::AddTerminal { .. }
        | Request::Scan { .. } => false,
        _ => true,
    }
}

fn lock<T>(mutex: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cinebook_protocol::types::{Payment, PaymentMethod, SeatSelection};

    #[test]
    fn only_keyed_or_naturally_idempotent_requests_are_repeated() {
        let confirm = Request::Confirm {
            hold_id: 1,
            payment: Payment {
                method: PaymentMethod::Card,
                amount: cinebook_protocol::types::Money {
                    amount_minor: 100,
                    currency: "EUR".into(),
                },
                reference: None,
            },
            idempotency_key: "k".into(),
        };
        assert!(is_repeatable(&confirm));
        assert!(is_repeatable(&Request::ListCities));
        let hold = |key: Option<&str>| Request::Hold {
            show_id: 1,
            selection: SeatSelection::Best {
                count: 2,
                category: None,
            },
            idempotency_key: key.map(str::to_string),
        };
        assert!(is_repeatable(&hold(Some("k"))));
        assert!(!is_repeatable(&hold(None)));
        assert!(!is_repeatable(&Request::Cancel {
            code: "X".into(),
            refund: true,
            reason: String::new()
        }));
        assert!(!is_repeatable(&Request::Release { hold_id: 1 }));
    }
}
