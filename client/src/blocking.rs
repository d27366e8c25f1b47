//! A blocking facade for kiosk code that is not async.
//!
//! [`Client`] owns a small Tokio runtime (one worker thread) that drives the connection; each
//! method blocks the calling thread until the async call finishes. Clones share the runtime and the
//! connection. Do not use it from inside an async runtime (use [`crate::Client`] there).
//!
//! ```no_run
//! use cinebook_client::blocking::Client;
//! use cinebook_client::ClientConfig;
//!
//! let client = Client::connect(["127.0.0.1:7878"], ClientConfig::default())?;
//! for city in client.list_cities()? {
//!     println!("{} {}", city.id, city.name);
//! }
//! # Ok::<(), cinebook_client::Error>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use cinebook_protocol::types::{
    Booking, Category, City, CityId, HoldId, HoldInfo, Movie, Payment, SeatMap, SeatSelection,
    ShiftReport, ShowFilter, ShowId, ShowSummary, TerminalId, Theater,
};
use cinebook_protocol::{Reply, Request};
use futures::StreamExt;
use tokio::runtime::Runtime;

use crate::{ClientConfig, Error, Pong, Result, SeatUpdate, Welcome};

/// A blocking CineBook client; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Client {
    runtime: Arc<Runtime>,
    inner: crate::Client,
}

impl Client {
    /// Connects like [`crate::Client::connect`], blocking until connected.
    pub fn connect<I, S>(addrs: I, config: ClientConfig) -> Result<Client>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cinebook-client")
            .enable_all()
            .build()
            .map_err(|e| Error::Connect {
                addr: String::new(),
                message: format!("cannot start the client runtime: {e}"),
            })?;
        let inner = runtime.block_on(crate::Client::connect(addrs, config))?;
        Ok(Client {
            runtime: Arc::new(runtime),
            inner,
        })
    }

    /// The async client underneath, for code that mixes both styles.
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// The `Welcome` of the most recent connection.
    pub fn welcome(&self) -> Option<Welcome> {
        self.inner.welcome()
    }

    /// See [`crate::Client::request`].
    pub fn request(&self, request: Request) -> Result<Reply> {
        self.runtime.block_on(self.inner.request(request))
    }

    /// See [`crate::Client::ping`].
    pub fn ping(&self) -> Result<Pong> {
        self.runtime.block_on(self.inner.ping())
    }

    /// See [`crate::Client::list_cities`].
    pub fn list_cities(&self) -> Result<Vec<City>> {
        self.runtime.block_on(self.inner.list_cities())
    }

    /// See [`crate::Client::list_theaters`].
    pub fn list_theaters(&self, city_id: Option<CityId>) -> Result<Vec<Theater>> {
        self.runtime.block_on(self.inner.list_theaters(city_id))
    }

    /// See [`crate::Client::list_movies`].
    pub fn list_movies(&self, city_id: Option<CityId>) -> Result<Vec<Movie>> {
        self.runtime.block_on(self.inner.list_movies(city_id))
    }

    /// See [`crate::Client::list_shows`].
    pub fn list_shows(&self, filter: ShowFilter) -> Result<Vec<ShowSummary>> {
        self.runtime.block_on(self.inner.list_shows(filter))
    }

    /// See [`crate::Client::seat_map`].
    pub fn seat_map(&self, show_id: ShowId) -> Result<SeatMap> {
        self.runtime.block_on(self.inner.seat_map(show_id))
    }

    /// See [`crate::Client::hold`].
    pub fn hold(&self, show_id: ShowId, selection: SeatSelection) -> Result<HoldInfo> {
        self.runtime.block_on(self.inner.hold(show_id, selection))
    }

    /// See [`crate::Client::renew`].
    pub fn renew(&self, hold_id: HoldId) -> Result<HoldInfo> {
        self.runtime.block_on(self.inner.renew(hold_id))
    }

    /// See [`crate::Client::release`].
    pub fn release(&self, hold_id: HoldId) -> Result<()> {
        self.runtime.block_on(self.inner.release(hold_id))
    }

    /// See [`crate::Client::confirm`].
    pub fn confirm(
        &self,
        hold_id: HoldId,
        payment: Payment,
        idempotency_key: &str,
    ) -> Result<Booking> {
        self.runtime
            .block_on(self.inner.confirm(hold_id, payment, idempotency_key))
    }

    /// See [`crate::Client::cancel`].
    pub fn cancel(&self, code: &str, refund: bool, reason: &str) -> Result<Booking> {
        self.runtime
            .block_on(self.inner.cancel(code, refund, reason))
    }

    /// See [`crate::Client::booking`].
    pub fn booking(&self, code: &str) -> Result<Booking> {
        self.runtime.block_on(self.inner.booking(code))
    }

    /// See [`crate::Client::list_bookings`].
    pub fn list_bookings(&self, show_id: ShowId) -> Result<Vec<Booking>> {
        self.runtime.block_on(self.inner.list_bookings(show_id))
    }

    /// See [`crate::Client::shift_report`].
    pub fn shift_report(
        &self,
        terminal_id: Option<TerminalId>,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<ShiftReport> {
        self.runtime
            .block_on(self.inner.shift_report(terminal_id, from_ms, to_ms))
    }

    /// See [`crate::Client::availability`].
    pub fn availability(
        &self,
        show_id: ShowId,
        category: Option<Category>,
    ) -> Result<Vec<(Category, u32)>> {
        self.runtime
            .block_on(self.inner.availability(show_id, category))
    }

    /// See [`crate::Client::subscribe`]; the subscription is an [`Iterator`].
    pub fn subscribe(&self, show_id: ShowId) -> Subscription {
        let _entered = self.runtime.enter();
        Subscription {
            runtime: self.runtime.clone(),
            inner: self.inner.subscribe(show_id),
        }
    }
}

/// A blocking [`crate::Subscription`]: iterate to wait for the next [`SeatUpdate`].
#[derive(Debug)]
pub struct Subscription {
    runtime: Arc<Runtime>,
    inner: crate::Subscription,
}

impl Subscription {
    /// The next update, or `None` if none arrived within `wait` (or the stream ended).
    pub fn next_timeout(&mut self, wait: Duration) -> Option<Result<SeatUpdate>> {
        let runtime = self.runtime.clone();
        let inner = &mut self.inner;
        // The timer must be created inside the runtime.
        runtime
            .block_on(async move { tokio::time::timeout(wait, inner.next()).await })
            .ok()
            .flatten()
    }
}

impl Iterator for Subscription {
    type Item = Result<SeatUpdate>;

    fn next(&mut self) -> Option<Self::Item> {
        let runtime = self.runtime.clone();
        runtime.block_on(self.inner.next())
    }
}
