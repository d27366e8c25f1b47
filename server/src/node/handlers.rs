//! One function per request: reads from the snapshots, writes through the workers and the writer.

use std::sync::Arc;

use cinebook_protocol::types::{
    Booking, BookingStatus, Category, HoldId, Payment, Role, SeatMap, SeatSelection, ShowFilter,
    ShowId, ShowSummary, TerminalId,
};
use cinebook_protocol::{ErrorBody, ErrorCode, Reply, Request};
use tokio::sync::oneshot;

use super::{auth, now_ms, Catalog, Node, ShowSlot};
use crate::domain::{booking_code, Command, DomainError, HoldSpec};
use crate::store::CancelRecord;

/// Who is asking.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Role.
    pub role: Role,
    /// Terminal id, 0 for guests.
    pub terminal_id: TerminalId,
    /// For the `Node` role: the peer's node id, bound when it proved the cluster secret.
    pub peer_node_id: Option<u32>,
}

type Answer = Result<Reply, ErrorBody>;

fn not_found(what: impl std::fmt::Display) -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, format!("{what} not found"))
}

fn invalid(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidArgument, message)
}

/// Answers one request (not Hello, Subscribe or Unsubscribe, which the connection handles).
pub async fn handle(node: &Arc<Node>, caller: &Caller, request: Request) -> Answer {
    if !auth::allowed(caller.role, &request) {
        return Err(auth::forbidden(caller.role, request.name()));
    }
    if auth::is_write(&request) && !node.accepts_writes() {
        let leader = node.leader_addr();
        let message = match &leader {
            Some(addr) => format!("this node follows; the leader is {addr}"),
            None => "this node follows and no leader is known yet; retry shortly".to_owned(),
        };
        return Err(ErrorBody::new(ErrorCode::NotLeader { leader }, message));
    }
    match request {
        Request::Ping { nonce } => Ok(Reply::Pong {
            nonce,
            server_time_ms: now_ms(),
        }),
        Request::ListCities => Ok(Reply::Cities(
            node.catalog().cities.values().cloned().collect(),
        )),
        Request::ListTheaters { city_id } => Ok(Reply::Theaters(
            node.catalog()
                .theaters
                .values()
                .filter(|t| city_id.is_none_or(|c| t.city_id == c))
                .cloned()
                .collect(),
        )),
        Request::ListMovies { city_id } => Ok(Reply::Movies(node.catalog().movies_in(city_id))),
        Request::ListShows(filter) => Ok(Reply::Shows(list_shows(node, &filter))),
        Request::GetSeatMap { show_id } => seat_map(node, show_id).map(Reply::SeatMap),
        Request::GetScreen { screen_id } => node
            .catalog()
            .screens
            .get(&screen_id)
            .map(|(s, _)| Reply::Screen(s.clone()))
            .ok_or_else(|| not_found(format_args!("screen {screen_id}"))),
        Request::Availability { show_id, category } => availability(node, show_id, category),
        Request::Hold {
            show_id,
            selection,
            idempotency_key,
        } => hold(node, caller, show_id, selection, idempotency_key).await,
        Request::Renew { hold_id } => {
            on_hold(node, caller, hold_id, |hold_id, terminal_id| {
                Command::Renew {
                    hold_id,
                    terminal_id,
                }
            })
            .await
        }
        Request::Release { hold_id } => {
            on_hold(node, caller, hold_id, |hold_id, terminal_id| {
                Command::Release {
                    hold_id,
                    terminal_id,
                }
            })
            .await
        }
        Request::Confirm {
            hold_id,
            payment,
            idempotency_key,
        } => confirm(node, caller, hold_id, payment, idempotency_key).await,
        Request::Cancel {
            code,
            refund,
            reason,
        } => cancel(node, caller, code, refund, reason).await,
        Request::GetBooking { code } => get_booking(node, caller, &code).map(Reply::Booking),
        Request::ListBookings { show_id } => {
            let slot = show_slot(node, show_id)?;
            let bookings = slot.state.lock().bookings().cloned().collect();
            Ok(Reply::Bookings(bookings))
        }
        Request::ShiftReport {
            terminal_id,
            from_ms,
            to_ms,
        } => {
            let terminal_id = terminal_id.unwrap_or(caller.terminal_id);
            if terminal_id != caller.terminal_id && caller.role != Role::Admin {
                return Err(auth::forbidden(
                    caller.role,
                    "see another terminal's shift report",
                ));
            }
            if from_ms >= to_ms {
                return Err(invalid("from_ms must be before to_ms"));
            }
            node.store_call(node.store.shift_report(terminal_id, from_ms, to_ms))
                .await
                .map(Reply::ShiftReport)
        }
        Request::UpsertCity(city) => admin_write(node, node.store.upsert_city(&city)).await,
        Request::UpsertTheater(theater) => {
            admin_write(node, node.store.upsert_theater(&theater)).await
        }
        Request::UpsertMovie(movie) => admin_write(node, node.store.upsert_movie(&movie)).await,
        Request::UpsertScreen(screen) => {
            crate::domain::Layout::new(&screen).map_err(|e| invalid(e.to_string()))?;
            if screen_has_sales(node, screen.id) {
                return Err(ErrorBody::new(
                    ErrorCode::Conflict,
                    "a show on this screen has sold or held seats; its layout cannot change",
                ));
            }
            admin_write(node, node.store.upsert_screen(&screen)).await
        }
        Request::UpsertShow(show) => {
            crate::domain::Pricing::new(&show).map_err(|e| invalid(e.to_string()))?;
            let catalog = node.catalog();
            if !catalog.screens.contains_key(&show.screen_id)
                || !catalog.movies.contains_key(&show.movie_id)
            {
                return Err(invalid("a show needs an existing screen and movie"));
            }
            if let Some(existing) = catalog.shows.get(&show.id) {
                if existing.screen_id != show.screen_id
                    && screen_has_sales(node, existing.screen_id)
                {
                    return Err(ErrorBody::new(
                        ErrorCode::Conflict,
                        "a show with sold seats cannot move to another screen",
                    ));
                }
            }
            admin_write(node, node.store.upsert_show(&show)).await
        }
        Request::BlockSeats {
            show_id,
            seats,
            blocked,
        } => {
            let slot = show_slot(node, show_id)?;
            node.on_show(slot, move |state, now, lamport| {
                match state.apply(Command::Block { seats, blocked }, now, lamport) {
                    Ok(records) => (Ok(Reply::Done), records),
                    Err(e) => (Err(e.to_wire()), Vec::new()),
                }
            })
            .await?
        }
        Request::AddTerminal { name, role } => {
            crate::cluster::peer_auth::check_terminal_role(role)?;
            if name.is_empty() || name.len() > 128 {
                return Err(invalid("a terminal name has 1..=128 bytes"));
            }
            let token = auth::new_token();
            let terminal_id = node
                .store_call(
                    node.store
                        .add_terminal(&name, role, &auth::token_sha256(&token)),
                )
                .await?;
            Ok(Reply::TerminalAdded { terminal_id, token })
        }
        Request::ListTerminals => {
            let all = node.store_call(node.store.list_terminals()).await?;
            Ok(Reply::Terminals(all.iter().map(|t| t.view()).collect()))
        }
        Request::RevokeTerminal { terminal_id } => {
            node.store_call(node.store.revoke_terminal(terminal_id))
                .await?;
            node.forget_terminals();
            Ok(Reply::Done)
        }
        Request::AuditTrail { show_id } => {
            show_slot(node, show_id)?;
            node.store_call(node.store.audit_trail(show_id))
                .await
                .map(Reply::AuditTrail)
        }
        Request::NodeStatus { .. } => Ok(node_status(node)),
        Request::Election { node_id } => {
            crate::cluster::claims::check_election(node, caller, node_id)?;
            if let Some(cluster) = &node.cluster {
                cluster.notify(crate::cluster::ClusterEvent::Election { from: node_id });
            }
            Ok(node_status(node))
        }
        Request::Coordinator { node_id, epoch, .. } => {
            crate::cluster::claims::check_coordinator(node, caller, node_id, epoch).await?;
            if let Some(cluster) = &node.cluster {
                cluster.notify(crate::cluster::ClusterEvent::Coordinator {
                    leader: node_id,
                    epoch,
                });
            }
            Ok(node_status(node))
        }
        Request::Hello { .. }
        | Request::Subscribe { .. }
        | Request::Unsubscribe { .. }
        | Request::Follow { .. }
        | Request::PeerHello { .. }
        | Request::PeerProof { .. } => Err(ErrorBody::new(
            ErrorCode::Internal,
            "connection-level request reached the handlers",
        )),
    }
}

fn node_status(node: &Node) -> Reply {
    let view = node.cluster.as_ref().map(|c| c.view());
    Reply::NodeStatus {
        node_id: node.config.node_id,
        node_role: node.node_role(),
        leader_id: view.as_ref().and_then(|v| v.leader_id),
        leader_addr: node.leader_addr(),
        epoch: view.map_or(0, |v| v.epoch),
    }
}

fn show_slot(node: &Node, show_id: ShowId) -> Result<Arc<ShowSlot>, ErrorBody> {
    node.show(show_id)
        .ok_or_else(|| not_found(format_args!("show {show_id}")))
}

async fn admin_write(
    node: &Arc<Node>,
    write: impl std::future::Future<Output = Result<(), crate::store::StoreError>>,
) -> Answer {
    // Write, reload and install one at a time: with two in flight, the reload that read the
    // catalog first could be installed last and drop the other's change from the snapshot.
    let _serial = node.catalog_writes.lock().await;
    node.store_call(write).await?;
    let data = node.store_call(node.store.load_catalog()).await?;
    node.install_catalog(Catalog::build(data));
    node.catalog_changed();
    Ok(Reply::Done)
}

fn screen_has_sales(node: &Node, screen_id: u64) -> bool {
    let catalog = node.catalog();
    catalog
        .shows
        .values()
        .filter(|s| s.screen_id == screen_id)
        .any(|s| {
            node.show(s.id).is_some_and(|slot| {
                let state = slot.state.lock();
                state.free_total() as usize + blocked(&state) != state.layout().len()
            })
        })
}

fn blocked(state: &crate::domain::ShowState) -> usize {
    state
        .slots()
        .iter()
        .filter(|s| matches!(s, crate::domain::SlotState::Blocked))
        .count()
}

/// A show's listing line.
pub fn summary(node: &Node, catalog: &Catalog, show_id: ShowId) -> Option<ShowSummary> {
    let show = catalog.shows.get(&show_id)?;
    let (screen, layout) = catalog.screens.get(&show.screen_id)?;
    let theater = catalog.theaters.get(&screen.theater_id);
    Some(ShowSummary {
        show: show.clone(),
        movie_title: catalog
            .movies
            .get(&show.movie_id)
            .map(|m| m.title.clone())
            .unwrap_or_default(),
        theater_id: screen.theater_id,
        theater_name: theater.map(|t| t.name.clone()).unwrap_or_default(),
        city_id: theater.map(|t| t.city_id).unwrap_or_default(),
        screen_name: screen.name.clone(),
        seats_free: node.show(show_id).map(|s| s.free_total()).unwrap_or(0),
        seats_total: layout.len() as u32,
    })
}

fn list_shows(node: &Node, filter: &ShowFilter) -> Vec<ShowSummary> {
    let catalog = node.catalog();
    catalog
        .filter_shows(filter)
        .into_iter()
        .filter_map(|s| summary(node, &catalog, s.id))
        .collect()
}

/// A show's seat map: layout from the catalog snapshot, states copied under the show's lock.
pub fn seat_map(node: &Node, show_id: ShowId) -> Result<SeatMap, ErrorBody> {
    let catalog = node.catalog();
    let slot = show_slot(node, show_id)?;
    let (states, seq, layout) = {
        let state = slot.state.lock();
        (state.seat_states(), state.seq(), state.layout().clone())
    };
    let summary = summary(node, &catalog, show_id)
        .ok_or_else(|| not_found(format_args!("show {show_id}")))?;
    Ok(SeatMap {
        summary,
        seats: layout.seats().to_vec(),
        states,
        seq,
    })
}

fn availability(node: &Node, show_id: ShowId, category: Option<Category>) -> Answer {
    let slot = show_slot(node, show_id)?;
    let free = Category::ALL
        .into_iter()
        .filter(|c| category.is_none_or(|w| w == *c))
        .map(|c| (c, slot.free(c)))
        .collect();
    Ok(Reply::Availability { show_id, free })
}

async fn hold(
    node: &Arc<Node>,
    caller: &Caller,
    show_id: ShowId,
    selection: SeatSelection,
    idempotency_key: Option<String>,
) -> Answer {
    let slot = show_slot(node, show_id)?;
    let spec = match selection {
        SeatSelection::Ids(ids) => HoldSpec::Seats(ids),
        SeatSelection::Labels(labels) => HoldSpec::Labels(labels),
        SeatSelection::Best { count, category } => HoldSpec::Best {
            count: u32::from(count),
            category,
        },
    };
    // Fail fast without the mutex when there cannot be enough free seats.
    let wanted = match &spec {
        HoldSpec::Seats(s) => s.len() as u32,
        HoldSpec::Labels(l) => l.len() as u32,
        HoldSpec::Best { count, .. } => *count,
    };
    let free = match &spec {
        HoldSpec::Best { category, .. } => slot.free(category.unwrap_or(Category::Standard)),
        _ => slot.free_total(),
    };
    if wanted > 0 && free < wanted && slot.next_deadline_ms() > now_ms() {
        return Err(ErrorBody::new(
            ErrorCode::SoldOut,
            format!("{wanted} seats wanted, {free} free"),
        ));
    }
    let hold_id = node.next_hold_id();
    let terminal_id = caller.terminal_id;
    node.on_show(slot, move |state, now, lamport| {
        if let Some(key) = &idempotency_key {
            if let Some(existing) = state.hold_for_key(terminal_id, key) {
                return (Ok(Reply::Held(state.hold_info(existing))), Vec::new());
            }
        }
        let command = Command::Hold {
            hold_id,
            terminal_id,
            spec,
            idempotency_key,
        };
        match state.apply(command, now, lamport) {
            Ok(records) => {
                let info = state.hold(hold_id).map(|h| state.hold_info(h));
                (
                    info.map(Reply::Held)
                        .ok_or_else(|| ErrorBody::new(ErrorCode::Internal, "hold vanished")),
                    records,
                )
            }
            Err(e) => (Err(e.to_wire()), Vec::new()),
        }
    })
    .await?
}

async fn on_hold(
    node: &Arc<Node>,
    caller: &Caller,
    hold_id: HoldId,
    command: impl FnOnce(HoldId, TerminalId) -> Command + Send + 'static,
) -> Answer {
    let slot = node
        .show_of_hold(hold_id)
        .ok_or_else(|| not_found(format_args!("hold {hold_id} (expired, released or sold)")))?;
    let terminal_id = caller.terminal_id;
    node.on_show(slot, move |state, now, lamport| {
        match state.apply(command(hold_id, terminal_id), now, lamport) {
            Ok(records) => {
                let reply = match state.hold(hold_id) {
                    Some(hold) => Reply::Held(state.hold_info(hold)),
                    None => Reply::Released { hold_id },
                };
                (Ok(reply), records)
            }
            Err(e) => (Err(e.to_wire()), Vec::new()),
        }
    })
    .await?
}

async fn confirm(
    node: &Arc<Node>,
    caller: &Caller,
    hold_id: HoldId,
    payment: Payment,
    key: String,
) -> Answer {
    if key.is_empty() || key.len() > 128 {
        return Err(invalid("an idempotency key has 1..=128 bytes"));
    }
    if !auth::may_take(caller.role, payment.method) {
        return Err(auth::forbidden(
            caller.role,
            &format!("take {} payments", payment.method.name()),
        ));
    }
    let terminal_id = caller.terminal_id;
    // A retry of a committed confirm finds its booking by key, even after the hold is gone.
    if let Some((code, sold_hold)) = node.booking_for_key(terminal_id, &key) {
        if sold_hold.is_some_and(|h| h != hold_id) {
            return Err(ErrorBody::new(
                ErrorCode::Conflict,
                format!("idempotency key {key:?} already confirmed another hold (booking {code})"),
            ));
        }
        return get_booking(node, caller, &code).map(Reply::Booking);
    }
    let slot = node.show_of_hold(hold_id).ok_or_else(|| {
        ErrorBody::new(
            ErrorCode::HoldExpired,
            format!("hold {hold_id} is gone: expired, released or never existed"),
        )
    })?;
    let node_id = node.config.node_id;
    let entropy: u64 = rand::random();
    let intent = node
        .on_show(slot.clone(), move |state, now, lamport| {
            let result = state
                .begin_sale(
                    hold_id,
                    terminal_id,
                    payment,
                    key,
                    booking_code(entropy),
                    now,
                    lamport,
                    node_id,
                )
                .map_err(|e| match e {
                    // The hold was there when the confirm arrived; it expired just before this
                    // job ran (the worker expires due holds first). Answer as if the sweeper had
                    // been faster, and as an unknown hold is answered above.
                    DomainError::HoldNotFound(_) => ErrorBody::new(
                        ErrorCode::HoldExpired,
                        format!("hold {hold_id} is gone: expired, released or never existed"),
                    ),
                    e => e.to_wire(),
                });
            (result, Vec::new())
        })
        .await??;
    let (reply, answer) = oneshot::channel();
    let job = super::writer::SaleJob {
        slot: slot.clone(),
        intent,
        reply,
        span: tracing::Span::current(),
    };
    if let Err(e) = node.sales.try_send(job) {
        let job = match e {
            tokio::sync::mpsc::error::TrySendError::Full(job)
            | tokio::sync::mpsc::error::TrySendError::Closed(job) => job,
        };
        slot.state.lock().abort_sale(job.intent.hold_id);
        return Err(ErrorBody::new(
            ErrorCode::Overloaded,
            "too many sales waiting for the database; retry with the same key",
        ));
    }
    let booking = answer.await.map_err(|_| {
        ErrorBody::new(
            ErrorCode::Unavailable,
            "the writer stopped; retry with the same key",
        )
    })??;
    Ok(Reply::Booking(booking))
}

fn get_booking(node: &Node, caller: &Caller, code: &str) -> Result<Booking, ErrorBody> {
    let show_id = node
        .show_of_booking(code)
        .ok_or_else(|| not_found(format_args!("booking {code}")))?;
    let slot = show_slot(node, show_id)?;
    let booking = slot
        .state
        .lock()
        .booking(code)
        .cloned()
        .ok_or_else(|| not_found(format_args!("booking {code}")))?;
    if caller.role == Role::Kiosk && booking.terminal_id != caller.terminal_id {
        // A kiosk sees only its own sales; don't reveal that the code exists.
        return Err(not_found(format_args!("booking {code}")));
    }
    Ok(booking)
}

async fn cancel(
    node: &Arc<Node>,
    caller: &Caller,
    code: String,
    refund: bool,
    reason: String,
) -> Answer {
    let booking = get_booking(node, caller, &code)?;
    if booking.status != BookingStatus::Confirmed {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("booking {code} is already {:?}", booking.status),
        ));
    }
    let slot = show_slot(node, booking.show_id)?;
    let amount = if refund {
        booking.total.clone()
    } else {
        cinebook_protocol::types::Money {
            amount_minor: 0,
            currency: booking.total.currency.clone(),
        }
    };
    let record = CancelRecord {
        code: code.clone(),
        refund,
        amount,
        terminal_id: caller.terminal_id,
        at_ms: now_ms(),
        lamport: node.lamport.tick(),
        node_id: node.config.node_id,
        reason,
    };
    // Durable first; the conditional update in the store refuses a second cancel.
    node.store_call(node.store.commit_cancel(&record)).await?;
    let cancelled = code.clone();
    let applied = node
        .on_show(slot.clone(), move |state, now, lamport| {
            match state.apply(
                Command::Cancel {
                    code: cancelled,
                    refund,
                },
                now,
                lamport,
            ) {
                Ok(records) => (Ok(()), records),
                Err(e) => (Err(e.to_wire()), Vec::new()),
            }
        })
        .await;
    if let Err(queue_full) = applied {
        // Durable already: apply without the queue rather than leave memory behind the store.
        tracing::debug!(error = %queue_full, "cancel applied outside the work queue");
        let mut state = slot.state.lock();
        let records = state
            .apply(
                Command::Cancel {
                    code: code.clone(),
                    refund,
                },
                now_ms(),
                node.lamport.tick(),
            )
            .unwrap_or_default();
        node.after_apply(&slot, &state, &records);
    } else if let Ok(Err(e)) = applied {
        tracing::error!(code = %code, error = %e, "durable cancel did not apply to the seat map");
        return Err(e);
    }
    let booking = get_booking(node, caller, &code)?;
    Ok(Reply::Booking(booking))
}
