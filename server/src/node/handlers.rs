//! One function per request: reads from the snapshots, writes through the workers and the writer.

use std::sync::Arc;

use cinebook_protocol::types::{
    Booking, Category, Contact, HoldId, Payment, Role, SeatMap, SeatSelection, ShowFilter, ShowId,
    ShowSummary, TerminalId,
};
use cinebook_protocol::{ErrorBody, ErrorCode, Reply, Request};

use super::catalog::CatalogChange;
use super::catalog_write::Written;
use super::outcomes::{self, Registration};
use super::{auth, now_ms, Catalog, Node, ShowSlot};
use crate::domain::{Command, DomainError, HoldSpec, SaleRequest, SaleResult, ShowInput};

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

/// Longest reason of `BlockSeatsWithReason`, in bytes.
pub const BLOCK_REASON_MAX_BYTES: usize = 200;

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
    if auth::is_write(&request) && !crate::cluster::leader::await_leading(node).await {
        let leader = node.leader_addr();
        let message = match &leader {
            Some(addr) => format!("this node follows; the leader is {addr}"),
            None => "this node follows and no leader is known yet; retry shortly".to_owned(),
        };
        return Err(ErrorBody::new(ErrorCode::NotLeader { leader }, message));
    }
    super::validate::request(&request)?;
    match request {
        Request::Ping { nonce } => Ok(Reply::Pong {
            nonce,
            server_time_ms: now_ms(),
        }),
        Request::ListCities => super::pages::unpaged(
            node,
            Reply::Cities(node.catalog().cities.values().cloned().collect()),
        ),
        Request::ListTheaters { city_id } => super::pages::unpaged(
            node,
            Reply::Theaters(
                node.catalog()
                    .theaters
                    .values()
                    .filter(|t| city_id.is_none_or(|c| t.city_id == c))
                    .cloned()
                    .collect(),
            ),
        ),
        Request::ListMovies { city_id } => {
            super::pages::unpaged(node, Reply::Movies(node.catalog().movies_in(city_id)))
        }
        Request::ListShows(filter) => {
            super::pages::unpaged(node, Reply::Shows(list_shows(node, &filter)))
        }
        Request::ListPage(page) => super::pages::list_page(node, page).await,
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
        } => {
            crate::cluster::leader::may_grant(node)?;
            let held = hold(node, caller, show_id, selection, idempotency_key).await?;
            crate::cluster::leader::replicated(node, held).await
        }
        Request::Renew { hold_id } => {
            crate::cluster::leader::may_grant(node)?;
            let renewed = on_hold(node, caller, hold_id, |hold_id, terminal_id| {
                Command::Renew {
                    hold_id,
                    terminal_id,
                }
            })
            .await?;
            crate::cluster::leader::replicated(node, renewed).await
        }
        Request::Release { hold_id } => {
            if let Some(order_id) = pinned_order(node, caller, hold_id) {
                // Pinned to its payment order: only the payment path may give it back.
                return super::payments::release::release_unpaid(node, caller, hold_id, order_id)
                    .await;
            }
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
        } => {
            confirm(
                node,
                caller,
                hold_id,
                payment,
                idempotency_key,
                Contact::default(),
            )
            .await
        }
        Request::ConfirmWithContact {
            hold_id,
            payment,
            idempotency_key,
            contact,
        } => confirm(node, caller, hold_id, payment, idempotency_key, contact).await,
        Request::Cancel {
            code,
            refund,
            reason,
        } => {
            let booking = get_booking(node, caller, &code)?;
            super::durable::cancel(node, caller, booking, refund, reason).await
        }
        Request::RefundSeats {
            code,
            seats,
            reason,
        } => super::refund_seats::refund_seats(node, caller, code, seats, reason).await,
        Request::GetBooking { code } => get_booking(node, caller, &code).map(Reply::Booking),
        Request::CreatePaymentOrder {
            hold_id,
            idempotency_key,
        } => super::payments::create_order(
            node,
            caller,
            hold_id,
            idempotency_key,
            Contact::default(),
        )
        .await
        .map(Reply::PaymentOrder),
        Request::CreatePaymentOrderWithContact {
            hold_id,
            idempotency_key,
            contact,
        } => super::payments::create_order(node, caller, hold_id, idempotency_key, contact)
            .await
            .map(Reply::PaymentOrder),
        Request::CancelShow { show_id, reason } => {
            super::cancel_show::cancel_show(node, caller, show_id, reason)
                .await
                .map(Reply::ShowCancelled)
        }
        Request::VerifyCheckout {
            order_id,
            payment_id,
            signature,
        } => super::payments::verify_checkout(node, caller, order_id, payment_id, signature)
            .await
            .map(Reply::PaymentOrder),
        Request::PaymentStatus { order_id } => super::payments::status(node, caller, order_id)
            .await
            .map(Reply::PaymentOrder),
        Request::ListBookings { show_id } => {
            let slot = show_slot(node, show_id)?;
            let bookings = slot.read().bookings().cloned().collect();
            super::pages::unpaged(node, Reply::Bookings(bookings))
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
        Request::UpsertCity(city) => {
            let write = node.store.upsert_city(&city);
            admin_write(node, || Ok(()), write, CatalogChange::City(city.clone())).await
        }
        Request::UpsertTheater(theater) => {
            let write = node.store.upsert_theater(&theater);
            let change = CatalogChange::Theater(theater.clone());
            admin_write(node, || Ok(()), write, change).await
        }
        Request::UpsertMovie(movie) => {
            let write = node.store.upsert_movie(&movie);
            admin_write(node, || Ok(()), write, CatalogChange::Movie(movie.clone())).await
        }
        Request::UpsertScreen(screen) => {
            crate::domain::Layout::new(&screen).map_err(|e| invalid(e.to_string()))?;
            let check = || super::layout_change::check_screen(node, &screen);
            let write = node.store.upsert_screen(&screen);
            admin_write(node, check, write, CatalogChange::Screen(screen.clone())).await
        }
        Request::UpsertShow(show) => {
            crate::domain::Pricing::new(&show).map_err(|e| invalid(e.to_string()))?;
            let catalog = node.catalog();
            if !catalog.screens.contains_key(&show.screen_id)
                || !catalog.movies.contains_key(&show.movie_id)
            {
                return Err(invalid("a show needs an existing screen and movie"));
            }
            let check = || super::layout_change::check_show(node, &show);
            let notices = super::reschedule::notices(node, &catalog, &show);
            let write = node.store.upsert_show_announced(&show, &notices);
            admin_write(node, check, write, CatalogChange::Show(show.clone())).await
        }
        Request::BlockSeats {
            show_id,
            seats,
            blocked,
        } => {
            let slot = show_slot(node, show_id)?;
            super::durable::block_seats(node, caller, slot, seats, blocked, None).await
        }
        Request::BlockSeatsWithReason {
            show_id,
            seats,
            blocked,
            reason,
        } => {
            if reason.trim().is_empty() || reason.len() > BLOCK_REASON_MAX_BYTES {
                return Err(invalid(format!(
                    "a reason has 1..={BLOCK_REASON_MAX_BYTES} bytes"
                )));
            }
            let slot = show_slot(node, show_id)?;
            super::durable::block_seats(node, caller, slot, seats, blocked, Some(reason)).await
        }
        Request::GetTicket { code } => super::door::ticket(node, caller, &code).map(Reply::Ticket),
        Request::TicketKey => Ok(Reply::TicketKey(super::door::key(node))),
        Request::Scan {
            ticket,
            gate,
            place,
        } => super::door::scan(node, caller, &ticket, &gate, &place)
            .await
            .map(Reply::Scan),
        Request::ReportAdmissions { admissions } => super::door::report(node, caller, admissions)
            .await
            .map(Reply::AdmissionsReported),
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
            let all = Reply::Terminals(all.iter().map(|t| t.view()).collect());
            super::pages::unpaged(node, all)
        }
        Request::RevokeTerminal { terminal_id } => {
            node.store_call(node.store.revoke_terminal(terminal_id))
                .await?;
            node.forget_terminals();
            Ok(Reply::Done)
        }
        Request::AuditTrail { show_id } => {
            show_slot(node, show_id)?;
            let trail = node.store_call(node.store.audit_trail(show_id)).await?;
            super::pages::unpaged(node, Reply::AuditTrail(trail))
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
        Request::ReplicaAck {
            node_id,
            positions,
            taking_over,
        } => crate::cluster::leader::on_ack(node, caller, node_id, &positions, taking_over).await,
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

/// This node's `NodeStatus` answer.
pub fn node_status_of(node: &Node) -> Reply {
    node_status(node)
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

/// An admin catalog write through the node's one serialised write path; `check` runs under
/// its lock, just before the write.
async fn admin_write(
    node: &Arc<Node>,
    check: impl FnOnce() -> Result<(), ErrorBody>,
    write: impl std::future::Future<Output = Result<(), crate::store::StoreError>>,
    change: CatalogChange,
) -> Answer {
    node.write_catalog(
        async {
            check()?;
            node.store_call(write).await
        },
        |_| Written::Item(change),
    )
    .await?;
    Ok(Reply::Done)
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
        let state = slot.read();
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
    let command = hold_command(node, caller, &slot, selection, idempotency_key)?;
    // A retry with the same key and selection makes no hold: the output names the original.
    let output = node
        .run_input(slot, ShowInput::Command(command))
        .await?
        .map_err(|e| e.to_wire())?;
    held_reply(output)
}

/// The `Hold` command for a request, or `SoldOut` at once when the show's free-seat counters say
/// there cannot be enough seats (without the show's mutex).
pub(super) fn hold_command(
    node: &Node,
    caller: &Caller,
    slot: &ShowSlot,
    selection: SeatSelection,
    idempotency_key: Option<String>,
) -> Result<Command, ErrorBody> {
    let show_id = slot.show_id;
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
    // A keyed request may be the retry of a hold that took the last seats: the show decides.
    if idempotency_key.is_none()
        && wanted > 0
        && free < wanted
        && slot.next_deadline_ms() > now_ms()
    {
        return Err(ErrorBody::new(
            ErrorCode::SoldOut,
            format!("{wanted} seats wanted, {free} free"),
        ));
    }
    Ok(Command::Hold {
        hold_id: node.next_hold_id(),
        terminal_id: caller.terminal_id,
        spec,
        idempotency_key,
        sales_close_at_ms: super::sales_window::close_at_ms(node, caller.role, show_id),
    })
}

/// The answer to a hold from the show core's output.
pub(super) fn held_reply(output: crate::domain::ShowOutput) -> Answer {
    output
        .hold
        .map(Reply::Held)
        .ok_or_else(|| ErrorBody::new(ErrorCode::Internal, "hold vanished"))
}

/// The payment order a hold of `caller`'s is pinned to, if any.
/// The payment order a hold of the caller's waits for, if any (its release goes through the
/// payment path, `payments::release`).
pub(super) fn pinned_order(node: &Node, caller: &Caller, hold_id: HoldId) -> Option<u64> {
    let slot = node.show_of_hold(hold_id)?;
    let state = slot.read();
    let hold = state.hold(hold_id)?;
    if hold.terminal_id != caller.terminal_id || hold.sale.is_some() {
        return None;
    }
    hold.payment_order
}

async fn on_hold(
    node: &Arc<Node>,
    caller: &Caller,
    hold_id: HoldId,
    command: impl FnOnce(HoldId, TerminalId) -> Command + Send + 'static,
) -> Answer {
    let slot = node
        .show_of_hold(hold_id)
        .ok_or_else(|| node.hold_not_open(hold_id))?;
    let input = ShowInput::Command(command(hold_id, caller.terminal_id));
    on_hold_reply(node, hold_id, node.run_input(slot, input).await?)
}

/// The answer to a renew or release from the show core's output.
pub(super) fn on_hold_reply(
    node: &Node,
    hold_id: HoldId,
    output: Result<crate::domain::ShowOutput, DomainError>,
) -> Answer {
    let output = output.map_err(|e| match e {
        // Expired or sold between the lookup and the command.
        DomainError::HoldNotFound(_) => node.hold_not_open(hold_id),
        e => e.to_wire(),
    })?;
    Ok(match output.hold {
        Some(hold) => Reply::Held(hold),
        None => Reply::Released { hold_id },
    })
}

async fn confirm(
    node: &Arc<Node>,
    caller: &Caller,
    hold_id: HoldId,
    payment: Payment,
    key: String,
    contact: Contact,
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
    confirm_sale(node, caller, hold_id, payment, key, contact).await
}

/// Sells a hold for `caller`: the confirm's path after its checks, and the payment path's once
/// the gateway captured a payment (`node::payments`, with `PaymentMethod::Gateway`, which no
/// terminal may send).
pub(crate) async fn confirm_sale(
    node: &Arc<Node>,
    caller: &Caller,
    hold_id: HoldId,
    payment: Payment,
    key: String,
    contact: Contact,
) -> Answer {
    let terminal_id = caller.terminal_id;
    // A retry of a committed confirm finds its booking by key, even after the hold is gone.
    if let Some(answer) = confirmed_before(node, caller, hold_id, &key) {
        return answer;
    }
    let slot = node
        .show_of_hold(hold_id)
        .ok_or_else(|| node.hold_not_open(hold_id))?;
    let sale_key = (terminal_id, key.clone());
    let ticket = match node
        .outcomes
        .register(sale_key.clone(), hold_id, slot.show_id)
    {
        Registration::InProgress {
            hold_id: other,
            phase,
            ..
        } => {
            if other != hold_id {
                return Err(key_used_elsewhere(&key, other));
            }
            // A retry while the first attempt is being committed or resolved: its answer.
            let booking = outcomes::wait(phase, node.config.outcome_wait_ms, true).await?;
            return Ok(Reply::Booking(booking));
        }
        Registration::New(ticket) => ticket,
    };
    // The first attempt may have been settled between the lookup above and the registration.
    if let Some(answer) = confirmed_before(node, caller, hold_id, &key) {
        ticket.settle(answer.clone().and_then(|r| match r {
            Reply::Booking(b) => Ok(b),
            _ => Err(ErrorBody::new(ErrorCode::Internal, "not a booking")),
        }));
        return answer;
    }
    let request = SaleRequest {
        hold_id,
        terminal_id,
        payment,
        idempotency_key: key,
        code_seed: rand::random(),
        sales_close_at_ms: super::sales_window::close_at_ms(node, caller.role, slot.show_id),
        node_id: node.config.node_id,
    };
    let begun = match node
        .run_input(slot.clone(), ShowInput::BeginSale(request))
        .await
    {
        Ok(Ok(output)) => output
            .sale
            .ok_or_else(|| ErrorBody::new(ErrorCode::Internal, "no sale begun")),
        Ok(Err(DomainError::HoldNotFound(_))) => Err(node.hold_not_open(hold_id)),
        Ok(Err(e)) => Err(e.to_wire()),
        Err(e) => Err(e),
    };
    let intent = match begun {
        Ok(intent) => intent,
        Err(e) => {
            ticket.settle(Err(e.clone()));
            return Err(e);
        }
    };
    let Some((_, phase)) = node.outcomes.watch(&sale_key) else {
        return Err(ErrorBody::new(
            ErrorCode::Internal,
            "a registered sale vanished",
        ));
    };
    let job = super::writer::SaleJob {
        slot,
        intent,
        ticket,
        codes_tried: 1,
        span: tracing::Span::current(),
        contact,
    };
    if let Err(e) = node.sales.try_send(job) {
        let job = match e {
            tokio::sync::mpsc::error::TrySendError::Full(job)
            | tokio::sync::mpsc::error::TrySendError::Closed(job) => job,
        };
        let unpinned =
            super::resolver::settle(node, &job.slot, &job.intent, SaleResult::Failed).await;
        let error = match unpinned {
            Err(e) if e.code == ErrorCode::Internal => e,
            _ => ErrorBody::new(
                ErrorCode::Overloaded,
                "too many sales waiting for the database; retry with the same key",
            ),
        };
        job.ticket.settle(Err(error.clone()));
        return Err(error);
    }
    // The writer answers within the store's timeout; past it the outcome is unknown anyway.
    let wait_ms = node.config.store_timeout_ms + node.config.outcome_wait_ms;
    let booking = outcomes::wait(phase, wait_ms, false).await?;
    Ok(Reply::Booking(booking))
}

/// The answer for a confirm whose key already sold a booking: the booking, or `Conflict` if it
/// was for another hold.
fn confirmed_before(node: &Node, caller: &Caller, hold_id: HoldId, key: &str) -> Option<Answer> {
    let (code, sold_hold) = node.booking_for_key(caller.terminal_id, key)?;
    if let Some(other) = sold_hold.filter(|h| *h != hold_id) {
        return Some(Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!(
                "idempotency key {key:?} already confirmed another hold ({other}, booking {code})"
            ),
        )));
    }
    Some(get_booking(node, caller, &code).map(Reply::Booking))
}

fn key_used_elsewhere(key: &str, other: HoldId) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Conflict,
        format!("idempotency key {key:?} is confirming another hold ({other})"),
    )
}

pub(crate) fn get_booking(node: &Node, caller: &Caller, code: &str) -> Result<Booking, ErrorBody> {
    let show_id = node
        .show_of_booking(code)
        .ok_or_else(|| not_found(format_args!("booking {code}")))?;
    let slot = show_slot(node, show_id)?;
    let booking = slot
        .read()
        .booking(code)
        .cloned()
        .ok_or_else(|| not_found(format_args!("booking {code}")))?;
    if matches!(caller.role, Role::Kiosk | Role::Web) && booking.terminal_id != caller.terminal_id {
        // A kiosk or the web sees only its own sales; don't reveal that the code exists.
        return Err(not_found(format_args!("booking {code}")));
    }
    Ok(booking)
}
