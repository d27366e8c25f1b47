//! TLS on the client port end to end, over real TCP and MariaDB: a sale through the library
//! over TLS with a self-signed certificate made here, and clear errors (not a hang) for a plain
//! client on a TLS port and a TLS client on a plain port.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cinebook_client::types::{PaymentMethod, Role, SeatSelection};
use cinebook_client::{Client, ClientConfig, Error, TlsOptions};
use cinebook_server::net::tls::TlsFiles;
use cinebook_server::node::auth;
use cinebook_server::store::mysql::MysqlStore;
use cinebook_server::store::Store;
use cinebook_server::testing::{sample_catalog, seed_catalog, TestDatabase, SAMPLE_SHOW_ID};
use cinebook_server::{Config, RunningServer, Server};

/// Every refusal must come back well within this (the client's call timeout is 10 s).
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

struct Node {
    db: TestDatabase,
    server: RunningServer,
    kiosk: String,
}

async fn start(tls: Option<TlsFiles>) -> Node {
    let db = TestDatabase::create().await;
    let seed = db.store().await;
    seed_catalog(&seed, &sample_catalog()).await;
    let kiosk = auth::new_token();
    seed.add_terminal("tls-kiosk", Role::Kiosk, &auth::token_sha256(&kiosk))
        .await
        .expect("terminal");
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        workers: 2,
        frame_timeout_ms: 2_000,
        shutdown_grace_ms: 2_000,
        tls,
        ..Config::default()
    };
    let store = Arc::new(
        MysqlStore::connect(&db.url, Default::default())
            .await
            .expect("store"),
    );
    let server = Server::bind(config, store).await.expect("bind").spawn();
    Node { db, server, kiosk }
}

impl Node {
    async fn stop(self) {
        self.server.stop().await;
        self.db.drop_database().await;
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost: (cert file, key file) in `dir`.
fn self_signed(dir: &Path) -> TlsFiles {
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
    let cert_path = dir.join("node.pem");
    let key_path = dir.join("node.key");
    std::fs::write(&cert_path, certified.cert.pem()).expect("write cert");
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("write key");
    TlsFiles {
        cert_path,
        key_path,
    }
}

fn config(token: &str, tls: Option<TlsOptions>) -> ClientConfig {
    ClientConfig {
        client_name: "tls-test".into(),
        connect_timeout_ms: 2_000,
        call_timeout_ms: 3_000,
        attempts_max: 2,
        tls,
        ..ClientConfig::with_token(token)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_over_tls_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = self_signed(dir.path());
    let node = start(Some(files.clone())).await;
    let addr = node.server.addr.to_string();
    let tls = TlsOptions {
        ca_file: Some(files.cert_path.clone()),
        server_name: None,
    };
    let client = Client::connect(vec![addr.clone()], config(&node.kiosk, Some(tls)))
        .await
        .expect("connect over TLS");
    let hold = client
        .hold(
            SAMPLE_SHOW_ID,
            SeatSelection::Best {
                count: 2,
                category: None,
            },
        )
        .await
        .expect("hold over TLS");
    let payment = cinebook_client::types::Payment {
        method: PaymentMethod::Card,
        amount: hold.total.clone(),
        reference: Some("tls-1".into()),
    };
    let booking = client
        .confirm(hold.hold_id, payment, "tls-sale-1")
        .await
        .expect("confirm over TLS");
    assert_eq!(booking.seats.len(), 2);
    let map = client.seat_map(SAMPLE_SHOW_ID).await.expect("seat map");
    for seat in &booking.seats {
        assert_eq!(
            map.states[seat.seat_id as usize],
            cinebook_client::types::SeatState::Sold
        );
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_client_on_a_tls_port_is_told_to_use_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(Some(self_signed(dir.path()))).await;
    let addr = node.server.addr.to_string();
    let started = Instant::now();
    let answer = Client::connect(vec![addr], config(&node.kiosk, None)).await;
    assert!(
        started.elapsed() < ANSWER_WITHIN,
        "took {:?}",
        started.elapsed()
    );
    let error = match answer {
        Ok(_) => panic!("a plain client was served on a TLS port"),
        Err(e) => e,
    };
    let text = error.to_string();
    assert!(text.contains("requires TLS"), "unclear error: {text}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_on_a_plain_port_gets_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = self_signed(dir.path());
    let node = start(None).await;
    let addr = node.server.addr.to_string();
    let tls = TlsOptions {
        ca_file: Some(files.cert_path),
        server_name: None,
    };
    let started = Instant::now();
    let answer = Client::connect(vec![addr], config(&node.kiosk, Some(tls))).await;
    assert!(
        started.elapsed() < ANSWER_WITHIN,
        "took {:?}",
        started.elapsed()
    );
    let error = match answer {
        Ok(_) => panic!("a TLS client was served on a plain port"),
        Err(e) => e,
    };
    assert!(
        matches!(&error, Error::Connect { message, .. } if message.contains("TLS")),
        "unclear error: {error}"
    );
    node.stop().await;
}
