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
    pub store: Arc<MysqlStore>,
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

impl TestNode {
    /// A node over a fresh database with the sample catalog and two terminals per role.
    pub async fn start() -> TestNode {
        Self::start_with(test_config(), None).await
    }

    /// Like [`TestNode::start`]; `store_url` overrides the database URL (for the proxy).
    pub async fn start_with(config: Config, store_url: Option<String>) -> TestNode {
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
        let url = store_url.unwrap_or_else(|| db.url.clone());
        let limits = MysqlLimits {
            operation_timeout: Duration::from_secs(2),
            ..MysqlLimits::default()
        };
        let store = Arc::new(MysqlStore::connect(&url, limits).await.expect("store"));
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

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub fn token(&self, role: Role, index: usize) -> String {
        self.tokens[&role][index].clone()
    }

    pub async fn client(&self, role: Role, index: usize) -> TestClient {
        TestClient::connect(self.addr(), Some(self.token(role, index))).await
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
        stream.write_all(&preface::encode(PROTOCOL_VERSION)).await.ok()?;
        let mut answer = [0u8; preface::PREFACE_LEN];
        stream.read_exact(&mut answer).await.ok()?;
        let mut client = TestClient { framed: Framed::new(stream, FrameCodec::new()), next_id: 1, lamport: 0, pushes: VecDeque::new(), stash: HashMap::new(), welcome: None };
        let id = client.send(Request::Hello { version: PROTOCOL_VERSION, client_name: "test".into(), token }).await;
        let frame = tokio::time::timeout(Duration::from_secs(5), client.framed.next()).await.ok()??.ok()?;
        match frame {
            Incoming::Envelope(Envelope { request_id, body: Body::Reply(welcome), .. }) if request_id == id => {
                client.welcome = Some(welcome);
                Some(client)
            }
            _ => None,
        }
    }

    /// Preface only, no hello.
    pub async fn connect_raw(addr: SocketAddr) -> TestClient {
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
        self.framed.send(Envelope::request(id, self.lamport, request)).await.ok()?;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.framed.next()).await.ok()??.ok()?;
            let Incoming::Envelope(envelope) = frame else { return None };
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
