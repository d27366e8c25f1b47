//! The binary's payment flags: which gateway, its credentials, the payment window, the
//! reconciler's interval and the webhook listener. `--gateway sim` starts the local simulator
//! in-process and points its webhooks at this node's own webhook listener.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use cinebook_gateway::razorpay::{RazorpayConfig, RazorpayGateway};
use cinebook_paysim::{SimConfig, SimHandle, Simulator};
use cinebook_server::node::payments::{self, PaymentConfig};
use clap::{Args, ValueEnum};
use tokio::net::TcpListener;

/// Which gateway takes online payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GatewayKind {
    /// A Razorpay-compatible REST gateway (--gateway-base-url, key id and secrets).
    Razorpay,
    /// The local simulator, started in this process (no account needed).
    Sim,
    /// No online payments.
    None,
}

/// Payment flags of `run`.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Online payments: `razorpay`, `sim` (the local simulator, in-process) or `none`. Default:
    /// `sim` on the embedded store (a first run), `none` with --database.
    #[arg(long, env = "CINEBOOK_GATEWAY", value_enum)]
    pub gateway: Option<GatewayKind>,
    /// The gateway's key id (basic-auth user).
    #[arg(long, env = "CINEBOOK_GATEWAY_KEY_ID")]
    pub gateway_key_id: Option<String>,
    /// The gateway's key secret (basic-auth password; the checkout signature key).
    #[arg(long, env = "CINEBOOK_GATEWAY_KEY_SECRET", hide_env_values = true)]
    pub gateway_key_secret: Option<String>,
    /// The gateway's webhook secret.
    #[arg(long, env = "CINEBOOK_GATEWAY_WEBHOOK_SECRET", hide_env_values = true)]
    pub gateway_webhook_secret: Option<String>,
    /// The gateway's REST base URL (without /v1). Required for razorpay.
    #[arg(long, env = "CINEBOOK_GATEWAY_BASE_URL", value_name = "URL")]
    pub gateway_base_url: Option<String>,
    /// How long a hold waits for its online payment, ms.
    #[arg(long, env = "CINEBOOK_PAYMENT_WINDOW_MS", default_value_t = payments::PAYMENT_WINDOW_MS_DEFAULT)]
    pub payment_window_ms: u64,
    /// How often the leader settles every open payment order against the gateway, ms.
    #[arg(long, env = "CINEBOOK_RECONCILE_INTERVAL_MS", default_value_t = payments::RECONCILE_INTERVAL_MS_DEFAULT)]
    pub reconcile_interval_ms: u64,
    /// Serve POST /payments/webhook on this address. Default with sim: 127.0.0.1 on a free
    /// port; with razorpay it is required unless --metrics-listen (which serves it too) is given.
    #[arg(long, env = "CINEBOOK_WEBHOOK_LISTEN", value_name = "ADDR")]
    pub webhook_listen: Option<SocketAddr>,
    /// Where the gateway's checkout sends the customer back after paying (the web site's
    /// return page), an http(s) URL. Default: none (the checkout shows its own result).
    #[arg(long, env = "CINEBOOK_CHECKOUT_RETURN_URL", value_name = "URL")]
    pub checkout_return_url: Option<String>,
}

/// Bytes of a `--checkout-return-url`, at most.
pub const CHECKOUT_RETURN_URL_BYTES_MAX: usize = 2048;

/// `--checkout-return-url`, checked: an absolute http(s) URL of at most
/// [`CHECKOUT_RETURN_URL_BYTES_MAX`] bytes, without spaces; none is the empty string.
pub fn checkout_return_url(arg: Option<&str>) -> Result<String> {
    let Some(url) = arg else {
        return Ok(String::new());
    };
    if url.len() > CHECKOUT_RETURN_URL_BYTES_MAX {
        bail!("--checkout-return-url has at most {CHECKOUT_RETURN_URL_BYTES_MAX} bytes");
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !url.chars().any(char::is_whitespace) => {
            Ok(url.to_owned())
        }
        _ => bail!("--checkout-return-url must be an http:// or https:// URL, not {url:?}"),
    }
}

/// What `run` keeps alive for payments.
pub struct PaymentSetup {
    /// The node's payment configuration.
    pub config: PaymentConfig,
    /// The webhook listener to serve once the node runs (`None`: the metrics listener does).
    pub webhook_listener: Option<TcpListener>,
    /// The in-process simulator, if `sim`.
    pub simulator: Option<SimHandle>,
}

/// Builds the payment configuration from the flags; `None` for no payments.
pub async fn setup(
    args: &GatewayArgs,
    embedded: bool,
    metrics_listen: Option<SocketAddr>,
) -> Result<Option<PaymentSetup>> {
    let kind = args.gateway.unwrap_or(if embedded {
        GatewayKind::Sim
    } else {
        GatewayKind::None
    });
    let listen = match (kind, args.webhook_listen, metrics_listen) {
        (GatewayKind::None, _, _) => return Ok(None),
        (_, Some(addr), _) => Some(addr),
        (_, None, Some(_)) => None,
        (GatewayKind::Sim, None, None) => Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        (GatewayKind::Razorpay, None, None) => {
            bail!(
                "--gateway razorpay needs --webhook-listen (or --metrics-listen) for its webhooks"
            )
        }
    };
    let listener = match listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding --webhook-listen {addr}"))?,
        ),
        None => None,
    };
    let webhook_addr = match (&listener, metrics_listen) {
        (Some(l), _) => l.local_addr()?,
        (None, Some(addr)) => addr,
        (None, None) => bail!("no webhook listener"),
    };
    let (gateway, simulator) = match kind {
        GatewayKind::Sim => {
            let mut sim = SimConfig {
                webhook_url: Some(format!(
                    "http://{webhook_addr}{}",
                    payments::webhook::WEBHOOK_PATH
                )),
                seed: rand::random(),
                ..SimConfig::default()
            };
            if let Some(id) = &args.gateway_key_id {
                sim.key_id = id.clone();
            }
            if let Some(secret) = &args.gateway_key_secret {
                sim.key_secret = secret.clone();
            }
            if let Some(secret) = &args.gateway_webhook_secret {
                sim.webhook_secret = secret.clone();
            }
            let client = RazorpayConfig::new("", &sim.key_id, &sim.key_secret, &sim.webhook_secret);
            let handle = Simulator::start(sim)
                .await
                .context("starting the payment simulator")?;
            let client = RazorpayConfig {
                base_url: handle.base_url(),
                ..client
            };
            println!(
                "payment simulator on {} (webhooks to {webhook_addr})",
                handle.base_url()
            );
            (client, Some(handle))
        }
        GatewayKind::Razorpay => {
            let need = |value: &Option<String>, flag: &str| {
                value
                    .clone()
                    .filter(|v| !v.is_empty())
                    .with_context(|| format!("--gateway razorpay needs {flag}"))
            };
            let client = RazorpayConfig::new(
                &need(&args.gateway_base_url, "--gateway-base-url")?,
                &need(&args.gateway_key_id, "--gateway-key-id")?,
                &need(&args.gateway_key_secret, "--gateway-key-secret")?,
                &need(&args.gateway_webhook_secret, "--gateway-webhook-secret")?,
            );
            (client, None)
        }
        GatewayKind::None => return Ok(None),
    };
    let gateway = RazorpayGateway::new(gateway).context("configuring the gateway client")?;
    let mut config = PaymentConfig::new(Arc::new(gateway));
    config.payment_window_ms = args.payment_window_ms;
    config.reconcile_interval_ms = args.reconcile_interval_ms;
    config.checkout_return_url = checkout_return_url(args.checkout_return_url.as_deref())?;
    Ok(Some(PaymentSetup {
        config,
        webhook_listener: listener,
        simulator,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        payments: GatewayArgs,
    }

    #[test]
    fn the_return_url_flag_is_read_and_checked() {
        let cli = Cli::parse_from([
            "node",
            "--checkout-return-url",
            "https://tickets.example/paid",
        ]);
        let url = checkout_return_url(cli.payments.checkout_return_url.as_deref());
        assert_eq!(url.expect("valid"), "https://tickets.example/paid");
        assert_eq!(checkout_return_url(None).expect("none"), "");
        let long = format!("https://x/{}", "a".repeat(CHECKOUT_RETURN_URL_BYTES_MAX));
        for bad in [
            "ftp://x",
            "https://",
            "tickets.example",
            "https://a b",
            long.as_str(),
        ] {
            assert!(checkout_return_url(Some(bad)).is_err(), "{bad:?} accepted");
        }
    }

    #[tokio::test]
    async fn the_return_url_reaches_the_payment_config() {
        let cli = Cli::parse_from([
            "node",
            "--gateway",
            "sim",
            "--webhook-listen",
            "127.0.0.1:0",
            "--checkout-return-url",
            "http://127.0.0.1:8080/back",
        ]);
        let setup = setup(&cli.payments, false, None)
            .await
            .expect("setup")
            .expect("payments");
        assert_eq!(
            setup.config.checkout_return_url,
            "http://127.0.0.1:8080/back"
        );
        if let Some(sim) = setup.simulator {
            sim.shutdown().await;
        }
    }
}
