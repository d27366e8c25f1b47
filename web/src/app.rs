//! The shared state of one web process and its router.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::Router;
use cinebook_client::Client;
use tokio::net::TcpListener;

use crate::limiter::HoldLimiter;
use crate::live_hub::LiveHub;
use crate::session::{self, Session};
use crate::{api, pages, WebConfig};

/// What every request handler shares: the node client, the settings and the hold limiter.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub client: Client,
    pub config: WebConfig,
    pub limiter: HoldLimiter,
    pub http: reqwest::Client,
    pub live: Arc<LiveHub>,
}

impl App {
    /// A web app over a connected client (whose terminal should have role `web`).
    pub fn new(client: Client, config: WebConfig) -> Result<App, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(
                config.webhook_forward_timeout_ms,
            ))
            .build()?;
        let limiter = HoldLimiter::new(
            config.holds_per_address_max,
            config.holds_per_address_window_ms,
        );
        Ok(App {
            inner: Arc::new(Inner {
                client,
                config,
                limiter,
                http,
                live: Arc::new(LiveHub::default()),
            }),
        })
    }

    /// Every route: the pages, the JSON API and the webhook.
    pub fn router(&self) -> Router {
        let body_max_bytes = self.inner.config.body_max_bytes;
        let webhook = api::webhook::router(self.inner.config.webhook_body_max_bytes);
        Router::new()
            .merge(pages::router())
            .merge(api::router().layer(DefaultBodyLimit::max(body_max_bytes)))
            .merge(webhook)
            .with_state(self.clone())
    }

    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    pub(crate) fn config(&self) -> &WebConfig {
        &self.inner.config
    }

    /// The browser's session, if its cookie is genuine.
    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let cookie = headers
            .get(axum::http::header::COOKIE)
            .and_then(|v| v.to_str().ok());
        session::from_cookie_header(cookie, &self.inner.config.cookie_secret)
    }

    /// The client's address: the peer, or with `trust_forwarded_for` the last
    /// `X-Forwarded-For` entry (the one the proxy added).
    pub(crate) fn client_addr(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        if self.inner.config.trust_forwarded_for {
            let forwarded = headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok());
            if let Some(addr) = forwarded {
                return addr;
            }
        }
        peer.ip()
    }

    /// The base URL the browser reaches this site at.
    pub(crate) fn public_base(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.inner.config.public_url {
            return url.trim_end_matches('/').to_string();
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1:8080");
        format!("http://{host}")
    }
}

/// Wall-clock ms since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Serves `app` on `listener` until the future is dropped or the listener fails.
pub async fn serve(listener: TcpListener, app: App) -> std::io::Result<()> {
    let router = app.router();
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
