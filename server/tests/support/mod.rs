//! Shared test harness: a node on 127.0.0.1 port 0 over a fresh MariaDB database, terminals for
//! every role, a raw protocol client, and a TCP proxy that can cut the node off from MySQL.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cinebook_protocol::types::{Money, Payment, PaymentMethod, Role, SeatSelection, ShowId};
use cinebook_protocol::{
    preface, Body, Envelope, ErrorBody, FrameCodec, Incoming, Push, Reply, Request,
    PROTOCOL_VERSION,
};
use cinebook_server::node::auth;
use cinebook_server::store::mysql::{MysqlLimits, MysqlStore};
use cinebook_server::store::Store;
use cinebook_server::testing::{sample_catalog, seed_catalog, TestDatabase, SAMPLE_SHOW_ID};
use cinebook_server::{Config, RunningServer, Server};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// The sample show (400 seats).
pub const SHOW: ShowId = SAMPLE_SHOW_ID;

/// A test node and what it needs.
pub struct TestNode {
    pub db: TestDatabase,
    pub server: RunningServer,
    pub tokens: HashMap<Role, Vec<String>>,
    /// The store the node runs on (through the proxy or a wrapper when the test says so).
    pub store: Arc<dyn Store>,
}

/// Config for tests: short timeouts so failure paths are fast.
pub fn test_config() -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        workers: 2,
        frame_timeout_ms: 1_000,
        store_timeout_ms: 3_000,
        sweep_interval_ms: 50,
        shutdown_grace_ms: 2_000,
        ..Config::default()
    }
}

/// Store limits for tests: a dead database is noticed within two seconds.
pub fn test_limits() -> MysqlLimits {
    MysqlLimits {
        operation_timeout: Duration::from_secs(2),
        ..MysqlLimits::default()
    }
}

/// A fresh database with the sample catalog and two terminals per role (kiosk, box-office,
/// admin); returns the tokens.
pub async fn prepare_database() -> (TestDatabase, HashMap<Role, Vec<String>>) {
    let db = TestDatabase::create().await;
    let seed = db.store().await;
    seed.migrate().await.expect("migrate");
    seed_catalog(&seed, &sample_catalog()).await;
    let mut tokens: HashMap<Role, Vec<String>> = HashMap::new();
    for role in [Role::Kiosk, Role::BoxOffice, Role::Admin] {
        for i in 0..2 {
            let token = auth::new_token();
            seed.add_terminal(
                &format!("{}-{i}", role.name()),
                role,
                &auth::token_sha256(&token),
            )
            .await
            .expect("terminal");
            tokens.entry(role).or_default().push(token);
        }
    }
    (db, tokens)
}

/// A MySQL store on `url` with [`test_limits`].
pub async fn mysql_store(url: &str) -> Arc<MysqlStore> {
    Arc::new(
        MysqlStore::connect(url, test_limits())
            .await
            .expect("store"),
    )
}

impl TestNode {
    /// A node over a fresh database with the sample catalog and two terminals per role.
    pub async fn start() -> TestNode {
        Self::start_with(test_config(), None).await
    }

    /// Like [`TestNode::start`]; `store_url` overrides the database URL (for the proxy).
    pub async fn start_with(config: Config, store_url: Option<String>) -> TestNode {
        let (db, tokens) = prepare_database().await;
        let url = store_url.unwrap_or_else(|| db.url.clone());
        let store = mysql_store(&url).await;
        Self::start_on(db, tokens, config, store).await
    }

    /// A node on a prepared database and a store of the test's choosing.
    pub async fn start_on(
        db: TestDatabase,
        tokens: HashMap<Role, Vec<String>>,
        config: Config,
        store: Arc<dyn Store>,
    ) -> TestNode {
        let server = Server::bind(config, store.clone())
            .await
            .expect("bind")
            .spawn();
        TestNode {
            db,
            server,
            tokens,
            store,
        }
    }

    /// Stops this node (gracefully) and starts a new one on the same database, straight to
    /// MySQL: what an operator's restart does.
    pub async fn restart(self, config: Config) -> TestNode {
        let TestNode {
            db, server, tokens, ..
        } = self;
        server.stop().await;
        let store = mysql_store(&db.url).await;
        Self::start_on(db, tokens, config, store).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub fn token(&self, role: Role, index: usize) -> String {
        self.tokens[&role][index].clone()
    }

    pub async fn client(&self, role: Role, index: usize) -> TestClient {
        TestClient::connect(self.addr(), Some(self.token(role, index))).await
    }

    /// Adds a terminal through the store and returns its token.
    pub async fn add_terminal(&self, name: &str, role: Role) -> String {
        let token = auth::new_token();
        self.store
            .add_terminal(name, role, &auth::token_sha256(&token))
            .await
            .expect("add terminal");
        token
    }

    /// A direct MySQL connection to the test database (not through any proxy).
    pub async fn mysql(&self) -> mysql_async::Conn {
        mysql_async::Conn::from_url(self.db.url.as_str())
            .await
            .expect("mysql")
    }

    pub async fn stop(self) {
        self.server.stop().await;
        self.db.drop_database().await;
    }
}

/// A raw protocol client: pipelining by hand, pushes kept aside.
pub struct TestClient {
    framed: Framed<TcpStream, FrameCodec>,
    next_id: u64,
    lamport: u64,
    pub pushes: VecDeque<Push>,
    stash: HashMap<u64, Body>,
    pub welcome: Option<Reply>,
}

impl TestClient {
    pub async fn connect(addr: SocketAddr, token: Option<String>) -> TestClient {
        let mut client = Self::connect_raw(addr).await;
        let welcome = client
            .call(Request::Hello {
                version: PROTOCOL_VERSION,
                client_name: "test".into(),
                token,
            })
            .await;
        client.welcome = Some(welcome.expect("hello"));
        client
    }

    /// Like [`TestClient::connect`], but `None` when the node is down or hangs up.
    pub async fn try_connect(addr: SocketAddr, token: Option<String>) -> Option<TestClient> {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(&preface::encode(PROTOCOL_VERSION))
            .await
            .ok()?;
        let mut answer = [0u8; preface::PREFACE_LEN];
        stream.read_exact(&mut answer).await.ok()?;
        let mut client = TestClient::over(stream);
        let id = client
            .send(Request::Hello {
                version: PROTOCOL_VERSION,
                client_name: "test".into(),
                token,
            })
            .await;
        let frame = tokio::time::timeout(Duration::from_secs(5), client.framed.next())
            .await
            .ok()??
            .ok()?;
        match frame {
            Incoming::Envelope(Envelope {
                request_id,
                body: Body::Reply(welcome),
                ..
            }) if request_id == id => {
                client.welcome = Some(welcome);
                Some(client)
            }
            _ => None,
        }
    }

    /// Preface only, no hello.
    pub async fn connect_raw(addr: SocketAddr) -> TestClient {
        TestClient::over(raw_connection(addr).await)
    }

    fn over(stream: TcpStream) -> TestClient {
        TestClient {
            framed: Framed::new(stream, FrameCodec::new()),
            next_id: 1,
            lamport: 0,
            pushes: VecDeque::new(),
            stash: HashMap::new(),
            welcome: None,
        }
    }

    pub async fn send(&mut self, request: Request) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.lamport += 1;
        self.framed
            .send(Envelope::request(id, self.lamport, request))
            .await
            .expect("send");
        id
    }

    /// Sends several requests in one write (the server reads them in one go); their ids.
    pub async fn send_batch(&mut self, requests: Vec<Request>) -> Vec<u64> {
        let mut ids = Vec::with_capacity(requests.len());
        for request in requests {
            let id = self.next_id;
            self.next_id += 1;
            self.lamport += 1;
            self.framed
                .feed(Envelope::request(id, self.lamport, request))
                .await
                .expect("feed");
            ids.push(id);
        }
        SinkExt::<Envelope>::flush(&mut self.framed)
            .await
            .expect("flush");
        ids
    }

    /// Waits for the answer to `id` (keeping pushes and other answers aside).
    pub async fn wait(&mut self, id: u64) -> Result<Reply, ErrorBody> {
        loop {
            if let Some(body) = self.stash.remove(&id) {
                return into_result(body);
            }
            let envelope = self
                .next_envelope()
                .await
                .expect("connection closed while waiting");
            match envelope.body {
                Body::Push(push) => self.pushes.push_back(push),
                body => {
                    self.stash.insert(envelope.request_id, body);
                }
            }
        }
    }

    pub async fn next_envelope(&mut self) -> Option<Envelope> {
        let item = tokio::time::timeout(Duration::from_secs(20), self.framed.next())
            .await
            .expect("timed out waiting for a frame")?;
        match item.expect("frame") {
            Incoming::Envelope(envelope) => {
                self.lamport = self.lamport.max(envelope.lamport) + 1;
                Some(envelope)
            }
            Incoming::Malformed { reason, .. } => panic!("server sent a malformed frame: {reason}"),
        }
    }

    /// The next frame if one comes within `within`: `Ok(None)` when the server closed the
    /// connection (or reset it), `Err(())` when nothing came in time.
    pub async fn next_within(&mut self, within: Duration) -> Result<Option<Envelope>, ()> {
        match tokio::time::timeout(within, self.framed.next()).await {
            Err(_) => Err(()),
            Ok(None) | Ok(Some(Err(_))) => Ok(None),
            Ok(Some(Ok(Incoming::Envelope(envelope)))) => {
                self.lamport = self.lamport.max(envelope.lamport) + 1;
                Ok(Some(envelope))
            }
            Ok(Some(Ok(Incoming::Malformed { reason, .. }))) => {
                panic!("server sent a malformed frame: {reason}")
            }
        }
    }

    /// Waits for the next push.
    pub async fn next_push(&mut self) -> Push {
        loop {
            if let Some(push) = self.pushes.pop_front() {
                return push;
            }
            let envelope = self.next_envelope().await.expect("closed");
            match envelope.body {
                Body::Push(push) => return push,
                body => {
                    self.stash.insert(envelope.request_id, body);
                }
            }
        }
    }

    /// Like [`TestClient::call`], but `None` when the connection breaks (a node killed mid-call).
    pub async fn try_call(&mut self, request: Request) -> Option<Result<Reply, ErrorBody>> {
        let id = self.next_id;
        self.next_id += 1;
        self.lamport += 1;
        self.framed
            .send(Envelope::request(id, self.lamport, request))
            .await
            .ok()?;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.framed.next())
                .await
                .ok()??
                .ok()?;
            let Incoming::Envelope(envelope) = frame else {
                return None;
            };
            match envelope.body {
                Body::Push(push) => self.pushes.push_back(push),
                body if envelope.request_id == id => return Some(into_result(body)),
                body => {
                    self.stash.insert(envelope.request_id, body);
                }
            }
        }
    }

    pub async fn call(&mut self, request: Request) -> Result<Reply, ErrorBody> {
        let id = self.send(request).await;
        self.wait(id).await
    }

    pub async fn hold_seats(
        &mut self,
        show_id: ShowId,
        labels: &[&str],
    ) -> Result<Reply, ErrorBody> {
        let selection = SeatSelection::Labels(labels.iter().map(|s| s.to_string()).collect());
        self.call(Request::Hold {
            show_id,
            selection,
            idempotency_key: None,
        })
        .await
    }

    /// Confirms a hold paying exactly what it costs.
    pub async fn confirm(
        &mut self,
        hold: &cinebook_protocol::types::HoldInfo,
        method: PaymentMethod,
        key: &str,
    ) -> Result<Reply, ErrorBody> {
        let amount = if method == PaymentMethod::Comp {
            Money {
                amount_minor: 0,
                currency: hold.total.currency.clone(),
            }
        } else {
            hold.total.clone()
        };
        let payment = Payment {
            method,
            amount,
            reference: None,
        };
        self.call(Request::Confirm {
            hold_id: hold.hold_id,
            payment,
            idempotency_key: key.into(),
        })
        .await
    }
}

pub fn into_result(body: Body) -> Result<Reply, ErrorBody> {
    match body {
        Body::Reply(reply) => Ok(reply),
        Body::Error(error) => Err(error),
        other => panic!("unexpected body {other:?}"),
    }
}

pub fn held(reply: Result<Reply, ErrorBody>) -> cinebook_protocol::types::HoldInfo {
    match reply {
        Ok(Reply::Held(info)) => info,
        other => panic!("expected Held, got {other:?}"),
    }
}

pub fn booked(reply: Result<Reply, ErrorBody>) -> cinebook_protocol::types::Booking {
    match reply {
        Ok(Reply::Booking(b)) => b,
        other => panic!("expected Booking, got {other:?}"),
    }
}

impl TestClient {
    /// Best-available `count` seats of `category` (`None`: standard).
    pub async fn hold_best(
        &mut self,
        show_id: ShowId,
        count: u16,
        category: Option<cinebook_protocol::types::Category>,
    ) -> Result<Reply, ErrorBody> {
        self.call(Request::Hold {
            show_id,
            selection: SeatSelection::Best { count, category },
            idempotency_key: None,
        })
        .await
    }

    /// The terminal id the node welcomed this client with.
    pub fn terminal_id(&self) -> u64 {
        match &self.welcome {
            Some(Reply::Welcome { terminal_id, .. }) => terminal_id.unwrap_or(0),
            other => panic!("no welcome: {other:?}"),
        }
    }

    /// The seat map.
    pub async fn seat_map(&mut self, show_id: ShowId) -> cinebook_protocol::types::SeatMap {
        match self.call(Request::GetSeatMap { show_id }).await {
            Ok(Reply::SeatMap(map)) => map,
            other => panic!("expected SeatMap, got {other:?}"),
        }
    }

    /// Waits for the connection to close (EOF or reset), keeping frames aside; panics after
    /// `within`.
    pub async fn expect_closed(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Err(_) => panic!("connection still open after {within:?}"),
                Ok(None) | Ok(Some(Err(_))) => return,
                Ok(Some(Ok(Incoming::Envelope(envelope)))) => match envelope.body {
                    Body::Push(push) => self.pushes.push_back(push),
                    body => {
                        self.stash.insert(envelope.request_id, body);
                    }
                },
                Ok(Some(Ok(Incoming::Malformed { reason, .. }))) => {
                    panic!("server sent a malformed frame: {reason}")
                }
            }
        }
    }
}

/// The error in an answer, or a panic saying what came instead.
pub fn error_of(answer: Result<Reply, ErrorBody>) -> ErrorBody {
    match answer {
        Err(error) => error,
        Ok(reply) => panic!("expected an error, got {reply:?}"),
    }
}

/// Reads one whole frame from a raw stream (after the preface) within `within`.
pub async fn read_raw_frame(stream: &mut TcpStream, within: Duration) -> Option<Envelope> {
    let read = async {
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).await.ok()?;
        let len = u32::from_be_bytes(header) as usize;
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await.ok()?;
        match cinebook_protocol::codec::decode_payload(&payload) {
            Incoming::Envelope(envelope) => Some(envelope),
            Incoming::Malformed { reason, .. } => panic!("server sent a malformed frame: {reason}"),
        }
    };
    tokio::time::timeout(within, read)
        .await
        .expect("timed out waiting for a frame")
}

/// Asserts the peer closes the raw stream within `within` (reads nothing more but EOF).
pub async fn expect_raw_eof(stream: &mut TcpStream, within: Duration) {
    let mut rest = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut rest))
        .await
        .expect("the server did not close the connection");
    // A reset after the server closed with unread input is a close too.
    if read.is_ok() {
        assert!(rest.is_empty(), "unexpected bytes before close: {rest:?}");
    }
}

/// Opens a raw connection and exchanges the preface (no hello).
pub async fn raw_connection(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(&preface::encode(PROTOCOL_VERSION))
        .await
        .expect("preface");
    let mut answer = [0u8; preface::PREFACE_LEN];
    stream
        .read_exact(&mut answer)
        .await
        .expect("server preface");
    assert_eq!(
        preface::check(&answer),
        preface::PrefaceCheck::Accepted(PROTOCOL_VERSION)
    );
    stream
}

/// Sends a Hello on a raw connection and waits for the Welcome.
pub async fn raw_hello(stream: &mut TcpStream, token: Option<String>) {
    let hello = Envelope::request(
        1,
        1,
        Request::Hello {
            version: PROTOCOL_VERSION,
            client_name: "raw".into(),
            token,
        },
    );
    let frame = cinebook_protocol::codec::encode_frame(&hello).expect("encode");
    stream.write_all(&frame).await.expect("hello");
    match read_raw_frame(stream, Duration::from_secs(10)).await {
        Some(Envelope {
            body: Body::Reply(Reply::Welcome { .. }),
            ..
        }) => {}
        other => panic!("expected Welcome, got {other:?}"),
    }
}

/// A box-office terminal selling on its own connection in the background, one seat at a time:
/// hold, confirm (cash), cancel with refund, so it never runs out of seats. It counts finished
/// cycles; any unexpected answer fails the test through [`Seller::finish`].
pub struct Seller {
    cycles: Arc<std::sync::atomic::AtomicU64>,
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Seller {
    pub async fn start(node: &TestNode) -> Seller {
        let mut client = node.client(Role::BoxOffice, 1).await;
        let cycles = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = tokio_util::sync::CancellationToken::new();
        let (count, stopped) = (cycles.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut n = 0u64;
            while !stopped.is_cancelled() {
                n += 1;
                let hold = held(client.hold_best(SHOW, 1, None).await);
                let booking = booked(
                    client
                        .confirm(&hold, PaymentMethod::Cash, &format!("seller-{n}"))
                        .await,
                );
                let cancelled = booked(
                    client
                        .call(Request::Cancel {
                            code: booking.code,
                            refund: true,
                            reason: "seller test cycle".into(),
                        })
                        .await,
                );
                assert_eq!(
                    cancelled.status,
                    cinebook_protocol::types::BookingStatus::Refunded
                );
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        Seller { cycles, stop, task }
    }

    pub fn cycles(&self) -> u64 {
        self.cycles.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until the seller finished `more` cycles beyond now (panics after 20 s).
    pub async fn expect_progress(&self, more: u64) {
        let target = self.cycles() + more;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.cycles() < target {
            assert!(
                !self.task.is_finished(),
                "the seller stopped (it panicked: see above)"
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "the seller made no progress: {} of {target} cycles",
                self.cycles()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the seller and propagates its panic, if any. Returns the cycles done.
    pub async fn finish(self) -> u64 {
        self.stop.cancel();
        let cycles = self.cycles.clone();
        match tokio::time::timeout(Duration::from_secs(20), self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => std::panic::resume_unwind(e.into_panic()),
            Err(_) => panic!("the seller did not stop"),
        }
        cycles.load(std::sync::atomic::Ordering::SeqCst)
    }
}
