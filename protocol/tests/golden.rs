//! Golden vectors: the hex frames and tables of `docs/PROTOCOL.md`, checked both ways against the
//! code.
//!
//! The document is read at compile time. Every fenced block tagged `hex golden:<name>` must have an
//! expected value here (and every value here a block): the value must encode to exactly the block's
//! bytes, and the bytes must decode to exactly the value. The discriminant tables marked
//! `<!-- enum:Name -->`, the varint and zigzag tables, the wrong-magic line and the fatal headers are
//! checked the same way, so the specification cannot drift from the code.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use bytes::BytesMut;
use cinebook_protocol::cluster::*;
use cinebook_protocol::codec::encode_frame;
use cinebook_protocol::page::*;
use cinebook_protocol::preface::{self, PrefaceCheck, PrefaceError};
use cinebook_protocol::types::*;
use cinebook_protocol::*;
use serde::Serialize;
use tokio_util::codec::{Decoder, Encoder};

const DOC: &str = include_str!("../../docs/PROTOCOL.md");

// ---------------------------------------------------------------------------------------------
// Reading the document

/// A fenced code block: its info string (after the backticks) and its lines.
struct Block {
    info: String,
    line: usize,
    lines: Vec<String>,
}

fn fenced_blocks() -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (i, raw) in DOC.lines().enumerate() {
        let line = raw.trim();
        match current.take() {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    current = Some(Block {
                        info: info.trim().to_string(),
                        line: i + 1,
                        lines: Vec::new(),
                    });
                }
            }
            Some(mut block) => {
                if line == "```" {
                    blocks.push(block);
                } else {
                    block.lines.push(line.to_string());
                    current = Some(block);
                }
            }
        }
    }
    assert!(
        current.is_none(),
        "docs/PROTOCOL.md has an unclosed code block"
    );
    blocks
}

/// The bytes of an annotated hex block: two hex digits per byte, whitespace between bytes, and
/// everything from `#` to the end of a line is commentary.
fn parse_hex(block: &Block) -> Vec<u8> {
    let mut out = Vec::new();
    for (offset, line) in block.lines.iter().enumerate() {
        let data = line.split('#').next().unwrap_or("");
        for token in data.split_whitespace() {
            assert!(
                token.len() == 2,
                "docs/PROTOCOL.md line {}: `{token}` is not one byte in hex",
                block.line + 1 + offset
            );
            let byte = u8::from_str_radix(token, 16).unwrap_or_else(|_| {
                panic!(
                    "docs/PROTOCOL.md line {}: `{token}` is not hex",
                    block.line + 1 + offset
                )
            });
            out.push(byte);
        }
    }
    out
}

fn golden_blocks() -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for block in fenced_blocks() {
        if let Some(name) = block.info.strip_prefix("hex golden:") {
            let bytes = parse_hex(&block);
            assert!(!bytes.is_empty(), "golden block {name} is empty");
            let previous = out.insert(name.trim().to_string(), bytes);
            assert!(previous.is_none(), "golden block {name} appears twice");
        }
    }
    out
}

fn block_tagged(info: &str) -> Block {
    let mut found: Vec<Block> = fenced_blocks()
        .into_iter()
        .filter(|b| b.info == info)
        .collect();
    assert_eq!(found.len(), 1, "expected one block tagged `{info}`");
    found.remove(0)
}

/// The rows of the table right after `marker` (an HTML comment), as cells without the outer pipes.
fn table_after(marker: &str) -> Vec<Vec<String>> {
    let start = DOC
        .find(marker)
        .unwrap_or_else(|| panic!("docs/PROTOCOL.md has no `{marker}`"));
    let mut rows = Vec::new();
    for line in DOC[start + marker.len()..].lines().skip(1) {
        let line = line.trim();
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        rows.push(cells);
    }
    assert!(rows.len() > 2, "the table after `{marker}` is empty");
    // Drop the header and the `---` separator.
    rows.split_off(2)
}

/// `(index, variant name)` pairs of the discriminant table of `enum_name`.
fn documented_variants(enum_name: &str) -> BTreeSet<(u32, String)> {
    table_after(&format!("<!-- enum:{enum_name} -->"))
        .into_iter()
        .map(|cells| {
            let index = cells[0]
                .parse::<u32>()
                .unwrap_or_else(|_| panic!("{enum_name} table: `{}` is not an index", cells[0]));
            (index, cells[1].trim_matches('`').to_string())
        })
        .collect()
}

fn bytes_cell(cell: &str) -> Vec<u8> {
    cell.trim_matches('`')
        .split_whitespace()
        .map(|t| u8::from_str_radix(t, 16).expect("hex byte in table"))
        .collect()
}

fn number_cell(cell: &str) -> &str {
    cell.split_whitespace().next().expect("number in table")
}

// ---------------------------------------------------------------------------------------------
// The values the vectors describe

// Built a dozen times per test run: boxing would only add noise.
#[allow(clippy::large_enum_variant)]
enum Golden {
    Preface(u16),
    Frame(Envelope),
    Malformed { request_id: Option<u64> },
}

fn eur(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "EUR".into(),
    }
}

fn expected() -> BTreeMap<&'static str, Golden> {
    let vectors = [
        (
            "create-payment-order",
            Golden::Frame(Envelope::request(
                5,
                55,
                Request::CreatePaymentOrder {
                    hold_id: 7,
                    idempotency_key: "p-7".into(),
                },
            )),
        ),
        (
            "refund-seats",
            Golden::Frame(Envelope::request(
                6,
                57,
                Request::RefundSeats {
                    code: "K7QX".into(),
                    seats: vec![41],
                    reason: "ill".into(),
                },
            )),
        ),
        (
            "confirm-with-contact",
            Golden::Frame(Envelope::request(
                7,
                60,
                Request::ConfirmWithContact {
                    hold_id: 9,
                    payment: Payment {
                        method: PaymentMethod::Cash,
                        amount: Money {
                            amount_minor: 1250,
                            currency: "EUR".into(),
                        },
                        reference: None,
                    },
                    idempotency_key: "c9".into(),
                    contact: Contact {
                        email: Some("a@b.ch".into()),
                        phone: None,
                    },
                },
            )),
        ),
        ("preface-v1", Golden::Preface(1)),
        ("preface-v2", Golden::Preface(2)),
        (
            "hello",
            Golden::Frame(Envelope::request(
                1,
                1,
                Request::Hello {
                    version: 1,
                    client_name: "kiosk-3/1.2.0".into(),
                    token: Some("tk_9f2c".into()),
                },
            )),
        ),
        (
            "welcome",
            Golden::Frame(Envelope::reply(
                1,
                42,
                Reply::Welcome {
                    node_id: 1,
                    node_role: NodeRole::Leader,
                    leader: None,
                    lamport: 42,
                    role: Role::Kiosk,
                    terminal_id: Some(3),
                    server_time_ms: 1_767_225_600_000,
                    hold_ttl_ms: 600_000,
                },
            )),
        ),
        (
            "hold-ids",
            Golden::Frame(Envelope::request(
                2,
                44,
                Request::Hold {
                    show_id: 300,
                    selection: SeatSelection::Ids(vec![12, 13]),
                    idempotency_key: None,
                },
            )),
        ),
        (
            "hold-best",
            Golden::Frame(Envelope::request(
                3,
                45,
                Request::Hold {
                    show_id: 300,
                    selection: SeatSelection::Best {
                        count: 2,
                        category: Some(Category::Premium),
                    },
                    idempotency_key: Some("h-3".into()),
                },
            )),
        ),
        (
            "error-seat-unavailable",
            Golden::Frame(Envelope::error(
                2,
                46,
                ErrorBody::new(
                    ErrorCode::SeatUnavailable { seats: vec![13] },
                    "seat C6 is held",
                ),
            )),
        ),
        (
            "error-no-adjacent-seats",
            Golden::Frame(Envelope::error(
                3,
                50,
                ErrorBody::new(
                    ErrorCode::NoAdjacentSeats {
                        largest_block: 2,
                        free: 5,
                    },
                    "only 2 adjacent",
                ),
            )),
        ),
        (
            "push-seats-changed",
            Golden::Frame(Envelope::push(
                48,
                Push::SeatsChanged {
                    show_id: 300,
                    seq: 18,
                    cause: ChangeCause::Held,
                    changes: vec![
                        SeatChange {
                            seat_id: 40,
                            state: SeatState::Held,
                        },
                        SeatChange {
                            seat_id: 41,
                            state: SeatState::Held,
                        },
                    ],
                },
            )),
        ),
        (
            "held",
            Golden::Frame(Envelope::reply(
                3,
                49,
                Reply::Held(HoldInfo {
                    hold_id: 7,
                    show_id: 300,
                    seats: vec![40, 41],
                    labels: vec!["E1".into(), "E2".into()],
                    expires_at_ms: 1_767_226_200_000,
                    total: eur(2500),
                }),
            )),
        ),
        (
            "confirm",
            Golden::Frame(Envelope::request(
                4,
                51,
                Request::Confirm {
                    hold_id: 7,
                    payment: Payment {
                        method: PaymentMethod::Card,
                        amount: eur(2500),
                        reference: Some("AUTH42".into()),
                    },
                    idempotency_key: "c-7".into(),
                },
            )),
        ),
        (
            "malformed-request",
            Golden::Malformed {
                request_id: Some(5),
            },
        ),
        (
            "error-bad-frame",
            Golden::Frame(Envelope::error(
                5,
                54,
                ErrorBody::new(ErrorCode::BadFrame, "unknown variant"),
            )),
        ),
        (
            "error-unsupported-version",
            Golden::Frame(Envelope::error(
                0,
                1,
                ErrorBody::new(
                    ErrorCode::UnsupportedVersion { min: 1, max: 1 },
                    "version 2 not spoken",
                ),
            )),
        ),
    ];
    let mut out = BTreeMap::new();
    for (name, golden) in vectors {
        assert!(out.insert(name, golden).is_none(), "{name} listed twice");
    }
    out
}

fn frames() -> Vec<(&'static str, Envelope)> {
    expected()
        .into_iter()
        .filter_map(|(name, golden)| match golden {
            Golden::Frame(envelope) => Some((name, envelope)),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Vectors

#[test]
fn every_golden_block_has_a_value_and_every_value_a_block() {
    let documented: BTreeSet<String> = golden_blocks().into_keys().collect();
    let known: BTreeSet<String> = expected().into_keys().map(String::from).collect();
    assert_eq!(documented, known);
    // The issue asks for at least six worked frame examples.
    assert!(frames().len() >= 6);
}

#[test]
fn values_encode_to_the_documented_bytes() {
    let blocks = golden_blocks();
    for (name, golden) in expected() {
        let want = &blocks[name];
        match golden {
            Golden::Frame(envelope) => {
                let got = encode_frame(&envelope).expect("encode_frame");
                assert_eq!(hex::encode(&got), hex::encode(want), "golden:{name}");
                let mut codec = FrameCodec::new();
                let mut buf = BytesMut::new();
                codec.encode(&envelope, &mut buf).expect("FrameCodec");
                assert_eq!(hex::encode(&buf), hex::encode(want), "golden:{name}");
            }
            Golden::Preface(version) => {
                assert_eq!(
                    hex::encode(preface::encode(version)),
                    hex::encode(want),
                    "golden:{name}"
                );
            }
            // Not a value: bytes no encoder produces.
            Golden::Malformed { .. } => {}
        }
    }
}

#[test]
fn documented_bytes_decode_to_the_values() {
    let blocks = golden_blocks();
    for (name, golden) in expected() {
        let bytes = &blocks[name];
        match golden {
            Golden::Frame(envelope) => {
                let mut buf = BytesMut::from(&bytes[..]);
                let got = FrameCodec::new().decode(&mut buf).expect("decode");
                assert_eq!(got, Some(Incoming::Envelope(envelope)), "golden:{name}");
                assert!(buf.is_empty(), "golden:{name} left bytes over");
            }
            Golden::Malformed { request_id } => {
                let mut buf = BytesMut::from(&bytes[..]);
                match FrameCodec::new().decode(&mut buf).expect("decode") {
                    Some(Incoming::Malformed {
                        request_id: got, ..
                    }) => {
                        assert_eq!(got, request_id, "golden:{name}")
                    }
                    other => panic!("golden:{name} decoded to {other:?}"),
                }
                assert!(buf.is_empty(), "golden:{name} left bytes over");
            }
            Golden::Preface(version) => {
                let want = if (PROTOCOL_VERSION_MIN..=PROTOCOL_VERSION).contains(&version) {
                    PrefaceCheck::Accepted(version)
                } else {
                    PrefaceCheck::Refused(PrefaceError::UnsupportedVersion {
                        got: version,
                        min: PROTOCOL_VERSION_MIN,
                        max: PROTOCOL_VERSION,
                    })
                };
                assert_eq!(preface::check(bytes), want, "golden:{name}");
            }
        }
    }
}

/// Every documented frame, concatenated into one stream and fed one byte at a time.
#[test]
fn documented_frames_decode_as_one_stream_byte_by_byte() {
    let blocks = golden_blocks();
    let frames = frames();
    let stream: Vec<u8> = frames
        .iter()
        .flat_map(|(name, _)| blocks[*name].clone())
        .collect();
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for byte in stream {
        buf.extend_from_slice(&[byte]);
        if let Some(item) = codec.decode(&mut buf).expect("decode") {
            got.push(item);
        }
    }
    let want: Vec<Incoming> = frames
        .into_iter()
        .map(|(_, e)| Incoming::Envelope(e))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn wrong_magic_line_is_documented_verbatim() {
    let block = block_tagged("text wrong-magic-line");
    assert_eq!(block.lines.len(), 1);
    assert_eq!(
        format!("{}\r\n", block.lines[0]),
        WRONG_MAGIC_LINE,
        "§2 must quote WRONG_MAGIC_LINE exactly (it ends in CR LF)"
    );
}

#[test]
fn documented_fatal_headers_are_rejected() {
    let block = block_tagged("hex fatal-headers");
    let headers = parse_hex(&block);
    assert_eq!(headers.len() % 4, 0);
    assert!(!headers.is_empty());
    for header in headers.chunks(4) {
        let mut buf = BytesMut::from(header);
        match FrameCodec::new().decode(&mut buf) {
            Err(ProtocolError::EmptyFrame | ProtocolError::FrameTooLarge { .. }) => {}
            other => panic!("header {} gave {other:?}", hex::encode(header)),
        }
    }
}

#[test]
fn varint_table_matches_postcard() {
    for cells in table_after("<!-- varints -->") {
        let value: u64 = number_cell(&cells[0]).parse().expect("u64");
        let got = postcard::to_stdvec(&value).expect("encode");
        assert_eq!(got, bytes_cell(&cells[1]), "varint of {value}");
        let back: u64 = postcard::from_bytes(&got).expect("decode");
        assert_eq!(back, value);
    }
}

#[test]
fn zigzag_table_matches_postcard() {
    for cells in table_after("<!-- zigzag -->") {
        let value: i64 = number_cell(&cells[0]).parse().expect("i64");
        let zigzag: u64 = number_cell(&cells[1]).parse().expect("u64");
        let bytes = bytes_cell(&cells[2]);
        assert_eq!(
            postcard::to_stdvec(&value).expect("encode"),
            bytes,
            "i64 {value}"
        );
        assert_eq!(
            postcard::to_stdvec(&zigzag).expect("encode"),
            bytes,
            "zigzag {zigzag}"
        );
        assert_eq!(((value << 1) ^ (value >> 63)) as u64, zigzag);
    }
}

// ---------------------------------------------------------------------------------------------
// Discriminant tables

/// `(postcard variant index, variant name)` of each sample.
fn variants<T: Serialize + Debug>(samples: &[T]) -> BTreeSet<(u32, String)> {
    samples
        .iter()
        .map(|sample| {
            let bytes = postcard::to_stdvec(sample).expect("encode sample");
            let (index, _) = postcard::take_from_bytes::<u32>(&bytes).expect("variant index");
            let debug = format!("{sample:?}");
            let name: String = debug
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (index, name)
        })
        .collect()
}

fn assert_table<T: Serialize + Debug>(enum_name: &str, samples: &[T]) {
    let code = variants(samples);
    assert_eq!(
        code.len(),
        samples.len(),
        "{enum_name}: two samples of one variant"
    );
    let indices: Vec<u32> = code.iter().map(|(i, _)| *i).collect();
    let contiguous: Vec<u32> = (0..samples.len() as u32).collect();
    assert_eq!(
        indices, contiguous,
        "{enum_name}: samples must cover every variant"
    );
    assert_eq!(
        documented_variants(enum_name),
        code,
        "{enum_name}: docs/PROTOCOL.md table differs from the code"
    );
}

fn seat() -> Seat {
    Seat {
        id: 0,
        row: "A".into(),
        label: "A1".into(),
        category: Category::Standard,
        x: 0,
        y: 0,
    }
}

fn show() -> Show {
    Show {
        id: 1,
        movie_id: 1,
        screen_id: 1,
        starts_at_ms: 0,
        currency: "EUR".into(),
        prices: vec![],
    }
}

fn summary() -> ShowSummary {
    ShowSummary {
        show: show(),
        movie_title: "M".into(),
        theater_id: 1,
        theater_name: "T".into(),
        city_id: 1,
        screen_name: "S".into(),
        seats_free: 1,
        seats_total: 1,
    }
}

fn screen() -> Screen {
    Screen {
        id: 1,
        theater_id: 1,
        name: "1".into(),
        seats: vec![seat()],
    }
}

fn payment() -> Payment {
    Payment {
        method: PaymentMethod::Cash,
        amount: eur(0),
        reference: None,
    }
}

fn booking() -> Booking {
    Booking {
        code: "K7QX-3MPA".into(),
        show_id: 1,
        seats: vec![],
        total: eur(0),
        payment: payment(),
        status: BookingStatus::Confirmed,
        terminal_id: 1,
        sold_at_ms: 0,
        lamport: 0,
        node_id: 1,
    }
}

fn all_requests() -> Vec<Request> {
    vec![
        Request::Hello {
            version: 1,
            client_name: "c".into(),
            token: None,
        },
        Request::Ping { nonce: 1 },
        Request::ListCities,
        Request::ListTheaters { city_id: None },
        Request::ListMovies { city_id: Some(1) },
        Request::ListShows(ShowFilter::default()),
        Request::GetSeatMap { show_id: 1 },
        Request::Hold {
            show_id: 1,
            selection: SeatSelection::Ids(vec![1]),
            idempotency_key: None,
        },
        Request::Renew { hold_id: 1 },
        Request::Release { hold_id: 1 },
        Request::Confirm {
            hold_id: 1,
            payment: payment(),
            idempotency_key: "k".into(),
        },
        Request::Cancel {
            code: "K".into(),
            refund: true,
            reason: "r".into(),
        },
        Request::GetBooking { code: "K".into() },
        Request::ListBookings { show_id: 1 },
        Request::Subscribe { show_id: 1 },
        Request::Unsubscribe { show_id: 1 },
        Request::ShiftReport {
            terminal_id: None,
            from_ms: 0,
            to_ms: 1,
        },
        Request::UpsertCity(City {
            id: 1,
            name: "C".into(),
        }),
        Request::UpsertTheater(Theater {
            id: 1,
            city_id: 1,
            name: "T".into(),
        }),
        Request::UpsertScreen(screen()),
        Request::UpsertMovie(Movie {
            id: 1,
            title: "M".into(),
            runtime_min: 90,
            rating: "PG".into(),
        }),
        Request::UpsertShow(show()),
        Request::BlockSeats {
            show_id: 1,
            seats: vec![1],
            blocked: true,
        },
        Request::AddTerminal {
            name: "t".into(),
            role: Role::Kiosk,
        },
        Request::ListTerminals,
        Request::RevokeTerminal { terminal_id: 1 },
        Request::GetScreen { screen_id: 1 },
        Request::Availability {
            show_id: 1,
            category: None,
        },
        Request::AuditTrail { show_id: 1 },
        Request::NodeStatus { node_id: 1 },
        Request::Election { node_id: 1 },
        Request::Coordinator {
            node_id: 1,
            epoch: 1,
            client_addr: "a".into(),
        },
        Request::Follow {
            node_id: 1,
            positions: vec![],
        },
        Request::PeerHello {
            version: 1,
            node_id: 1,
            nonce: [0; PEER_NONCE_BYTES],
        },
        Request::PeerProof {
            proof: [0; PEER_PROOF_BYTES],
        },
        Request::CreatePaymentOrder {
            hold_id: 1,
            idempotency_key: "k".into(),
        },
        Request::VerifyCheckout {
            order_id: 1,
            payment_id: "pay_1".into(),
            signature: "00".into(),
        },
        Request::PaymentStatus { order_id: 1 },
        Request::ReplicaAck {
            node_id: 1,
            positions: vec![],
            taking_over: false,
        },
        Request::RefundSeats {
            code: "c".into(),
            seats: vec![1],
            reason: String::new(),
        },
        Request::GetTicket { code: "c".into() },
        Request::TicketKey,
        Request::Scan {
            ticket: "c".into(),
            gate: "g".into(),
            place: cinebook_protocol::door::DoorPlace::default(),
        },
        Request::ReportAdmissions { admissions: vec![] },
        Request::BlockSeatsWithReason {
            show_id: 1,
            seats: vec![1],
            blocked: true,
            reason: "r".into(),
        },
        Request::ListPage(PageRequest {
            list: PagedList::Cities,
            after: None,
            limit: 10,
        }),
        Request::ConfirmWithContact {
            hold_id: 1,
            payment: Payment {
                method: PaymentMethod::Cash,
                amount: eur(1250),
                reference: None,
            },
            idempotency_key: "k".into(),
            contact: Contact::default(),
        },
        Request::CreatePaymentOrderWithContact {
            hold_id: 1,
            idempotency_key: "k".into(),
            contact: Contact::default(),
        },
        Request::CancelShow {
            show_id: 1,
            reason: String::new(),
        },
    ]
}

fn all_replies() -> Vec<Reply> {
    vec![
        Reply::Welcome {
            node_id: 1,
            node_role: NodeRole::Standalone,
            leader: None,
            lamport: 1,
            role: Role::Guest,
            terminal_id: None,
            server_time_ms: 0,
            hold_ttl_ms: 0,
        },
        Reply::Pong {
            nonce: 1,
            server_time_ms: 0,
        },
        Reply::Cities(vec![]),
        Reply::Theaters(vec![]),
        Reply::Movies(vec![]),
        Reply::Shows(vec![summary()]),
        Reply::SeatMap(SeatMap {
            summary: summary(),
            seats: vec![seat()],
            states: vec![SeatState::Free],
            seq: 0,
        }),
        Reply::Held(HoldInfo {
            hold_id: 1,
            show_id: 1,
            seats: vec![],
            labels: vec![],
            expires_at_ms: 0,
            total: eur(0),
        }),
        Reply::Released { hold_id: 1 },
        Reply::Booking(booking()),
        Reply::Bookings(vec![booking()]),
        Reply::Subscribed { show_id: 1, seq: 0 },
        Reply::Unsubscribed { show_id: 1 },
        Reply::ShiftReport(ShiftReport {
            terminal_id: 1,
            from_ms: 0,
            to_ms: 1,
            currency: "EUR".into(),
            lines: vec![],
        }),
        Reply::Done,
        Reply::TerminalAdded {
            terminal_id: 1,
            token: "t".into(),
        },
        Reply::Terminals(vec![]),
        Reply::Screen(screen()),
        Reply::Availability {
            show_id: 1,
            free: vec![(Category::Standard, 1)],
        },
        Reply::AuditTrail(vec![]),
        Reply::NodeStatus {
            node_id: 1,
            node_role: NodeRole::Leader,
            leader_id: None,
            leader_addr: None,
            epoch: 1,
        },
        Reply::Following {
            leader_id: 1,
            epoch: 1,
        },
        Reply::PeerChallenge {
            node_id: 2,
            nonce: [0; PEER_NONCE_BYTES],
            proof: [0; PEER_PROOF_BYTES],
        },
        Reply::PaymentOrder(payment_order()),
        Reply::SeatsRefunded(SeatsRefund {
            booking: booking(),
            seats: vec![1],
            amount: eur(1250),
            method: PaymentMethod::Cash,
            gateway_refund_id: None,
        }),
        Reply::Ticket(cinebook_protocol::door::TicketInfo {
            booking: booking(),
            payload: "CB1:".into(),
            claims: cinebook_protocol::ticket::TicketClaims {
                key_id: [0; 4],
                code: "c".into(),
                show_id: 1,
                screen_id: 1,
                starts_at_ms: 0,
                seats: vec![],
                valid_from_ms: 0,
                valid_until_ms: 1,
                issued_at_ms: 0,
            },
        }),
        Reply::TicketKey(cinebook_protocol::door::TicketKeyInfo {
            public_key: [0; 32],
            key_id: "00000000".into(),
        }),
        Reply::Scan(scan_result()),
        Reply::AdmissionsReported(vec![scan_result()]),
        Reply::Page(Page {
            items: PageItems::Cities(vec![]),
            next: None,
        }),
        Reply::ShowCancelled(ShowCancellation {
            show_id: 1,
            refunded: vec![],
            already_closed: 0,
            failed: vec![],
        }),
    ]
}

fn scan_result() -> cinebook_protocol::door::ScanResult {
    cinebook_protocol::door::ScanResult {
        verdict: cinebook_protocol::door::ScanVerdict::Admitted,
        reason: String::new(),
        code: None,
        booking: None,
        admission: None,
    }
}

fn payment_order() -> PaymentOrderInfo {
    PaymentOrderInfo {
        order_id: 1,
        hold_id: 7,
        show_id: 300,
        gateway_order_id: Some("order_1".into()),
        amount: eur(2500),
        checkout_url: None,
        state: PaymentOrderState::AwaitingPayment,
        window_ends_at_ms: 1,
        booking_code: None,
        payment_id: None,
        reason: None,
    }
}

fn all_pushes() -> Vec<Push> {
    vec![
        Push::SeatsChanged {
            show_id: 1,
            seq: 1,
            cause: ChangeCause::Sold,
            changes: vec![],
        },
        Push::Resync { show_id: 1 },
        Push::ShuttingDown {
            reason: "r".into(),
            reconnect_after_ms: 1,
        },
        Push::Replicated {
            show_id: 1,
            seq: 1,
            lamport: 1,
            event: ReplicatedEvent::Renewed {
                hold_id: 1,
                expires_at_ms: 1,
            },
        },
        Push::Snapshot(ShowSnapshot {
            show_id: 1,
            seq: 1,
            bookings: vec![],
            holds: vec![],
            blocked: vec![],
        }),
        Push::Heartbeat {
            leader_id: 1,
            epoch: 1,
        },
        Push::CatalogChanged,
        Push::Ping { nonce: 1 },
    ]
}

fn all_error_codes() -> Vec<ErrorCode> {
    vec![
        ErrorCode::BadFrame,
        ErrorCode::UnsupportedVersion { min: 1, max: 1 },
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::InvalidArgument,
        ErrorCode::SeatUnavailable { seats: vec![1] },
        ErrorCode::HoldExpired,
        ErrorCode::SoldOut,
        ErrorCode::NotLeader { leader: None },
        ErrorCode::Unavailable,
        ErrorCode::Overloaded,
        ErrorCode::Conflict,
        ErrorCode::Internal,
        ErrorCode::SalesClosed,
        ErrorCode::OutcomeUnknown,
        ErrorCode::NoAdjacentSeats {
            largest_block: 2,
            free: 5,
        },
        ErrorCode::PageRequired {
            list_page_max_items: 500,
        },
    ]
}

#[test]
fn message_tables_match_the_code() {
    assert_table(
        "Body",
        &[
            Body::Request(Request::ListCities),
            Body::Reply(Reply::Done),
            Body::Error(ErrorBody::new(ErrorCode::Internal, "")),
            Body::Push(Push::Resync { show_id: 1 }),
        ],
    );
    assert_table("Request", &all_requests());
    assert_table("Reply", &all_replies());
    assert_table("Push", &all_pushes());
    assert_table("ErrorCode", &all_error_codes());
    assert_table(
        "ReplicatedEvent",
        &[
            ReplicatedEvent::Held {
                hold_id: 1,
                terminal_id: 1,
                seats: vec![],
                expires_at_ms: 1,
                created_at_ms: 1,
                idempotency_key: None,
            },
            ReplicatedEvent::Renewed {
                hold_id: 1,
                expires_at_ms: 1,
            },
            ReplicatedEvent::Released {
                hold_id: 1,
                seats: vec![],
            },
            ReplicatedEvent::Expired {
                hold_id: 1,
                seats: vec![],
            },
            ReplicatedEvent::Sold {
                hold_id: None,
                booking: booking(),
                idempotency_key: "k".into(),
            },
            ReplicatedEvent::Cancelled {
                code: "c".into(),
                refund: true,
            },
            ReplicatedEvent::Blocked {
                seats: vec![],
                blocked: true,
            },
            ReplicatedEvent::AwaitingPayment {
                hold_id: 1,
                order_id: 1,
                expires_at_ms: 1,
            },
            ReplicatedEvent::SeatsRefunded {
                code: "c".into(),
                seats: vec![1],
            },
            ReplicatedEvent::Admitted { code: "c".into() },
        ],
    );
}

#[test]
fn page_tables_match_the_code() {
    assert_table(
        "PagedList",
        &[
            PagedList::Cities,
            PagedList::Theaters { city_id: None },
            PagedList::Movies { city_id: None },
            PagedList::Shows(ShowFilter::default()),
            PagedList::Bookings { show_id: 1 },
            PagedList::Terminals,
            PagedList::AuditTrail { show_id: 1 },
        ],
    );
    assert_table(
        "PageItems",
        &[
            PageItems::Cities(vec![]),
            PageItems::Theaters(vec![]),
            PageItems::Movies(vec![]),
            PageItems::Shows(vec![]),
            PageItems::Bookings(vec![]),
            PageItems::Terminals(vec![]),
            PageItems::AuditTrail(vec![]),
        ],
    );
}

#[test]
fn domain_enum_tables_match_the_code() {
    assert_table("Category", &Category::ALL);
    assert_table(
        "Role",
        &[
            Role::Guest,
            Role::Kiosk,
            Role::BoxOffice,
            Role::Admin,
            Role::Node,
            Role::Web,
            Role::Door,
        ],
    );
    assert_table(
        "NodeRole",
        &[NodeRole::Standalone, NodeRole::Leader, NodeRole::Follower],
    );
    assert_table(
        "SeatState",
        &[
            SeatState::Free,
            SeatState::Held,
            SeatState::Sold,
            SeatState::Blocked,
        ],
    );
    assert_table(
        "SeatSelection",
        &[
            SeatSelection::Ids(vec![]),
            SeatSelection::Labels(vec![]),
            SeatSelection::Best {
                count: 1,
                category: None,
            },
        ],
    );
    assert_table(
        "PaymentMethod",
        &[
            PaymentMethod::Cash,
            PaymentMethod::Card,
            PaymentMethod::Comp,
            PaymentMethod::Gateway,
        ],
    );
    assert_table(
        "PaymentOrderState",
        &[
            PaymentOrderState::Creating,
            PaymentOrderState::AwaitingPayment,
            PaymentOrderState::Captured,
            PaymentOrderState::Booked,
            PaymentOrderState::RefundPending,
            PaymentOrderState::Refunded,
            PaymentOrderState::Expired,
        ],
    );
    use cinebook_protocol::door::ScanVerdict;
    assert_table(
        "ScanVerdict",
        &[
            ScanVerdict::Admitted,
            ScanVerdict::AlreadyAdmitted,
            ScanVerdict::WrongShow,
            ScanVerdict::WrongScreen,
            ScanVerdict::WrongDay,
            ScanVerdict::NotValid,
            ScanVerdict::Duplicate,
        ],
    );
    assert_table(
        "BookingStatus",
        &[
            BookingStatus::Confirmed,
            BookingStatus::Cancelled,
            BookingStatus::Refunded,
            BookingStatus::Admitted,
        ],
    );
    assert_table(
        "ChangeCause",
        &[
            ChangeCause::Held,
            ChangeCause::Released,
            ChangeCause::Expired,
            ChangeCause::Sold,
            ChangeCause::Cancelled,
            ChangeCause::Blocked,
        ],
    );
}

/// Every request, reply, push and error code of the tables survives the frame codec (the tables
/// test only the first byte).
#[test]
fn every_documented_variant_round_trips() {
    let mut envelopes: Vec<Envelope> = Vec::new();
    envelopes.extend(
        all_requests()
            .into_iter()
            .map(|r| Envelope::request(1, 1, r)),
    );
    envelopes.extend(all_replies().into_iter().map(|r| Envelope::reply(1, 2, r)));
    envelopes.extend(all_pushes().into_iter().map(|p| Envelope::push(3, p)));
    envelopes.extend(
        all_error_codes()
            .into_iter()
            .map(|c| Envelope::error(1, 4, ErrorBody::new(c, "m"))),
    );
    for envelope in envelopes {
        let frame = encode_frame(&envelope).expect("encode");
        let mut buf = BytesMut::from(&frame[..]);
        assert_eq!(
            FrameCodec::new().decode(&mut buf).expect("decode"),
            Some(Incoming::Envelope(envelope))
        );
    }
}
