//! Fuzzes whole client connections against one in-process node on the memory store.
//!
//! Run (nightly, from `server/fuzz`):
//!   cargo +nightly fuzz run connection -- -max_total_time=600
//!
//! One node per process is started lazily on a tokio runtime, listening on 127.0.0.1 port 0,
//! over a `MemoryStore` seeded with the sample catalog and one terminal per role. Each input is
//! one connection: the real preface, then a `Hello` (a valid token of some role, a garbage
//! token, a guest, or none at all), then a sequence of actions: raw bytes, well-formed requests
//! built from a small enum (ids near the sample catalog's), requests of every kind decoded by
//! postcard from fuzzer bytes, short reads, or an early close. Checked on every input:
//! - everything the node sends back is well-framed and decodes as an envelope;
//! - the node is still alive afterwards: a fresh connection gets its `Hello` and `Ping`
//!   answered within [`LIVENESS_BOUND`] (a panic otherwise is the finding).
//!
//! Each input is bounded by [`INPUT_BUDGET`] (plus the final drain and the liveness check).
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::BytesMut;
use cinebook_protocol::codec::encode_frame;
use cinebook_protocol::types::{
    Category, Money, Payment, PaymentMethod, Role, SeatSelection, ShowFilter,
};
use cinebook_protocol::{
    preface, Body, Envelope, FrameCodec, Incoming, Reply, Request, PROTOCOL_VERSION,
};
use cinebook_server::config::ConnectionLimits;
use cinebook_server::node::auth::{new_token, token_sha256};
use cinebook_server::store::memory::MemoryStore;
use cinebook_server::store::Store;
use cinebook_server::testing::{sample_catalog, seed_catalog, SAMPLE_SHOW_ID};
use cinebook_server::{Config, RunningServer, Server};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio_util::codec::Decoder;

/// Time one input may spend writing its actions.
const INPUT_BUDGET: Duration = Duration::from_millis(200);
/// How long answers are read after the last action.
const DRAIN: Duration = Duration::from_millis(30);
/// One write may take this long (the node may stop reading a client that does not read).
const WRITE_TIMEOUT: Duration = Duration::from_millis(50);
/// A fresh connection must get `Hello` and `Ping` answered within this.
const LIVENESS_BOUND: Duration = Duration::from_secs(3);
/// Actions per input, at most.
const ACTIONS_MAX: usize = 32;
/// Bytes the reader keeps per connection (the rest is read and dropped).
const READ_KEPT_MAX_BYTES: usize = 1 << 20;

/// The node shared by every input of this process.
struct Fixture {
    runtime: Runtime,
    server: RunningServer,
    /// Valid tokens: kiosk, box office, admin.
    tokens: [String; 3],
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (server, tokens) = runtime.block_on(start_node());
        Fixture {
            runtime,
            server,
            tokens,
        }
    })
}

/// Short timeouts so that failure paths are fast; limits high enough that the fuzzer's own
/// connections from one address never lock the liveness check out.
fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        workers: 2,
        frame_timeout_ms: 200,
        idle_timeout_ms: 2_000,
        store_timeout_ms: 1_000,
        sweep_interval_ms: 50,
        shutdown_grace_ms: 200,
        limits: ConnectionLimits {
            connections_per_address_max: 100_000,
            guest_connections_max: 100_000,
            auth_backoff_ms: 5,
            auth_backoff_max_ms: 50,
            ..ConnectionLimits::default()
        },
        ..Config::default()
    }
}

async fn start_node() -> (RunningServer, [String; 3]) {
    let store = MemoryStore::new();
    store.migrate().await.expect("migrate");
    seed_catalog(&store, &sample_catalog()).await;
    let mut tokens = Vec::new();
    for role in [Role::Kiosk, Role::BoxOffice, Role::Admin] {
        let token = new_token();
        store
            .add_terminal(
                &format!("fuzz-{}", role.name()),
                role,
                &token_sha256(&token),
            )
            .await
            .expect("terminal");
        tokens.push(token);
    }
    let store: Arc<dyn Store> = Arc::new(store);
    let mut config = config();
    config.max_connections = config.max_connections.max(100_000);
    let server = Server::bind(config, store).await.expect("bind").spawn();
    let tokens: [String; 3] = tokens.try_into().expect("three tokens");
    (server, tokens)
}

/// Which `Hello` opens the connection.
#[derive(Arbitrary, Debug)]
enum Opening {
    /// No `Hello`: the first action is the first frame.
    None,
    /// Guest.
    Guest,
    /// A valid token: kiosk, box office or admin (index mod 3).
    Valid(u8),
    /// A token that no terminal has.
    Garbage(String),
}

/// A token choice inside a later `Hello`.
#[derive(Arbitrary, Debug)]
enum TokenChoice {
    Guest,
    Valid(u8),
    Garbage(String),
}

/// Requests built with ids near the sample catalog's, so that they reach the handlers' logic
/// rather than stopping at `NotFound`.
#[derive(Arbitrary, Debug)]
enum Built {
    Hello {
        token: TokenChoice,
        client_name: String,
        odd_version: Option<u16>,
    },
    Ping(u64),
    ListCities,
    ListTheaters(Option<u8>),
    ListMovies(Option<u8>),
    ListShows {
        city: Option<u8>,
        from_ms: Option<u64>,
        to_ms: Option<u64>,
    },
    GetSeatMap(u8),
    HoldIds {
        show: u8,
        seats: Vec<u16>,
        key: Option<String>,
    },
    HoldLabels {
        show: u8,
        labels: Vec<(u8, u8)>,
        key: Option<String>,
    },
    HoldBest {
        show: u8,
        count: u16,
        category: Option<u8>,
    },
    Renew(u8),
    Release(u8),
    Confirm {
        hold: u8,
        method: u8,
        amount_minor: i64,
        currency_ok: bool,
        key: String,
    },
    Cancel {
        code: String,
        refund: bool,
    },
    GetBooking(String),
    ListBookings(u8),
    Subscribe(u8),
    Unsubscribe(u8),
    ShiftReport {
        terminal: Option<u8>,
        from_ms: u64,
        to_ms: u64,
    },
    BlockSeats {
        show: u8,
        seats: Vec<u16>,
        blocked: bool,
    },
    ListTerminals,
    RevokeTerminal(u8),
    GetScreen(u8),
    Availability {
        show: u8,
        category: Option<u8>,
    },
    AuditTrail(u8),
}

/// One step of a connection.
#[derive(Arbitrary, Debug)]
enum Action {
    /// Bytes written as they are (a partial frame, a bad length, garbage).
    Raw(Vec<u8>),
    /// A well-formed request frame.
    Built {
        request: Built,
        lamport: Lamport,
        request_id: u64,
    },
    /// A request of any kind: `[variant, rest..]` decoded by postcard; sent framed when it
    /// decodes, as a framed raw payload otherwise.
    Decoded {
        variant: u8,
        rest: Vec<u8>,
        lamport: Lamport,
        request_id: u64,
    },
    /// Read whatever has arrived for a moment.
    Pause(u8),
    /// Close the connection now (the remaining actions are dropped).
    Close,
}

/// The Lamport time a frame carries.
#[derive(Arbitrary, Debug)]
enum Lamport {
    Small(u8),
    Any(u64),
}

impl Lamport {
    fn value(&self) -> u64 {
        match self {
            Lamport::Small(n) => u64::from(*n),
            Lamport::Any(n) => *n,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    opening: Opening,
    actions: Vec<Action>,
}

fn token(fx: &Fixture, choice: &TokenChoice) -> Option<String> {
    match choice {
        TokenChoice::Guest => None,
        TokenChoice::Valid(i) => Some(fx.tokens[usize::from(*i) % 3].clone()),
        TokenChoice::Garbage(s) => Some(s.clone()),
    }
}

fn show(n: u8) -> u64 {
    // Mostly the sample show, sometimes one that does not exist.
    if n < 200 {
        SAMPLE_SHOW_ID
    } else {
        SAMPLE_SHOW_ID + u64::from(n)
    }
}

fn category(n: u8) -> Category {
    match n % 5 {
        0 => Category::Standard,
        1 => Category::Premium,
        2 => Category::Recliner,
        3 => Category::Wheelchair,
        _ => Category::Companion,
    }
}

fn build(fx: &Fixture, built: &Built) -> Request {
    match built {
        Built::Hello {
            token: choice,
            client_name,
            odd_version,
        } => Request::Hello {
            version: odd_version.unwrap_or(PROTOCOL_VERSION),
            client_name: client_name.clone(),
            token: token(fx, choice),
        },
        Built::Ping(nonce) => Request::Ping { nonce: *nonce },
        Built::ListCities => Request::ListCities,
        Built::ListTheaters(c) => Request::ListTheaters {
            city_id: c.map(u64::from),
        },
        Built::ListMovies(c) => Request::ListMovies {
            city_id: c.map(u64::from),
        },
        Built::ListShows {
            city,
            from_ms,
            to_ms,
        } => Request::ListShows(ShowFilter {
            city_id: city.map(u64::from),
            movie_id: None,
            theater_id: None,
            from_ms: *from_ms,
            to_ms: *to_ms,
        }),
        Built::GetSeatMap(s) => Request::GetSeatMap { show_id: show(*s) },
        Built::HoldIds {
            show: s,
            seats,
            key,
        } => Request::Hold {
            show_id: show(*s),
            selection: SeatSelection::Ids(seats.iter().map(|&n| u32::from(n % 512)).collect()),
            idempotency_key: key.clone(),
        },
        Built::HoldLabels {
            show: s,
            labels,
            key,
        } => Request::Hold {
            show_id: show(*s),
            selection: SeatSelection::Labels(
                labels
                    .iter()
                    .map(|&(row, seat)| format!("{}{}", char::from(b'A' + row % 26), seat % 24))
                    .collect(),
            ),
            idempotency_key: key.clone(),
        },
        Built::HoldBest {
            show: s,
            count,
            category: c,
        } => Request::Hold {
            show_id: show(*s),
            selection: SeatSelection::Best {
                count: *count % 32,
                category: c.map(category),
            },
            idempotency_key: None,
        },
        Built::Renew(h) => Request::Renew {
            hold_id: u64::from(*h),
        },
        Built::Release(h) => Request::Release {
            hold_id: u64::from(*h),
        },
        Built::Confirm {
            hold,
            method,
            amount_minor,
            currency_ok,
            key,
        } => Request::Confirm {
            hold_id: u64::from(*hold),
            payment: Payment {
                method: match method % 3 {
                    0 => PaymentMethod::Cash,
                    1 => PaymentMethod::Card,
                    _ => PaymentMethod::Comp,
                },
                amount: Money {
                    amount_minor: *amount_minor,
                    currency: if *currency_ok { "CHF" } else { "EUR" }.into(),
                },
                reference: None,
            },
            idempotency_key: key.clone(),
        },
        Built::Cancel { code, refund } => Request::Cancel {
            code: code.clone(),
            refund: *refund,
            reason: "fuzz".into(),
        },
        Built::GetBooking(code) => Request::GetBooking { code: code.clone() },
        Built::ListBookings(s) => Request::ListBookings { show_id: show(*s) },
        Built::Subscribe(s) => Request::Subscribe { show_id: show(*s) },
        Built::Unsubscribe(s) => Request::Unsubscribe { show_id: show(*s) },
        Built::ShiftReport {
            terminal,
            from_ms,
            to_ms,
        } => Request::ShiftReport {
            terminal_id: terminal.map(u64::from),
            from_ms: *from_ms,
            to_ms: *to_ms,
        },
        Built::BlockSeats {
            show: s,
            seats,
            blocked,
        } => Request::BlockSeats {
            show_id: show(*s),
            seats: seats.iter().map(|&n| u32::from(n % 512)).collect(),
            blocked: *blocked,
        },
        Built::ListTerminals => Request::ListTerminals,
        // Never the fixture's own terminals (ids 1..=3 are the first added): revoking them
        // would only turn every later valid-token input into a garbage-token one.
        Built::RevokeTerminal(t) => Request::RevokeTerminal {
            terminal_id: 4 + u64::from(*t),
        },
        Built::GetScreen(s) => Request::GetScreen {
            screen_id: 100 + u64::from(*s % 4),
        },
        Built::Availability {
            show: s,
            category: c,
        } => Request::Availability {
            show_id: show(*s),
            category: c.map(category),
        },
        Built::AuditTrail(s) => Request::AuditTrail { show_id: show(*s) },
    }
}

/// A frame whose payload is `payload` as it is (length prefix, then the bytes).
fn raw_frame(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut frame = len.to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    frame
}

/// What one action does on the wire.
enum Step {
    Write(Vec<u8>),
    Pause(Duration),
    Close,
}

fn step_of(fx: &Fixture, action: &Action) -> Step {
    let frame = |id: u64, lamport: u64, request: Request| {
        encode_frame(&Envelope::request(id, lamport, request)).unwrap_or_default()
    };
    match action {
        Action::Raw(bytes) => Step::Write(bytes.clone()),
        Action::Built {
            request,
            lamport,
            request_id,
        } => Step::Write(frame(*request_id, lamport.value(), build(fx, request))),
        Action::Decoded {
            variant,
            rest,
            lamport,
            request_id,
        } => {
            let mut payload = vec![*variant % 40];
            payload.extend_from_slice(rest);
            Step::Write(match postcard::from_bytes::<Request>(&payload) {
                Ok(request) => frame(*request_id, lamport.value(), request),
                Err(_) => raw_frame(&payload),
            })
        }
        Action::Pause(ms) => Step::Pause(Duration::from_millis(u64::from(*ms % 20))),
        Action::Close => Step::Close,
    }
}

/// Reads everything the node sends until it closes or `stop` fires; keeps the first bytes.
async fn read_all(mut read: tokio::net::tcp::OwnedReadHalf) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = READ_KEPT_MAX_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// Checks that what the node sent is the preface answer and then well-formed envelopes (the
/// last frame may be cut short by our close).
fn check_answers(bytes: &[u8]) {
    if bytes.len() < preface::PREFACE_LEN || bytes.len() >= READ_KEPT_MAX_BYTES {
        return;
    }
    let mut buf = BytesMut::from(&bytes[preface::PREFACE_LEN..]);
    let mut codec = FrameCodec::new();
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(Incoming::Envelope(_))) => {}
            Ok(Some(Incoming::Malformed { reason, .. })) => {
                panic!("the node sent a malformed frame: {reason}")
            }
            Ok(None) => return,
            Err(e) => panic!("the node sent an undecodable stream: {e:?}"),
        }
    }
}

async fn drive(fx: &'static Fixture, addr: SocketAddr, input: Input) {
    let Ok(Ok(stream)) = tokio::time::timeout(LIVENESS_BOUND, TcpStream::connect(addr)).await
    else {
        panic!("the node does not accept connections");
    };
    let (read, mut write) = stream.into_split();
    let mut reader = tokio::spawn(read_all(read));
    let deadline = tokio::time::Instant::now() + INPUT_BUDGET;
    let mut steps = vec![Step::Write(preface::encode(PROTOCOL_VERSION).to_vec())];
    let opening = match &input.opening {
        Opening::None => None,
        Opening::Guest => Some(None),
        Opening::Valid(i) => Some(Some(fx.tokens[usize::from(*i) % 3].clone())),
        Opening::Garbage(s) => Some(Some(s.clone())),
    };
    if let Some(token) = opening {
        let hello = Request::Hello {
            version: PROTOCOL_VERSION,
            client_name: "fuzz".into(),
            token,
        };
        steps.push(Step::Write(
            encode_frame(&Envelope::request(1, 1, hello)).unwrap_or_default(),
        ));
    }
    steps.extend(
        input
            .actions
            .iter()
            .take(ACTIONS_MAX)
            .map(|a| step_of(fx, a)),
    );
    for step in steps {
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        match step {
            Step::Write(bytes) => {
                match tokio::time::timeout(WRITE_TIMEOUT, write.write_all(&bytes)).await {
                    Ok(Ok(())) => {}
                    // The node closed or stopped reading: what it sent so far is still checked.
                    _ => break,
                }
            }
            Step::Pause(pause) => tokio::time::sleep(pause).await,
            Step::Close => break,
        }
    }
    tokio::time::sleep(DRAIN).await;
    drop(write);
    match tokio::time::timeout(DRAIN, &mut reader).await {
        Ok(Ok(bytes)) => check_answers(&bytes),
        Ok(Err(e)) => panic!("reader task failed: {e}"),
        // Still sending (a subscription's pushes): the connection is dropped with the task.
        Err(_) => reader.abort(),
    }
}

/// A fresh guest connection gets its `Hello` and a `Ping` answered.
async fn alive(addr: SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut out = preface::encode(PROTOCOL_VERSION).to_vec();
    let hello = Request::Hello {
        version: PROTOCOL_VERSION,
        client_name: "liveness".into(),
        token: None,
    };
    out.extend(encode_frame(&Envelope::request(1, 1, hello)).map_err(|e| e.to_string())?);
    out.extend(
        encode_frame(&Envelope::request(2, 2, Request::Ping { nonce: 77 }))
            .map_err(|e| e.to_string())?,
    );
    stream
        .write_all(&out)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = [0u8; preface::PREFACE_LEN];
    stream
        .read_exact(&mut answer)
        .await
        .map_err(|e| format!("preface: {e}"))?;
    let mut buf = BytesMut::new();
    let mut codec = FrameCodec::new();
    let mut welcomed = false;
    loop {
        while let Some(item) = codec.decode(&mut buf).map_err(|e| format!("{e:?}"))? {
            let Incoming::Envelope(envelope) = item else {
                return Err("malformed answer".into());
            };
            match (envelope.request_id, envelope.body) {
                (1, Body::Reply(_)) => welcomed = true,
                (2, Body::Reply(Reply::Pong { nonce: 77, .. })) if welcomed => return Ok(()),
                (_, Body::Push(_)) => {}
                (id, body) => return Err(format!("unexpected answer to {id}: {body:?}")),
            }
        }
        let n = stream
            .read_buf(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed before Pong".into());
        }
    }
}

fuzz_target!(|input: Input| {
    let fx = fixture();
    let addr = fx.server.addr;
    fx.runtime.block_on(async {
        drive(fx, addr, input).await;
        match tokio::time::timeout(LIVENESS_BOUND, alive(addr)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("node not alive after the input: {e}"),
            Err(_) => panic!("node did not answer Hello and Ping within {LIVENESS_BOUND:?}"),
        }
    });
});
