//! Properties of the frame codec: every message round-trips, any chunking of any byte stream gives
//! the same items and errors as the whole stream at once (and never panics), and the length limits
//! hold exactly, before anything is allocated.

use bytes::{BufMut, BytesMut};
use cinebook_protocol::cluster::*;
use cinebook_protocol::codec::{encode_frame, FRAME_HEADER_BYTES};
use cinebook_protocol::door::*;
use cinebook_protocol::page::*;
use cinebook_protocol::ticket::TicketClaims;
use cinebook_protocol::types::*;
use cinebook_protocol::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use tokio_util::codec::{Decoder, Encoder};

// ---------------------------------------------------------------------------------------------
// Strategies for every message type

/// Integers that hit every varint length: small ones, and any u64.
fn n64() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..300, any::<u64>()]
}

fn n32() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..300, any::<u32>()]
}

fn n16() -> impl Strategy<Value = u16> {
    prop_oneof![0u16..300, any::<u16>()]
}

fn i64s() -> impl Strategy<Value = i64> {
    prop_oneof![-300i64..300, any::<i64>()]
}

/// Short ASCII most of the time, any Unicode (multi-byte UTF-8) some of the time.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[A-Za-z0-9 ./-]{0,12}", 1 => any::<String>()]
}

fn few<T: std::fmt::Debug>(element: impl Strategy<Value = T>) -> impl Strategy<Value = Vec<T>> {
    vec(element, 0..4)
}

fn category() -> impl Strategy<Value = Category> {
    select(Category::ALL.to_vec())
}

fn role() -> impl Strategy<Value = Role> {
    select(vec![
        Role::Guest,
        Role::Kiosk,
        Role::BoxOffice,
        Role::Admin,
        Role::Node,
        Role::Web,
        Role::Door,
    ])
}

fn door_place() -> impl Strategy<Value = DoorPlace> {
    (option::of(n64()), option::of(n64()))
        .prop_map(|(show_id, screen_id)| DoorPlace { show_id, screen_id })
}

fn ticket_claims() -> impl Strategy<Value = TicketClaims> {
    (
        any::<[u8; 4]>(),
        text(),
        (n64(), n64(), n64()),
        few(text()),
        (n64(), n64(), n64()),
    )
        .prop_map(
            |(key_id, code, (show_id, screen_id, starts_at_ms), seats, (from, until, issued))| {
                TicketClaims {
                    key_id,
                    code,
                    show_id,
                    screen_id,
                    starts_at_ms,
                    seats,
                    valid_from_ms: from,
                    valid_until_ms: until,
                    issued_at_ms: issued,
                }
            },
        )
}

fn scan_result() -> impl Strategy<Value = ScanResult> {
    (
        select(vec![
            ScanVerdict::Admitted,
            ScanVerdict::AlreadyAdmitted,
            ScanVerdict::WrongShow,
            ScanVerdict::WrongScreen,
            ScanVerdict::WrongDay,
            ScanVerdict::NotValid,
            ScanVerdict::Duplicate,
        ]),
        text(),
        option::of(text()),
        option::of(booking()),
        option::of(
            (text(), n64(), n64(), n64(), text(), any::<bool>()).prop_map(
                |(code, show_id, at_ms, terminal_id, gate, offline)| Admission {
                    code,
                    show_id,
                    at_ms,
                    terminal_id,
                    gate,
                    offline,
                },
            ),
        ),
    )
        .prop_map(|(verdict, reason, code, booking, admission)| ScanResult {
            verdict,
            reason,
            code,
            booking,
            admission,
        })
}

fn node_role() -> impl Strategy<Value = NodeRole> {
    select(vec![
        NodeRole::Standalone,
        NodeRole::Leader,
        NodeRole::Follower,
    ])
}

fn seat_state() -> impl Strategy<Value = SeatState> {
    select(vec![
        SeatState::Free,
        SeatState::Held,
        SeatState::Sold,
        SeatState::Blocked,
    ])
}

fn payment_method() -> impl Strategy<Value = PaymentMethod> {
    select(vec![
        PaymentMethod::Cash,
        PaymentMethod::Card,
        PaymentMethod::Comp,
        PaymentMethod::Gateway,
    ])
}

fn payment_order_state() -> impl Strategy<Value = PaymentOrderState> {
    select(vec![
        PaymentOrderState::Creating,
        PaymentOrderState::AwaitingPayment,
        PaymentOrderState::Captured,
        PaymentOrderState::Booked,
        PaymentOrderState::RefundPending,
        PaymentOrderState::Refunded,
        PaymentOrderState::Expired,
    ])
}

fn payment_order_info() -> impl Strategy<Value = PaymentOrderInfo> {
    (
        (n64(), n64(), n64(), option::of(text()), money()),
        (option::of(text()), payment_order_state(), n64()),
        (option::of(text()), option::of(text()), option::of(text())),
    )
        .prop_map(
            |(
                (order_id, hold_id, show_id, gateway_order_id, amount),
                (checkout_url, state, window_ends_at_ms),
                (booking_code, payment_id, reason),
            )| PaymentOrderInfo {
                order_id,
                hold_id,
                show_id,
                gateway_order_id,
                amount,
                checkout_url,
                state,
                window_ends_at_ms,
                booking_code,
                payment_id,
                reason,
            },
        )
}

fn booking_status() -> impl Strategy<Value = BookingStatus> {
    select(vec![
        BookingStatus::Confirmed,
        BookingStatus::Cancelled,
        BookingStatus::Refunded,
        BookingStatus::Admitted,
    ])
}

fn change_cause() -> impl Strategy<Value = ChangeCause> {
    select(vec![
        ChangeCause::Held,
        ChangeCause::Released,
        ChangeCause::Expired,
        ChangeCause::Sold,
        ChangeCause::Cancelled,
        ChangeCause::Blocked,
    ])
}

fn money() -> impl Strategy<Value = Money> {
    (i64s(), text()).prop_map(|(amount_minor, currency)| Money {
        amount_minor,
        currency,
    })
}

fn seat() -> impl Strategy<Value = Seat> {
    (n32(), text(), text(), category(), n16(), n16()).prop_map(
        |(id, row, label, category, x, y)| Seat {
            id,
            row,
            label,
            category,
            x,
            y,
        },
    )
}

fn city() -> impl Strategy<Value = City> {
    (n64(), text()).prop_map(|(id, name)| City { id, name })
}

fn theater() -> impl Strategy<Value = Theater> {
    (n64(), n64(), text()).prop_map(|(id, city_id, name)| Theater { id, city_id, name })
}

fn screen() -> impl Strategy<Value = Screen> {
    (n64(), n64(), text(), few(seat())).prop_map(|(id, theater_id, name, seats)| Screen {
        id,
        theater_id,
        name,
        seats,
    })
}

fn movie() -> impl Strategy<Value = Movie> {
    (n64(), text(), n16(), text()).prop_map(|(id, title, runtime_min, rating)| Movie {
        id,
        title,
        runtime_min,
        rating,
    })
}

fn price() -> impl Strategy<Value = Price> {
    (category(), i64s()).prop_map(|(category, amount_minor)| Price {
        category,
        amount_minor,
    })
}

fn show() -> impl Strategy<Value = Show> {
    (n64(), n64(), n64(), n64(), text(), few(price())).prop_map(
        |(id, movie_id, screen_id, starts_at_ms, currency, prices)| Show {
            id,
            movie_id,
            screen_id,
            starts_at_ms,
            currency,
            prices,
        },
    )
}

fn show_summary() -> impl Strategy<Value = ShowSummary> {
    (show(), text(), n64(), text(), n64(), text(), n32(), n32()).prop_map(
        |(
            show,
            movie_title,
            theater_id,
            theater_name,
            city_id,
            screen_name,
            seats_free,
            seats_total,
        )| ShowSummary {
            show,
            movie_title,
            theater_id,
            theater_name,
            city_id,
            screen_name,
            seats_free,
            seats_total,
        },
    )
}

fn show_filter() -> impl Strategy<Value = ShowFilter> {
    (
        option::of(n64()),
        option::of(n64()),
        option::of(n64()),
        option::of(n64()),
        option::of(n64()),
    )
        .prop_map(
            |(city_id, movie_id, theater_id, from_ms, to_ms)| ShowFilter {
                city_id,
                movie_id,
                theater_id,
                from_ms,
                to_ms,
            },
        )
}

fn seat_map() -> impl Strategy<Value = SeatMap> {
    (show_summary(), few(seat()), few(seat_state()), n64()).prop_map(
        |(summary, seats, states, seq)| SeatMap {
            summary,
            seats,
            states,
            seq,
        },
    )
}

fn seat_selection() -> impl Strategy<Value = SeatSelection> {
    prop_oneof![
        few(n32()).prop_map(SeatSelection::Ids),
        few(text()).prop_map(SeatSelection::Labels),
        (n16(), option::of(category()))
            .prop_map(|(count, category)| SeatSelection::Best { count, category }),
    ]
}

fn hold_info() -> impl Strategy<Value = HoldInfo> {
    (n64(), n64(), few(n32()), few(text()), n64(), money()).prop_map(
        |(hold_id, show_id, seats, labels, expires_at_ms, total)| HoldInfo {
            hold_id,
            show_id,
            seats,
            labels,
            expires_at_ms,
            total,
        },
    )
}

fn payment() -> impl Strategy<Value = Payment> {
    (payment_method(), money(), option::of(text())).prop_map(|(method, amount, reference)| {
        Payment {
            method,
            amount,
            reference,
        }
    })
}

fn booked_seat() -> impl Strategy<Value = BookedSeat> {
    (n32(), text(), category(), i64s()).prop_map(|(seat_id, label, category, price_minor)| {
        BookedSeat {
            seat_id,
            label,
            category,
            price_minor,
        }
    })
}

fn booking() -> BoxedStrategy<Booking> {
    (
        (text(), n64(), few(booked_seat()), money(), payment()),
        (booking_status(), n64(), n64(), n64(), n32()),
    )
        .prop_map(
            |(
                (code, show_id, seats, total, payment),
                (status, terminal_id, sold_at_ms, lamport, node_id),
            )| Booking {
                code,
                show_id,
                seats,
                total,
                payment,
                status,
                terminal_id,
                sold_at_ms,
                lamport,
                node_id,
            },
        )
        .boxed()
}

fn method_totals() -> impl Strategy<Value = MethodTotals> {
    (payment_method(), n32(), n32(), i64s(), n32(), i64s()).prop_map(
        |(method, sales, seats, sales_minor, refunds, refunds_minor)| MethodTotals {
            method,
            sales,
            seats,
            sales_minor,
            refunds,
            refunds_minor,
        },
    )
}

fn shift_report() -> impl Strategy<Value = ShiftReport> {
    (n64(), n64(), n64(), text(), few(method_totals())).prop_map(
        |(terminal_id, from_ms, to_ms, currency, lines)| ShiftReport {
            terminal_id,
            from_ms,
            to_ms,
            currency,
            lines,
        },
    )
}

fn terminal() -> impl Strategy<Value = Terminal> {
    (n64(), text(), role(), any::<bool>()).prop_map(|(id, name, role, revoked)| Terminal {
        id,
        name,
        role,
        revoked,
    })
}

fn seat_change() -> impl Strategy<Value = SeatChange> {
    (n32(), seat_state()).prop_map(|(seat_id, state)| SeatChange { seat_id, state })
}

fn request() -> BoxedStrategy<Request> {
    prop_oneof![
        (n16(), text(), option::of(text())).prop_map(|(version, client_name, token)| {
            Request::Hello {
                version,
                client_name,
                token,
            }
        }),
        n64().prop_map(|nonce| Request::Ping { nonce }),
        Just(Request::ListCities),
        option::of(n64()).prop_map(|city_id| Request::ListTheaters { city_id }),
        option::of(n64()).prop_map(|city_id| Request::ListMovies { city_id }),
        show_filter().prop_map(Request::ListShows),
        n64().prop_map(|show_id| Request::GetSeatMap { show_id }),
        (n64(), seat_selection(), option::of(text())).prop_map(
            |(show_id, selection, idempotency_key)| Request::Hold {
                show_id,
                selection,
                idempotency_key,
            }
        ),
        n64().prop_map(|hold_id| Request::Renew { hold_id }),
        n64().prop_map(|hold_id| Request::Release { hold_id }),
        (n64(), payment(), text()).prop_map(|(hold_id, payment, idempotency_key)| {
            Request::Confirm {
                hold_id,
                payment,
                idempotency_key,
            }
        }),
        (text(), any::<bool>(), text()).prop_map(|(code, refund, reason)| Request::Cancel {
            code,
            refund,
            reason,
        }),
        text().prop_map(|code| Request::GetBooking { code }),
        n64().prop_map(|show_id| Request::ListBookings { show_id }),
        n64().prop_map(|show_id| Request::Subscribe { show_id }),
        n64().prop_map(|show_id| Request::Unsubscribe { show_id }),
        (option::of(n64()), n64(), n64()).prop_map(|(terminal_id, from_ms, to_ms)| {
            Request::ShiftReport {
                terminal_id,
                from_ms,
                to_ms,
            }
        }),
        city().prop_map(Request::UpsertCity),
        theater().prop_map(Request::UpsertTheater),
        screen().prop_map(Request::UpsertScreen),
        movie().prop_map(Request::UpsertMovie),
        show().prop_map(Request::UpsertShow),
        (n64(), few(n32()), any::<bool>()).prop_map(|(show_id, seats, blocked)| {
            Request::BlockSeats {
                show_id,
                seats,
                blocked,
            }
        }),
        (text(), role()).prop_map(|(name, role)| Request::AddTerminal { name, role }),
        Just(Request::ListTerminals),
        n64().prop_map(|terminal_id| Request::RevokeTerminal { terminal_id }),
        n64().prop_map(|screen_id| Request::GetScreen { screen_id }),
        (n64(), option::of(category()))
            .prop_map(|(show_id, category)| { Request::Availability { show_id, category } }),
        n64().prop_map(|show_id| Request::AuditTrail { show_id }),
        n32().prop_map(|node_id| Request::NodeStatus { node_id }),
        n32().prop_map(|node_id| Request::Election { node_id }),
        (n32(), n64(), text()).prop_map(|(node_id, epoch, client_addr)| Request::Coordinator {
            node_id,
            epoch,
            client_addr,
        }),
        (
            n32(),
            few((n64(), n64()).prop_map(|(show_id, seq)| ShowPosition { show_id, seq }))
        )
            .prop_map(|(node_id, positions)| Request::Follow { node_id, positions }),
        (n16(), n32(), any::<[u8; PEER_NONCE_BYTES]>()).prop_map(|(version, node_id, nonce)| {
            Request::PeerHello {
                version,
                node_id,
                nonce,
            }
        }),
        any::<[u8; PEER_PROOF_BYTES]>().prop_map(|proof| Request::PeerProof { proof }),
        (n64(), text()).prop_map(|(hold_id, idempotency_key)| Request::CreatePaymentOrder {
            hold_id,
            idempotency_key
        }),
        (n64(), text(), text()).prop_map(|(order_id, payment_id, signature)| {
            Request::VerifyCheckout {
                order_id,
                payment_id,
                signature,
            }
        }),
        n64().prop_map(|order_id| Request::PaymentStatus { order_id }),
        (
            n32(),
            few((n64(), n64()).prop_map(|(show_id, seq)| ShowPosition { show_id, seq })),
            any::<bool>()
        )
            .prop_map(|(node_id, positions, taking_over)| Request::ReplicaAck {
                node_id,
                positions,
                taking_over
            }),
        (text(), few(n32()), text()).prop_map(|(code, seats, reason)| Request::RefundSeats {
            code,
            seats,
            reason
        }),
        text().prop_map(|code| Request::GetTicket { code }),
        Just(Request::TicketKey),
        (text(), text(), door_place()).prop_map(|(ticket, gate, place)| Request::Scan {
            ticket,
            gate,
            place
        }),
        few(
            (text(), n64(), text()).prop_map(|(ticket, at_ms, gate)| OfflineAdmission {
                ticket,
                at_ms,
                gate
            })
        )
        .prop_map(|admissions| Request::ReportAdmissions { admissions }),
        (n64(), few(n32()), any::<bool>(), text()).prop_map(|(show_id, seats, blocked, reason)| {
            Request::BlockSeatsWithReason {
                show_id,
                seats,
                blocked,
                reason,
            }
        }),
        (paged_list(), option::of(text()), n32()).prop_map(|(list, after, limit)| {
            Request::ListPage(PageRequest { list, after, limit })
        }),
        (n64(), payment(), text(), contact()).prop_map(
            |(hold_id, payment, idempotency_key, contact)| Request::ConfirmWithContact {
                hold_id,
                payment,
                idempotency_key,
                contact,
            }
        ),
        (n64(), text(), contact()).prop_map(|(hold_id, idempotency_key, contact)| {
            Request::CreatePaymentOrderWithContact {
                hold_id,
                idempotency_key,
                contact,
            }
        }),
        (n64(), text()).prop_map(|(show_id, reason)| Request::CancelShow { show_id, reason }),
    ]
    .boxed()
}

fn paged_list() -> impl Strategy<Value = PagedList> {
    prop_oneof![
        Just(PagedList::Cities),
        option::of(n64()).prop_map(|city_id| PagedList::Theaters { city_id }),
        option::of(n64()).prop_map(|city_id| PagedList::Movies { city_id }),
        show_filter().prop_map(PagedList::Shows),
        n64().prop_map(|show_id| PagedList::Bookings { show_id }),
        Just(PagedList::Terminals),
        n64().prop_map(|show_id| PagedList::AuditTrail { show_id }),
    ]
}

fn page_items() -> impl Strategy<Value = PageItems> {
    prop_oneof![
        few(city()).prop_map(PageItems::Cities),
        few(theater()).prop_map(PageItems::Theaters),
        few(movie()).prop_map(PageItems::Movies),
        few(show_summary()).prop_map(PageItems::Shows),
        few(booking()).prop_map(PageItems::Bookings),
        few(terminal()).prop_map(PageItems::Terminals),
        few(audit_entry()).prop_map(PageItems::AuditTrail),
    ]
}

fn contact() -> impl Strategy<Value = Contact> {
    (option::of(text()), option::of(text())).prop_map(|(email, phone)| Contact { email, phone })
}

fn audit_entry() -> impl Strategy<Value = AuditEntry> {
    (n64(), n32(), text(), option::of(text()), text(), n64()).prop_map(
        |(lamport, node_id, kind, code, detail, at_ms)| AuditEntry {
            lamport,
            node_id,
            kind,
            code,
            detail,
            at_ms,
        },
    )
}

fn hold_snapshot() -> impl Strategy<Value = HoldSnapshot> {
    (n64(), n64(), few(n32()), n64(), n64(), option::of(text())).prop_map(
        |(hold_id, terminal_id, seats, created_at_ms, expires_at_ms, idempotency_key)| {
            HoldSnapshot {
                hold_id,
                terminal_id,
                seats,
                created_at_ms,
                expires_at_ms,
                idempotency_key,
            }
        },
    )
}

fn show_snapshot() -> BoxedStrategy<ShowSnapshot> {
    (
        n64(),
        n64(),
        few(
            (booking(), text()).prop_map(|(booking, idempotency_key)| BookingSnapshot {
                booking,
                idempotency_key,
            }),
        ),
        few(hold_snapshot()),
        few(n32()),
    )
        .prop_map(|(show_id, seq, bookings, holds, blocked)| ShowSnapshot {
            show_id,
            seq,
            bookings,
            holds,
            blocked,
        })
        .boxed()
}

fn replicated_event() -> BoxedStrategy<ReplicatedEvent> {
    prop_oneof![
        hold_snapshot().prop_map(|h| ReplicatedEvent::Held {
            hold_id: h.hold_id,
            terminal_id: h.terminal_id,
            seats: h.seats,
            expires_at_ms: h.expires_at_ms,
            created_at_ms: h.created_at_ms,
            idempotency_key: h.idempotency_key,
        }),
        (n64(), n64()).prop_map(|(hold_id, expires_at_ms)| ReplicatedEvent::Renewed {
            hold_id,
            expires_at_ms
        }),
        (n64(), few(n32()))
            .prop_map(|(hold_id, seats)| ReplicatedEvent::Released { hold_id, seats }),
        (n64(), few(n32()))
            .prop_map(|(hold_id, seats)| ReplicatedEvent::Expired { hold_id, seats }),
        (option::of(n64()), booking(), text()).prop_map(|(hold_id, booking, idempotency_key)| {
            ReplicatedEvent::Sold {
                hold_id,
                booking,
                idempotency_key,
            }
        }),
        (text(), any::<bool>())
            .prop_map(|(code, refund)| ReplicatedEvent::Cancelled { code, refund }),
        (few(n32()), any::<bool>())
            .prop_map(|(seats, blocked)| ReplicatedEvent::Blocked { seats, blocked }),
        (n64(), n64(), n64()).prop_map(|(hold_id, order_id, expires_at_ms)| {
            ReplicatedEvent::AwaitingPayment {
                hold_id,
                order_id,
                expires_at_ms,
            }
        }),
        (text(), few(n32()))
            .prop_map(|(code, seats)| ReplicatedEvent::SeatsRefunded { code, seats }),
        text().prop_map(|code| ReplicatedEvent::Admitted { code }),
    ]
    .boxed()
}

fn reply() -> BoxedStrategy<Reply> {
    prop_oneof![
        (
            (n32(), node_role(), option::of(text()), n64()),
            (role(), option::of(n64()), n64(), n64()),
        )
            .prop_map(
                |(
                    (node_id, node_role, leader, lamport),
                    (role, terminal_id, server_time_ms, hold_ttl_ms),
                )| Reply::Welcome {
                    node_id,
                    node_role,
                    leader,
                    lamport,
                    role,
                    terminal_id,
                    server_time_ms,
                    hold_ttl_ms,
                }
            ),
        (n64(), n64()).prop_map(|(nonce, server_time_ms)| Reply::Pong {
            nonce,
            server_time_ms
        }),
        few(city()).prop_map(Reply::Cities),
        few(theater()).prop_map(Reply::Theaters),
        few(movie()).prop_map(Reply::Movies),
        few(show_summary()).prop_map(Reply::Shows),
        seat_map().prop_map(Reply::SeatMap),
        hold_info().prop_map(Reply::Held),
        n64().prop_map(|hold_id| Reply::Released { hold_id }),
        booking().prop_map(Reply::Booking),
        few(booking()).prop_map(Reply::Bookings),
        (n64(), n64()).prop_map(|(show_id, seq)| Reply::Subscribed { show_id, seq }),
        n64().prop_map(|show_id| Reply::Unsubscribed { show_id }),
        shift_report().prop_map(Reply::ShiftReport),
        Just(Reply::Done),
        (n64(), text())
            .prop_map(|(terminal_id, token)| Reply::TerminalAdded { terminal_id, token }),
        few(terminal()).prop_map(Reply::Terminals),
        screen().prop_map(Reply::Screen),
        (n64(), few((category(), n32())))
            .prop_map(|(show_id, free)| Reply::Availability { show_id, free }),
        few(audit_entry()).prop_map(Reply::AuditTrail),
        (
            n32(),
            node_role(),
            option::of(n32()),
            option::of(text()),
            n64()
        )
            .prop_map(|(node_id, node_role, leader_id, leader_addr, epoch)| {
                Reply::NodeStatus {
                    node_id,
                    node_role,
                    leader_id,
                    leader_addr,
                    epoch,
                }
            }),
        (n32(), n64()).prop_map(|(leader_id, epoch)| Reply::Following { leader_id, epoch }),
        (
            n32(),
            any::<[u8; PEER_NONCE_BYTES]>(),
            any::<[u8; PEER_PROOF_BYTES]>()
        )
            .prop_map(|(node_id, nonce, proof)| Reply::PeerChallenge {
                node_id,
                nonce,
                proof
            }),
        payment_order_info().prop_map(Reply::PaymentOrder),
        (
            booking(),
            few(n32()),
            money(),
            payment_method(),
            option::of(text())
        )
            .prop_map(|(booking, seats, amount, method, gateway_refund_id)| {
                Reply::SeatsRefunded(SeatsRefund {
                    booking,
                    seats,
                    amount,
                    method,
                    gateway_refund_id,
                })
            }),
        (booking(), text(), ticket_claims()).prop_map(|(booking, payload, claims)| {
            Reply::Ticket(TicketInfo {
                booking,
                payload,
                claims,
            })
        }),
        (any::<[u8; 32]>(), text()).prop_map(|(public_key, key_id)| Reply::TicketKey(
            TicketKeyInfo { public_key, key_id }
        )),
        scan_result().prop_map(Reply::Scan),
        few(scan_result()).prop_map(Reply::AdmissionsReported),
        (page_items(), option::of(text()))
            .prop_map(|(items, next)| Reply::Page(Page { items, next })),
        (n64(), few(text()), n32(), few(text())).prop_map(
            |(show_id, refunded, already_closed, failed)| {
                Reply::ShowCancelled(ShowCancellation {
                    show_id,
                    refunded,
                    already_closed,
                    failed,
                })
            }
        ),
    ]
    .boxed()
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::BadFrame),
        (n16(), n16()).prop_map(|(min, max)| ErrorCode::UnsupportedVersion { min, max }),
        Just(ErrorCode::Unauthenticated),
        Just(ErrorCode::Forbidden),
        Just(ErrorCode::NotFound),
        Just(ErrorCode::InvalidArgument),
        few(n32()).prop_map(|seats| ErrorCode::SeatUnavailable { seats }),
        Just(ErrorCode::HoldExpired),
        Just(ErrorCode::SoldOut),
        option::of(text()).prop_map(|leader| ErrorCode::NotLeader { leader }),
        Just(ErrorCode::Unavailable),
        Just(ErrorCode::Overloaded),
        Just(ErrorCode::Conflict),
        Just(ErrorCode::Internal),
        Just(ErrorCode::SalesClosed),
        Just(ErrorCode::OutcomeUnknown),
        (n32(), n32()).prop_map(|(largest_block, free)| ErrorCode::NoAdjacentSeats {
            largest_block,
            free
        }),
        n32().prop_map(|list_page_max_items| ErrorCode::PageRequired {
            list_page_max_items
        }),
    ]
}

fn push() -> BoxedStrategy<Push> {
    prop_oneof![
        (n64(), n64(), change_cause(), few(seat_change())).prop_map(
            |(show_id, seq, cause, changes)| Push::SeatsChanged {
                show_id,
                seq,
                cause,
                changes,
            }
        ),
        n64().prop_map(|show_id| Push::Resync { show_id }),
        (text(), n64()).prop_map(|(reason, reconnect_after_ms)| Push::ShuttingDown {
            reason,
            reconnect_after_ms,
        }),
        (n64(), n64(), n64(), replicated_event()).prop_map(|(show_id, seq, lamport, event)| {
            Push::Replicated {
                show_id,
                seq,
                lamport,
                event,
            }
        }),
        show_snapshot().prop_map(Push::Snapshot),
        (n32(), n64()).prop_map(|(leader_id, epoch)| Push::Heartbeat { leader_id, epoch }),
        Just(Push::CatalogChanged),
        n64().prop_map(|nonce| Push::Ping { nonce }),
    ]
    .boxed()
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        request().prop_map(Body::Request),
        reply().prop_map(Body::Reply),
        (error_code(), text())
            .prop_map(|(code, message)| Body::Error(ErrorBody::new(code, message))),
        push().prop_map(Body::Push),
    ]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (n64(), n64(), body()).prop_map(|(request_id, lamport, body)| Envelope {
        request_id,
        lamport,
        body,
    })
}

// ---------------------------------------------------------------------------------------------
// Variant coverage of the strategies

/// An exhaustive `match` naming every variant: adding a variant to the type breaks the build until
/// it is listed here, and the coverage test then fails until the strategy generates it.
macro_rules! variant_name {
    ($fn_name:ident, $ty:ident: [$($variant:ident),+ $(,)?]) => {
        fn $fn_name(value: &$ty) -> (&'static str, &'static [&'static str]) {
            const ALL: &[&str] = &[$(stringify!($variant)),+];
            let name = match value {
                $($ty::$variant { .. } => stringify!($variant),)+
            };
            (name, ALL)
        }
    };
}

variant_name!(request_variant, Request: [
    Hello, Ping, ListCities, ListTheaters, ListMovies, ListShows, GetSeatMap, Hold, Renew, Release,
    Confirm, Cancel, GetBooking, ListBookings, Subscribe, Unsubscribe, ShiftReport, UpsertCity,
    UpsertTheater, UpsertScreen, UpsertMovie, UpsertShow, BlockSeats, AddTerminal, ListTerminals,
    RevokeTerminal, GetScreen, Availability, AuditTrail, NodeStatus, Election, Coordinator, Follow,
    PeerHello, PeerProof, CreatePaymentOrder, VerifyCheckout, PaymentStatus, ReplicaAck,
    RefundSeats, GetTicket, TicketKey, Scan, ReportAdmissions, BlockSeatsWithReason,
    ListPage, ConfirmWithContact, CreatePaymentOrderWithContact, CancelShow,
]);
variant_name!(reply_variant, Reply: [
    Welcome, Pong, Cities, Theaters, Movies, Shows, SeatMap, Held, Released, Booking, Bookings,
    Subscribed, Unsubscribed, ShiftReport, Done, TerminalAdded, Terminals, Screen, Availability,
    AuditTrail, NodeStatus, Following, PeerChallenge, PaymentOrder, SeatsRefunded, Ticket,
    TicketKey, Scan, AdmissionsReported, Page, ShowCancelled,
]);
variant_name!(error_variant, ErrorCode: [
    BadFrame, UnsupportedVersion, Unauthenticated, Forbidden, NotFound, InvalidArgument,
    SeatUnavailable, HoldExpired, SoldOut, NotLeader, Unavailable, Overloaded, Conflict, Internal,
    SalesClosed, OutcomeUnknown, NoAdjacentSeats, PageRequired,
]);
variant_name!(push_variant, Push: [
    SeatsChanged, Resync, ShuttingDown, Replicated, Snapshot, Heartbeat, CatalogChanged, Ping,
]);

fn body_variant(body: &Body) -> (&'static str, &'static str, &'static [&'static str]) {
    match body {
        Body::Request(r) => {
            let (name, all) = request_variant(r);
            ("Request", name, all)
        }
        Body::Reply(r) => {
            let (name, all) = reply_variant(r);
            ("Reply", name, all)
        }
        Body::Error(e) => {
            let (name, all) = error_variant(&e.code);
            ("Error", name, all)
        }
        Body::Push(p) => {
            let (name, all) = push_variant(p);
            ("Push", name, all)
        }
    }
}

#[test]
fn envelope_strategy_generates_every_variant() {
    use std::collections::BTreeSet;
    let mut runner = TestRunner::deterministic();
    let strategy = envelope();
    let mut seen = BTreeSet::new();
    let mut wanted = BTreeSet::new();
    for _ in 0..8000 {
        let value = strategy.new_tree(&mut runner).expect("tree").current();
        let (kind, name, all) = body_variant(&value.body);
        seen.insert((kind, name));
        wanted.extend(all.iter().map(|n| (kind, *n)));
    }
    assert_eq!(wanted.len(), 49 + 31 + 18 + 8);
    let missing: Vec<_> = wanted.difference(&seen).collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}

// ---------------------------------------------------------------------------------------------
// Driving the decoder

/// What a reader sees: items, then possibly one fatal error, then the end of the stream.
// Test bookkeeping: a few per case, not worth boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Item(Incoming),
    Fatal(String),
    End(String),
}

/// Feeds `chunks` one after the other to a fresh codec, decoding everything each chunk completes,
/// and stops at the first error (as `Framed` does). Then signals the end of the stream.
fn run(max: usize, chunks: &[&[u8]]) -> Vec<Event> {
    let mut codec = FrameCodec::with_max(max);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => events.push(Event::Item(item)),
                Ok(None) => break,
                Err(e) => {
                    events.push(Event::Fatal(format!("{e:?}")));
                    return events;
                }
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(item)) => events.push(Event::Item(item)),
            Ok(None) => {
                events.push(Event::End(String::new()));
                break;
            }
            Err(e) => {
                events.push(Event::End(format!("{e:?}")));
                break;
            }
        }
    }
    events
}

/// Splits `data` at the positions chosen by `cuts`.
fn chunks<'a>(data: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
    at.push(0);
    at.push(data.len());
    at.sort_unstable();
    at.dedup();
    at.windows(2).map(|w| &data[w[0]..w[1]]).collect()
}

fn stream_of(envelopes: &[Envelope]) -> Vec<u8> {
    envelopes
        .iter()
        .flat_map(|e| encode_frame(e).expect("encode"))
        .collect()
}

/// Byte streams worth decoding: random bytes, and valid frames damaged in a few places.
fn byte_stream() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..300),
        (
            vec(envelope(), 1..4),
            vec((any::<Index>(), any::<u8>()), 0..4)
        )
            .prop_map(|(envelopes, damage)| {
                let mut data = stream_of(&envelopes);
                for (at, byte) in damage {
                    let i = at.index(data.len());
                    data[i] = byte;
                }
                data
            }),
        (vec(envelope(), 1..4), any::<Index>()).prop_map(|(envelopes, cut)| {
            let mut data = stream_of(&envelopes);
            data.truncate(cut.index(data.len() + 1));
            data
        }),
    ]
}

/// The request id a `BadFrame` answer must carry, computed independently: the payload's leading
/// LEB128 varint if it is a valid u64 (at most 10 bytes, the 10th at most 1).
fn leading_varint(payload: &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    for (i, byte) in payload.iter().take(10).enumerate() {
        if i == 9 && *byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// A request whose payload is exactly `len` bytes (at least 7): a `Hello` with a padded name (and
/// an empty token for the one length a name's varint length prefix skips).
fn envelope_with_payload_len(len: usize) -> Envelope {
    let make = |(name_len, token): (usize, Option<String>)| {
        Envelope::request(
            1,
            1,
            Request::Hello {
                version: 1,
                client_name: "n".repeat(name_len),
                token,
            },
        )
    };
    (len.saturating_sub(20)..=len)
        .rev()
        .flat_map(|n| [(n, None), (n, Some(String::new()))])
        .map(make)
        .find(|e| encode_payload(e).expect("encode").len() == len)
        .unwrap_or_else(|| panic!("no Hello payload of exactly {len} bytes"))
}

fn is_too_large<T>(result: &Result<T, ProtocolError>) -> bool {
    matches!(result, Err(ProtocolError::FrameTooLarge { .. }))
}

fn header(len: u32) -> BytesMut {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_u32(len);
    buf
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_envelope_round_trips_through_the_codec(envelope in envelope()) {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::new();
        codec.encode(&envelope, &mut buf).expect("encode");
        prop_assert_eq!(&buf[..], &encode_frame(&envelope).expect("encode_frame")[..]);
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        prop_assert_eq!(len + FRAME_HEADER_BYTES, buf.len());
        let decoded = codec.decode(&mut buf).expect("decode");
        prop_assert_eq!(decoded, Some(Incoming::Envelope(envelope)));
        prop_assert!(buf.is_empty());
        prop_assert_eq!(codec.decode(&mut buf).expect("decode"), None);
    }

    #[test]
    fn streams_of_envelopes_survive_any_chunking(
        envelopes in vec(envelope(), 1..6),
        cuts in vec(any::<Index>(), 0..12),
    ) {
        let data = stream_of(&envelopes);
        let mut want: Vec<Event> = envelopes.into_iter().map(|e| Event::Item(Incoming::Envelope(e))).collect();
        want.push(Event::End(String::new()));
        prop_assert_eq!(run(FRAME_MAX_BYTES_DEFAULT, &chunks(&data, &cuts)), want);
    }

    #[test]
    fn any_chunking_of_any_bytes_decodes_like_the_whole(
        data in byte_stream(),
        cuts in vec(any::<Index>(), 0..12),
        max in prop_oneof![1usize..64, Just(FRAME_MAX_BYTES_DEFAULT)],
    ) {
        let whole = run(max, &[&data]);
        prop_assert_eq!(run(max, &chunks(&data, &cuts)), whole.clone());
        let one_byte_at_a_time: Vec<&[u8]> = data.chunks(1).collect();
        prop_assert_eq!(run(max, &one_byte_at_a_time), whole);
    }

    #[test]
    fn a_well_framed_payload_never_fails_the_stream(payload in vec(any::<u8>(), 1..200)) {
        let mut buf = header(payload.len() as u32);
        buf.extend_from_slice(&payload);
        match FrameCodec::new().decode(&mut buf).expect("a well-framed payload is never fatal") {
            Some(Incoming::Envelope(envelope)) => {
                // Random bytes that happen to decode (or decode through a padded varint) still
                // carry the leading varint as their id and re-encode to the same value.
                prop_assert_eq!(Some(envelope.request_id), leading_varint(&payload));
                let again = encode_payload(&envelope).expect("encode");
                prop_assert_eq!(decode_payload(&again), Incoming::Envelope(envelope));
            }
            Some(Incoming::Malformed { request_id, .. }) => {
                prop_assert_eq!(request_id, leading_varint(&payload));
            }
            None => prop_assert!(false, "a complete frame was not decoded"),
        }
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn a_header_over_the_limit_is_rejected_before_allocating(
        max in prop_oneof![1usize..4096, Just(FRAME_MAX_BYTES_DEFAULT)],
        excess in prop_oneof![1u64..16, any::<u64>()],
        tail in vec(any::<u8>(), 0..8),
    ) {
        let len = (max as u64).saturating_add(excess).min(u64::from(u32::MAX));
        let mut buf = header(len as u32);
        buf.extend_from_slice(&tail);
        let capacity = buf.capacity();
        match FrameCodec::with_max(max).decode(&mut buf) {
            Err(ProtocolError::FrameTooLarge { len_bytes, max_bytes }) => {
                prop_assert_eq!(len_bytes, len);
                prop_assert_eq!(max_bytes, max);
            }
            other => prop_assert!(false, "expected FrameTooLarge, got {:?}", other),
        }
        prop_assert_eq!(buf.capacity(), capacity);
    }

    #[test]
    fn exactly_frame_max_bytes_passes_and_one_more_fails(max in 7usize..400) {
        // Decoding.
        let fits = envelope_with_payload_len(max);
        let frame = encode_frame(&fits).expect("encode");
        let mut buf = BytesMut::from(&frame[..]);
        prop_assert_eq!(
            FrameCodec::with_max(max).decode(&mut buf).expect("decode"),
            Some(Incoming::Envelope(fits.clone()))
        );
        let mut over = header(max as u32 + 1);
        let got = FrameCodec::with_max(max).decode(&mut over);
        prop_assert!(is_too_large(&got), "max + 1 decoded to {:?}", got);
        // Encoding.
        let mut out = BytesMut::new();
        FrameCodec::with_max(max).encode(&fits, &mut out).expect("fits");
        prop_assert_eq!(&out[..], &frame[..]);
        let too_big = envelope_with_payload_len(max + 1);
        let got = FrameCodec::with_max(max).encode(&too_big, &mut BytesMut::new());
        prop_assert!(is_too_large(&got), "max + 1 encoded: {:?}", got);
    }
}

#[test]
fn a_4_gib_header_is_rejected_without_allocating() {
    let mut buf = BytesMut::with_capacity(16);
    buf.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x01, 0x02]);
    let capacity = buf.capacity();
    match FrameCodec::new().decode(&mut buf) {
        Err(ProtocolError::FrameTooLarge {
            len_bytes,
            max_bytes,
        }) => {
            assert_eq!(len_bytes, u64::from(u32::MAX));
            assert_eq!(max_bytes, FRAME_MAX_BYTES_DEFAULT);
        }
        other => panic!("expected FrameTooLarge, got {other:?}"),
    }
    assert_eq!(buf.capacity(), capacity);
    assert!(buf.capacity() < 1024);
}

#[test]
fn the_default_limit_is_exactly_one_mib() {
    assert_eq!(FRAME_MAX_BYTES_DEFAULT, 1_048_576);
    let fits = envelope_with_payload_len(FRAME_MAX_BYTES_DEFAULT);
    let frame = encode_frame(&fits).expect("encode");
    assert_eq!(&frame[..4], &[0x00, 0x10, 0x00, 0x00]);
    let mut buf = BytesMut::from(&frame[..]);
    assert_eq!(
        FrameCodec::new().decode(&mut buf).expect("1 MiB fits"),
        Some(Incoming::Envelope(fits))
    );
    let too_big = envelope_with_payload_len(FRAME_MAX_BYTES_DEFAULT + 1);
    assert!(matches!(
        FrameCodec::new().encode(&too_big, &mut BytesMut::new()),
        Err(ProtocolError::FrameTooLarge { .. })
    ));
    let mut over = header(FRAME_MAX_BYTES_DEFAULT as u32 + 1);
    assert!(matches!(
        FrameCodec::new().decode(&mut over),
        Err(ProtocolError::FrameTooLarge {
            len_bytes: 1_048_577,
            ..
        })
    ));
}

#[test]
fn a_zero_length_frame_is_fatal() {
    for tail in [&[][..], &[0x01, 0x01, 0x00, 0x02][..]] {
        let mut buf = header(0);
        buf.extend_from_slice(tail);
        assert!(matches!(
            FrameCodec::new().decode(&mut buf),
            Err(ProtocolError::EmptyFrame)
        ));
    }
    // Also after a good frame, in the same stream.
    let mut data = encode_frame(&Envelope::request(1, 1, Request::ListCities)).expect("encode");
    data.extend_from_slice(&[0, 0, 0, 0]);
    let events = run(FRAME_MAX_BYTES_DEFAULT, &[&data]);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1], Event::Fatal("EmptyFrame".into()));
}
