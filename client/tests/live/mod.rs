//! A real CineBook node for the end-to-end tests: `cinebook_server::Server` on 127.0.0.1 port 0
//! over a fresh MariaDB database (one per test) with the sample catalog and one terminal per role.
//!
//! `TestDatabase::create` panics when MySQL cannot be reached (`CINEBOOK_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306`): these tests fail loudly, they never skip.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cinebook_client::types::{Money, Payment, PaymentMethod, Role, ShowId};
use cinebook_client::ClientConfig;
use cinebook_server::node::auth;
use cinebook_server::store::mysql::{MysqlLimits, MysqlStore};
use cinebook_server::store::Store;
use cinebook_server::testing::{sample_catalog, seed_catalog, TestDatabase, SAMPLE_SHOW_ID};
use cinebook_server::{Config, RunningServer, Server};

/// The sample show: 400 seats, rows A..T of 20; A1-A2 wheelchair, A3-A4 companion, S and T
/// premium.
pub const SHOW: ShowId = SAMPLE_SHOW_ID;
/// Its standard price, in minor units.
pub const STANDARD_PRICE: i64 = cinebook_server::testing::SAMPLE_STANDARD_PRICE;
/// Its currency.
pub const CURRENCY: &str = cinebook_server::testing::SAMPLE_CURRENCY;

/// Longest time one end-to-end test may take before it fails.
pub const TEST_LIMIT: Duration = Duration::from_secs(60);

/// How long a restarted node retries binding its old port.
const REBIND_FOR: Duration = Duration::from_secs(5);

/// A running node, its database and a token per role.
pub struct LiveNode {
    db: Option<TestDatabase>,
    server: Option<RunningServer>,
    /// Where it listens (kept across restarts).
    pub addr: SocketAddr,
    tokens: HashMap<Role, String>,
    /// Applied to the node's config at every start (a test's own limits).
    edit: fn(&mut Config),
}

/// Short server timeouts so that failure paths are fast.
fn config(listen: SocketAddr) -> Config {
    Config {
        listen,
        workers: 2,
        frame_timeout_ms: 2_000,
        store_timeout_ms: 5_000,
        sweep_interval_ms: 50,
        shutdown_grace_ms: 2_000,
        ..Config::default()
    }
}

async fn store(db: &TestDatabase) -> Arc<MysqlStore> {
    let limits = MysqlLimits {
        operation_timeout: Duration::from_secs(5),
        ..MysqlLimits::default()
    };
    Arc::new(
        MysqlStore::connect(&db.url, limits)
            .await
            .expect("connect to the test database"),
    )
}

impl LiveNode {
    /// A node over a fresh database with the sample catalog and one terminal per role.
    pub async fn start() -> LiveNode {
        Self::start_configured(|_| {}).await
    }

    /// Like [`LiveNode::start`], with `edit` applied to the node's config (here and on restarts).
    pub async fn start_configured(edit: fn(&mut Config)) -> LiveNode {
        let db = TestDatabase::create().await;
        let seed = db.store().await;
        seed_catalog(&seed, &sample_catalog()).await;
        let mut tokens = HashMap::new();
        for role in [Role::Kiosk, Role::BoxOffice, Role::Admin] {
            let token = auth::new_token();
            seed.add_terminal(
                &format!("e2e-{}", role.name()),
                role,
                &auth::token_sha256(&token),
            )
            .await
            .expect("add terminal");
            tokens.insert(role, token);
        }
        let listen: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let mut config = config(listen);
        edit(&mut config);
        let server = Server::bind(config, store(&db).await)
            .await
            .expect("bind")
            .spawn();
        LiveNode {
            addr: server.addr,
            db: Some(db),
            server: Some(server),
            tokens,
            edit,
        }
    }

    /// `HOST:PORT`.
    pub fn addr_string(&self) -> String {
        self.addr.to_string()
    }

    /// The token of the terminal with `role` (kiosk, box office or admin).
    pub fn token(&self, role: Role) -> String {
        self.tokens[&role].clone()
    }

    /// A client configuration for `role` with test-sized timeouts.
    pub fn client_config(&self, role: Role) -> ClientConfig {
        ClientConfig {
            client_name: format!("e2e-{}", role.name()),
            call_timeout_ms: 15_000,
            ..ClientConfig::with_token(self.token(role))
        }
    }

    /// Stops the node gracefully (the database stays).
    pub async fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Starts a new node on the same database and the same port, retrying the bind briefly.
    pub async fn start_again(&mut self) {
        assert!(self.server.is_none(), "stop the node first");
        let db = self.db.as_ref().expect("database");
        let store = store(db).await;
        let deadline = tokio::time::Instant::now() + REBIND_FOR;
        let server = loop {
            let mut config = config(self.addr);
            (self.edit)(&mut config);
            match Server::bind(config, store.clone()).await {
                Ok(server) => break server,
                Err(error) if tokio::time::Instant::now() < deadline => {
                    eprintln!("rebinding {}: {error}; retrying", self.addr);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("cannot bind {} again: {error}", self.addr),
            }
        };
        let server = server.spawn();
        assert_eq!(server.addr, self.addr);
        self.server = Some(server);
    }

    /// Stops the node and drops its database.
    pub async fn stop(mut self) {
        self.stop_server().await;
        if let Some(db) = self.db.take() {
            db.drop_database().await;
        }
    }
}

/// A runtime for the node in tests whose own thread blocks (CLI processes, the blocking facade).
pub fn node_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The payment for a hold's total.
pub fn pay(method: PaymentMethod, total: &Money) -> Payment {
    Payment {
        method,
        amount: if method == PaymentMethod::Comp {
            Money {
                amount_minor: 0,
                currency: total.currency.clone(),
            }
        } else {
            total.clone()
        },
        reference: None,
    }
}

/// A local port on which nothing listens (bound, then closed).
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}
