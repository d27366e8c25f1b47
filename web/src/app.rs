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

    /// The client's address: the peer, or with `trust_forwarded_for` and a peer among
    /// `trusted_proxies`, the proxy's `X-Real-IP` (else the last `X-Forwarded-For` entry, the one
    /// the proxy added). A client that talks to a replica directly cannot choose its address.
    pub(crate) fn client_addr(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        client_addr(&self.inner.config, peer, headers)
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

/// [`App::client_addr`] for a configuration.
pub(crate) fn client_addr(config: &WebConfig, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let trusted = config.trust_forwarded_for
        && config
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&peer.ip()));
    if !trusted {
        return peer.ip();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let real_ip = header("x-real-ip").and_then(|v| v.trim().parse().ok());
    let forwarded = || {
        header("x-forwarded-for")
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    };
    real_ip.or_else(forwarded).unwrap_or(peer.ip())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header"));
        }
        map
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_a_trusted_proxy() {
        let mut config = WebConfig::with_secret(b"s".to_vec());
        config.trust_forwarded_for = true;
        config.trusted_proxies = vec!["10.0.0.0/8".parse().expect("net")];
        let forged = headers(&[("x-real-ip", "192.0.2.9"), ("x-forwarded-for", "192.0.2.8")]);
        let proxy: SocketAddr = "10.1.2.3:5000".parse().expect("addr");
        let stranger: SocketAddr = "198.51.100.7:5000".parse().expect("addr");
        assert_eq!(
            client_addr(&config, proxy, &forged).to_string(),
            "192.0.2.9"
        );
        assert_eq!(client_addr(&config, stranger, &forged), stranger.ip());
        let only_xff = headers(&[("x-forwarded-for", "203.0.113.1, 192.0.2.8")]);
        assert_eq!(
            client_addr(&config, proxy, &only_xff).to_string(),
            "192.0.2.8"
        );
        assert_eq!(client_addr(&config, proxy, &HeaderMap::new()), proxy.ip());
        config.trust_forwarded_for = false;
        assert_eq!(client_addr(&config, proxy, &forged), proxy.ip());
    }
}
