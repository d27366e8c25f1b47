//! [`Simulator::start`] and what it hands back: [`SimHandle`] and [`SimControl`].

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::ledger::{ApiError, LedgerSnapshot};
use crate::paying::{CheckoutDeclined, CheckoutPaid};
use crate::sim::Sim;
use crate::switches::{SwitchError, Switches, SwitchesPatch};
use crate::webhook::{self, WebhookRecord};

/// Why a simulator did not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A switch is out of range.
    #[error(transparent)]
    Switch(#[from] SwitchError),
    /// The webhook URL is not an http(s) URL.
    #[error("bad webhook URL: {0}")]
    WebhookUrl(String),
}

/// Only http(s) webhook URLs.
pub(crate) fn check_webhook_url(url: &str) -> Result<(), ApiError> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
        _ => Err(ApiError::bad_field(
            "url",
            "the webhook URL must be an http(s) URL",
        )),
    }
}

/// The simulator.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds `config.listen` and serves until [`SimHandle::shutdown`] (or the handle is dropped).
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        config.switches.check()?;
        if let Some(url) = &config.webhook_url {
            check_webhook_url(url).map_err(|e| SimError::WebhookUrl(e.description))?;
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let (outgoing, inbox) = mpsc::unbounded_channel();
        let sim = Arc::new(Sim::new(config, outgoing, stopped.clone()));
        let dispatcher = tokio::spawn(webhook::dispatch(Arc::clone(&sim), inbox));
        let app = crate::api::router(Arc::clone(&sim));
        let mut until = stopped;
        let server = tokio::spawn(async move {
            let stop = async move {
                let _ = until.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(%error, "simulator server ended");
            }
        });
        tracing::info!(%addr, "paysim listening");
        Ok(SimHandle {
            sim,
            addr,
            stop,
            server: Some(server),
            dispatcher: Some(dispatcher),
        })
    }
}

/// A running simulator.
#[derive(Debug)]
pub struct SimHandle {
    sim: Arc<Sim>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    dispatcher: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`: the REST API's base URL (and the checkout's).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The switches, to flip from tests.
    pub fn control(&self) -> SimControl {
        SimControl {
            sim: Arc::clone(&self.sim),
        }
    }

    /// Where webhooks go from now on (`None`: nowhere).
    pub fn set_webhook_url(&self, url: Option<&str>) -> Result<(), SimError> {
        if let Some(url) = url {
            check_webhook_url(url).map_err(|e| SimError::WebhookUrl(e.description))?;
        }
        *self.sim.webhook_url.lock() = url.map(str::to_owned);
        Ok(())
    }

    /// A copy of the books.
    pub fn ledger(&self) -> LedgerSnapshot {
        self.sim.ledger.lock().snapshot()
    }

    /// Every webhook send so far, and every event dropped or unsent.
    pub fn webhook_log(&self) -> Vec<WebhookRecord> {
        self.sim.webhook_log.lock().clone()
    }

    /// Events emitted and not yet finished with (sent, dropped or given up on).
    pub fn webhooks_pending(&self) -> u64 {
        self.sim.webhooks_pending.load(Ordering::SeqCst)
    }

    /// Waits until no webhook is pending, at most `timeout`; whether that happened.
    pub async fn wait_webhooks_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.webhooks_pending() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Pay on the checkout of `order_id`, as the Pay button does.
    pub fn pay(&self, order_id: &str) -> Result<CheckoutPaid, ApiError> {
        self.sim.pay(order_id)
    }

    /// Decline on the checkout of `order_id`, as the Decline button does.
    pub fn decline(&self, order_id: &str) -> Result<CheckoutDeclined, ApiError> {
        self.sim.decline(order_id)
    }

    /// Stops serving: hung calls end, open connections are let finish, pending webhooks are
    /// abandoned.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(dispatcher) = self.dispatcher.take() {
            dispatcher.abort();
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(dispatcher) = self.dispatcher.take() {
            dispatcher.abort();
        }
    }
}

/// Flips a running simulator's switches.
#[derive(Debug, Clone)]
pub struct SimControl {
    sim: Arc<Sim>,
}

impl SimControl {
    /// The switches now.
    pub fn switches(&self) -> Switches {
        self.sim.switches.lock().clone()
    }

    /// Applies `patch` (all of it, or nothing if a value is out of range); the switches after.
    pub fn apply(&self, patch: SwitchesPatch) -> Result<Switches, SwitchError> {
        let mut switches = self.sim.switches.lock();
        switches.apply(&patch)?;
        Ok(switches.clone())
    }

    /// Replaces every switch.
    pub fn set(&self, switches: Switches) -> Result<(), SwitchError> {
        switches.check()?;
        *self.sim.switches.lock() = switches;
        Ok(())
    }
}
