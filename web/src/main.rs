//! `cinebook-web`: serves the customer web site, talking to the nodes with a `web` terminal.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cinebook_client::{Client, ClientConfig};
use cinebook_web::{serve, App, WebConfig};
use clap::Parser;
use tokio::net::TcpListener;

/// The token file used when neither `--token`, `--token-file` nor `CINEBOOK_WEB_TOKEN` is given:
/// what `cinebook-server`'s first start writes next to its embedded store.
const DEFAULT_TOKEN_FILE: &str = "./cinebook-data/web.token";

/// CineBook customer web site.
#[derive(Debug, Parser)]
#[command(name = "cinebook-web", version)]
struct Args {
    /// Address to serve HTTP on.
    #[arg(long, env = "CINEBOOK_WEB_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Node addresses, comma-separated; the client fails over between them.
    #[arg(
        long,
        env = "CINEBOOK_WEB_ADDR",
        default_value = "127.0.0.1:7878",
        value_delimiter = ','
    )]
    addr: Vec<String>,
    /// The web terminal's token [env: CINEBOOK_WEB_TOKEN] (default: ./cinebook-data/web.token).
    #[arg(long, conflicts_with = "token_file")]
    token: Option<String>,
    /// Read the web terminal's token from FILE.
    #[arg(long, env = "CINEBOOK_WEB_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Secret key of the session cookie; replicas behind one proxy must share it (default: random
    /// per process).
    #[arg(long, env = "CINEBOOK_WEB_COOKIE_SECRET", hide_env_values = true)]
    cookie_secret: Option<String>,
    /// The node's webhook URL that POST /api/payments/webhook forwards to.
    #[arg(long, env = "CINEBOOK_WEB_NODE_WEBHOOK_URL")]
    node_webhook_url: Option<String>,
    /// Base URL the browser reaches this site at (default: http:// and the request's Host).
    #[arg(long, env = "CINEBOOK_WEB_PUBLIC_URL")]
    public_url: Option<String>,
    /// Take the client address from X-Real-IP / X-Forwarded-For, from --trusted-proxies only.
    #[arg(long, env = "CINEBOOK_WEB_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// The proxies (addresses or CIDR blocks, comma-separated) whose forwarded-address headers
    /// are believed with --trust-forwarded-for.
    #[arg(
        long,
        env = "CINEBOOK_WEB_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = cinebook_web::parse_proxy,
        default_value = "127.0.0.1,::1"
    )]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Most holds one client address may place per minute.
    #[arg(long, env = "CINEBOOK_WEB_HOLDS_PER_ADDRESS_MAX", default_value_t = 20)]
    holds_per_address_max: u32,
}

fn read_token(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read token file {}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        bail!("token file {} is empty", path.display());
    }
    Ok(token.to_string())
}

/// `--token`, then `--token-file`, then `CINEBOOK_WEB_TOKEN`, then the default file.
fn resolve_token(args: &Args) -> Result<String> {
    if let Some(token) = &args.token {
        return Ok(token.clone());
    }
    if let Some(file) = &args.token_file {
        return read_token(file);
    }
    if let Some(token) = std::env::var("CINEBOOK_WEB_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok(token.trim().to_string());
    }
    let default = Path::new(DEFAULT_TOKEN_FILE);
    if default.is_file() {
        return read_token(default);
    }
    bail!(
        "no web token: pass --token or --token-file, set CINEBOOK_WEB_TOKEN, or run from the \
         directory where cinebook-server's first start wrote {DEFAULT_TOKEN_FILE}"
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let token = resolve_token(&args)?;
    let client_config = ClientConfig {
        client_name: format!("cinebook-web/{}", env!("CARGO_PKG_VERSION")),
        ..ClientConfig::with_token(&token)
    };
    let client = Client::connect(args.addr.clone(), client_config)
        .await
        .context("connecting to the nodes")?;
    let mut config = match &args.cookie_secret {
        Some(secret) => WebConfig::with_secret(secret.as_bytes().to_vec()),
        None => {
            tracing::warn!("no --cookie-secret: sessions are valid on this process only");
            WebConfig::random_secret()
        }
    };
    config.node_webhook_url = args.node_webhook_url.clone();
    config.public_url = args.public_url.clone();
    config.trust_forwarded_for = args.trust_forwarded_for;
    config.trusted_proxies = args.trusted_proxies.clone();
    config.holds_per_address_max = args.holds_per_address_max;
    let app = App::new(client, config)?;
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    println!("cinebook-web serving on http://{}", listener.local_addr()?);
    serve(listener, app).await?;
    Ok(())
}
