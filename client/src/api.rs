//! One typed method per request.

use cinebook_protocol::types::{
    Booking, Category, City, HoldId, HoldInfo, Movie, Payment, Role, Screen, ScreenId, SeatId,
    SeatMap, SeatSelection, ShiftReport, Show, ShowId, TerminalId, Theater,
};
use cinebook_protocol::{Reply, Request};

use crate::backoff::{new_idempotency_key, random_u64};
use crate::{Client, Error, Result, Subscription};

/// The answer to [`Client::ping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pong {
    /// The nonce sent.
    pub nonce: u64,
    /// The server's wall-clock time, ms since the Unix epoch.
    pub server_time_ms: u64,
}

/// A terminal just created by [`Client::add_terminal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTerminal {
    /// Its id.
    pub terminal_id: TerminalId,
    /// Its bearer token, shown only this once.
    pub token: String,
}

macro_rules! expect {
    ($reply:expr, $name:literal, $pattern:pat => $value:expr) => {
        match $reply {
            $pattern => Ok($value),
            other => Err(Error::UnexpectedReply {
                request: $name,
                got: format!("{other:?}"),
            }),
        }
    };
}

impl Client {
    /// Liveness check with a random nonce; checks that the nonce comes back.
    pub async fn ping(&self) -> Result<Pong> {
        self.ping_nonce(random_u64()).await
    }

    /// Liveness check with a chosen nonce.
    pub async fn ping_nonce(&self, nonce: u64) -> Result<Pong> {
        let reply = self.request(Request::Ping { nonce }).await?;
        let pong = expect!(reply, "ping", Reply::Pong { nonce, server_time_ms } => Pong { nonce, server_time_ms })?;
        if pong.nonce != nonce {
            return Err(Error::UnexpectedReply {
                request: "ping",
                got: format!("nonce {} for {nonce}", pong.nonce),
            });
        }
        Ok(pong)
    }

    /// A show's seat map: layout, prices and every seat's state.
    pub async fn seat_map(&self, show_id: ShowId) -> Result<SeatMap> {
        let reply = self.request(Request::GetSeatMap { show_id }).await?;
        expect!(reply, "get_seat_map", Reply::SeatMap(v) => v)
    }

    /// Holds seats, all or nothing, with a fresh idempotency key (so that a retry after a lost
    /// connection returns the same hold instead of a second one).
    pub async fn hold(&self, show_id: ShowId, selection: SeatSelection) -> Result<HoldInfo> {
        self.hold_with_key(show_id, selection, &new_idempotency_key())
            .await
    }

    /// Holds seats with a caller-chosen idempotency key.
    pub async fn hold_with_key(
        &self,
        show_id: ShowId,
        selection: SeatSelection,
        idempotency_key: &str,
    ) -> Result<HoldInfo> {
        let request = Request::Hold {
            show_id,
            selection,
            idempotency_key: Some(idempotency_key.to_string()),
        };
        let reply = self.request(request).await?;
        expect!(reply, "hold", Reply::Held(v) => v)
    }

    /// Extends a hold's expiry; the answer also carries its seats and total.
    pub async fn renew(&self, hold_id: HoldId) -> Result<HoldInfo> {
        let reply = self.request(Request::Renew { hold_id }).await?;
        expect!(reply, "renew", Reply::Held(v) => v)
    }

    /// Gives a hold's seats back.
    pub async fn release(&self, hold_id: HoldId) -> Result<()> {
        let reply = self.request(Request::Release { hold_id }).await?;
        expect!(reply, "release", Reply::Released { .. } => ())
    }

    /// Turns a hold into a sale; answered only once the sale is durable.
    ///
    /// Make the key with [`crate::new_idempotency_key`] and keep it until this returns: the client
    /// retries with it after failovers, and so may you after a [`Error::Timeout`] — the server
    /// then returns the same booking, never a second one.
    pub async fn confirm(
        &self,
        hold_id: HoldId,
        payment: Payment,
        idempotency_key: &str,
    ) -> Result<Booking> {
        let request = Request::Confirm {
            hold_id,
            payment,
            idempotency_key: idempotency_key.to_string(),
        };
        let reply = self.request(request).await?;
        expect!(reply, "confirm", Reply::Booking(v) => v)
    }

    /// [`Client::confirm`] with the customer's contact (e-mail, phone): the booking keeps it
    /// and the node sends the ticket there. An empty contact is a plain confirm.
    pub async fn confirm_with_contact(
        &self,
        hold_id: HoldId,
        payment: Payment,
        idempotency_key: &str,
        contact: cinebook_protocol::types::Contact,
    ) -> Result<Booking> {
        if contact.is_empty() {
            return self.confirm(hold_id, payment, idempotency_key).await;
        }
        let request = Request::ConfirmWithContact {
            hold_id,
            payment,
            idempotency_key: idempotency_key.to_string(),
            contact,
        };
        let reply = self.request(request).await?;
        expect!(reply, "confirm", Reply::Booking(v) => v)
    }

    /// Admin: cancels a show, refunding every confirmed booking and telling every customer.
    pub async fn cancel_show(
        &self,
        show_id: ShowId,
        reason: &str,
    ) -> Result<cinebook_protocol::types::ShowCancellation> {
        let request = Request::CancelShow {
            show_id,
            reason: reason.to_string(),
        };
        let reply = self.request(request).await?;
        expect!(reply, "cancel_show", Reply::ShowCancelled(v) => v)
    }

    /// Cancels a booking, freeing its seats; `refund` records a refund of the amount paid.
    pub async fn cancel(&self, code: &str, refund: bool, reason: &str) -> Result<Booking> {
        let request = Request::Cancel {
            code: code.to_string(),
            refund,
            reason: reason.to_string(),
        };
        let reply = self.request(request).await?;
        expect!(reply, "cancel", Reply::Booking(v) => v)
    }

    /// Looks up a booking by its code.
    pub async fn booking(&self, code: &str) -> Result<Booking> {
        let reply = self
            .request(Request::GetBooking {
                code: code.to_string(),
            })
            .await?;
        expect!(reply, "get_booking", Reply::Booking(v) => v)
    }

    /// Live seat changes of a show: a [`crate::SeatUpdate::Snapshot`] first, then changes; a gap,
    /// a `Resync` push or a reconnect yields a fresh snapshot. Dropping the stream unsubscribes.
    pub fn subscribe(&self, show_id: ShowId) -> Subscription {
        Subscription::start(self.clone(), show_id)
    }

    /// Sales, refunds and comps by payment method for a terminal (`None`: this one) in
    /// `[from_ms, to_ms)`.
    pub async fn shift_report(
        &self,
        terminal_id: Option<TerminalId>,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<ShiftReport> {
        let request = Request::ShiftReport {
            terminal_id,
            from_ms,
            to_ms,
        };
        let reply = self.request(request).await?;
        expect!(reply, "shift_report", Reply::ShiftReport(v) => v)
    }

    /// Admin: creates or updates a city.
    pub async fn upsert_city(&self, city: City) -> Result<()> {
        self.done(Request::UpsertCity(city), "upsert_city").await
    }

    /// Admin: creates or updates a theater.
    pub async fn upsert_theater(&self, theater: Theater) -> Result<()> {
        self.done(Request::UpsertTheater(theater), "upsert_theater")
            .await
    }

    /// Admin: creates or updates a screen and its layout.
    pub async fn upsert_screen(&self, screen: Screen) -> Result<()> {
        self.done(Request::UpsertScreen(screen), "upsert_screen")
            .await
    }

    /// Admin: creates or updates a movie.
    pub async fn upsert_movie(&self, movie: Movie) -> Result<()> {
        self.done(Request::UpsertMovie(movie), "upsert_movie").await
    }

    /// Admin: creates or updates a show.
    pub async fn upsert_show(&self, show: Show) -> Result<()> {
        self.done(Request::UpsertShow(show), "upsert_show").await
    }

    /// Admin: blocks (`blocked: true`) or frees seats of a show.
    pub async fn block_seats(
        &self,
        show_id: ShowId,
        seats: Vec<SeatId>,
        blocked: bool,
    ) -> Result<()> {
        let request = Request::BlockSeats {
            show_id,
            seats,
            blocked,
        };
        self.done(request, "block_seats").await
    }

    /// Admin: creates a terminal and returns its token (shown only once).
    pub async fn add_terminal(&self, name: &str, role: Role) -> Result<NewTerminal> {
        let request = Request::AddTerminal {
            name: name.to_string(),
            role,
        };
        let reply = self.request(request).await?;
        expect!(reply, "add_terminal", Reply::TerminalAdded { terminal_id, token } => NewTerminal { terminal_id, token })
    }

    /// Admin: revokes a terminal's token.
    pub async fn revoke_terminal(&self, terminal_id: TerminalId) -> Result<()> {
        self.done(Request::RevokeTerminal { terminal_id }, "revoke_terminal")
            .await
    }

    /// A screen with its layout.
    pub async fn screen(&self, screen_id: ScreenId) -> Result<Screen> {
        let reply = self.request(Request::GetScreen { screen_id }).await?;
        expect!(reply, "get_screen", Reply::Screen(v) => v)
    }

    /// Free seats per category of a show (`category: None` for all).
    pub async fn availability(
        &self,
        show_id: ShowId,
        category: Option<Category>,
    ) -> Result<Vec<(Category, u32)>> {
        let reply = self
            .request(Request::Availability { show_id, category })
            .await?;
        expect!(reply, "availability", Reply::Availability { free, .. } => free)
    }

    async fn done(&self, request: Request, name: &'static str) -> Result<()> {
        let reply = self.request(request).await?;
        match reply {
            Reply::Done => Ok(()),
            other => Err(Error::UnexpectedReply {
                request: name,
                got: format!("{other:?}"),
            }),
        }
    }
}
