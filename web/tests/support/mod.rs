//! A real node (memory store, sample catalog, a `web` terminal) paying through the in-process
//! gateway simulator, and `cinebook-web` in front of it, all on 127.0.0.1 port 0.
#![allow(dead_code)]

pub mod browser;
pub mod process;

use std::net::SocketAddr;
use std::sync::Arc;

use cinebook_client::{Client, ClientConfig};
use cinebook_gateway::razorpay::{RazorpayConfig, RazorpayGateway};
use cinebook_paysim::{SimConfig, SimHandle, Simulator};
use cinebook_protocol::types::Role;
use cinebook_server::node::auth;
use cinebook_server::node::payments::PaymentConfig;
use cinebook_server::store::memory::MemoryStore;
use cinebook_server::store::Store;
use cinebook_server::testing::{sample_catalog, seed_catalog};
use cinebook_server::{Config, RunningServer, Server};
use cinebook_web::{serve, App, WebConfig};
use tokio::net::TcpListener;

pub use cinebook_server::testing::SAMPLE_SHOW_ID as SHOW;

/// The three processes of a purchase.
pub struct Site {
    pub sim: SimHandle,
    pub node: RunningServer,
    pub web: SocketAddr,
    pub http: reqwest::Client,
    /// The web terminal's token.
    pub token: String,
    /// The web server's config (its cookie secret, for a second replica).
    pub config: WebConfig,
    /// The web server's task: aborting it kills the process's serving (a SIGKILL, in-process).
    pub web_task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A `cinebook-web` on 127.0.0.1 port 0 in front of the node at `node`.
pub async fn start_web(
    node: SocketAddr,
    token: &str,
    config: WebConfig,
) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let client = Client::connect(
        [node.to_string()],
        ClientConfig {
            client_name: "web-test".into(),
            ..ClientConfig::with_token(token)
        },
    )
    .await
    .expect("client");
    let app = App::new(client, config).expect("app");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("web");
    let web = listener.local_addr().expect("addr");
    (web, tokio::spawn(serve(listener, app)))
}

/// The payment window of the tests' node unless a test says otherwise.
pub const PAYMENT_WINDOW_MS: u64 = 60_000;

fn node_config(sim: &SimHandle, payment_window_ms: u64, reconcile_interval_ms: u64) -> Config {
    let defaults = SimConfig::default();
    let gateway = RazorpayGateway::new(RazorpayConfig::new(
        &sim.base_url(),
        &defaults.key_id,
        &defaults.key_secret,
        &defaults.webhook_secret,
    ))
    .expect("gateway client");
    let mut payments = PaymentConfig::new(Arc::new(gateway));
    payments.payment_window_ms = payment_window_ms;
    payments.reconcile_interval_ms = reconcile_interval_ms;
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        workers: 2,
        sweep_interval_ms: 50,
        payments: Some(payments),
        ..Config::default()
    }
}

impl Site {
    /// Starts everything; `adjust` changes the web config.
    pub async fn start(adjust: impl FnOnce(&mut WebConfig)) -> Site {
        Site::start_with(PAYMENT_WINDOW_MS, adjust).await
    }

    /// [`Site::start`] with the node's payment window.
    pub async fn start_with(payment_window_ms: u64, adjust: impl FnOnce(&mut WebConfig)) -> Site {
        let reconcile = cinebook_server::node::payments::RECONCILE_INTERVAL_MS_DEFAULT;
        Site::start_full(payment_window_ms, reconcile, adjust).await
    }

    /// [`Site::start`] with the node's payment window and reconciler interval.
    pub async fn start_full(
        payment_window_ms: u64,
        reconcile_interval_ms: u64,
        adjust: impl FnOnce(&mut WebConfig),
    ) -> Site {
        let sim = Simulator::start(SimConfig::default())
            .await
            .expect("simulator");
        let store = MemoryStore::new();
        seed_catalog(&store, &sample_catalog()).await;
        let token = auth::new_token();
        store
            .add_terminal("web-test", Role::Web, &auth::token_sha256(&token))
            .await
            .expect("web terminal");
        let store: Arc<dyn Store> = Arc::new(store);
        let node = Server::bind(
            node_config(&sim, payment_window_ms, reconcile_interval_ms),
            store,
        )
        .await
        .expect("bind node")
        .spawn();
        let hooks = TcpListener::bind("127.0.0.1:0").await.expect("hooks");
        let hooks_addr = hooks.local_addr().expect("addr");
        tokio::spawn(cinebook_server::metrics::serve_http(
            hooks,
            node.node.clone(),
        ));
        sim.set_webhook_url(Some(&format!("http://{hooks_addr}/payments/webhook")))
            .expect("webhook url");
        let mut config = WebConfig::random_secret();
        config.node_webhook_url = Some(format!("http://{hooks_addr}/payments/webhook"));
        adjust(&mut config);
        let (web, web_task) = start_web(node.addr, &token, config.clone()).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http");
        Site {
            sim,
            node,
            web,
            http,
            token,
            config,
            web_task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.web)
    }

    /// Kills this site's web server and starts another replica with the same cookie secret;
    /// later calls go to the new one.
    pub async fn replace_web(&mut self) {
        self.web_task.abort();
        let (web, task) = start_web(self.node.addr, &self.token, self.config.clone()).await;
        self.web = web;
        self.web_task = task;
    }

    /// A request with an optional cookie; answers (status, JSON or text as JSON string, the
    /// session cookie set).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: Option<&str>,
        body: Option<String>,
    ) -> Answer {
        self.call_to(self.web, method, path, cookie, body).await
    }

    /// [`Site::call`] to another web server (a replica, a proxy) at `to`.
    pub async fn call_to(
        &self,
        to: SocketAddr,
        method: reqwest::Method,
        path: &str,
        cookie: Option<&str>,
        body: Option<String>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("http://{to}{path}"));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string);
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Answer {
            status,
            json,
            cookie,
            location,
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        self.call(reqwest::Method::GET, path, cookie, None).await
    }

    pub async fn post(&self, path: &str, cookie: Option<&str>, body: serde_json::Value) -> Answer {
        self.call(reqwest::Method::POST, path, cookie, Some(body.to_string()))
            .await
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub json: serde_json::Value,
    pub cookie: Option<String>,
    pub location: Option<String>,
}

impl Answer {
    pub fn error_code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}
