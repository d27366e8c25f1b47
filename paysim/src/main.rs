//! `cinebook-paysim --listen ADDR --webhook-url URL`: the gateway simulator as a process.

use std::net::SocketAddr;

use cinebook_paysim::{
    SimConfig, Simulator, Switches, KEY_ID_DEFAULT, KEY_SECRET_DEFAULT, WEBHOOK_SECRET_DEFAULT,
};
use clap::Parser;

/// A local Razorpay-compatible payment gateway: REST API, hosted checkout, signed webhooks.
#[derive(Debug, Parser)]
#[command(name = "cinebook-paysim", version)]
struct Args {
    /// Where to listen.
    #[arg(long, env = "CINEBOOK_PAYSIM_LISTEN", default_value = "127.0.0.1:9190")]
    listen: SocketAddr,
    /// Where to POST webhooks (none: webhooks are logged as unsent).
    #[arg(long, env = "CINEBOOK_PAYSIM_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// Basic-auth user the REST API accepts.
    #[arg(long, env = "CINEBOOK_PAYSIM_KEY_ID", default_value = KEY_ID_DEFAULT)]
    key_id: String,
    /// Basic-auth password the REST API accepts; the checkout signature key.
    #[arg(long, env = "CINEBOOK_PAYSIM_KEY_SECRET", default_value = KEY_SECRET_DEFAULT)]
    key_secret: String,
    /// Webhook signature key.
    #[arg(long, env = "CINEBOOK_PAYSIM_WEBHOOK_SECRET", default_value = WEBHOOK_SECRET_DEFAULT)]
    webhook_secret: String,
    /// Seed of every random choice (ids, drops).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Payments wait for POST /v1/payments/{id}/capture unless the order said payment_capture.
    #[arg(long)]
    manual_capture: bool,
    /// Every webhook waits this long, milliseconds.
    #[arg(long, default_value_t = 0)]
    webhook_delay_ms: u64,
    /// Send every webhook twice.
    #[arg(long)]
    webhook_duplicate: bool,
    /// Hold webhooks back and send them newest first.
    #[arg(long)]
    webhook_reorder: bool,
    /// How many webhooks the reorder switch collects.
    #[arg(long, default_value_t = 2)]
    webhook_reorder_window: u32,
    /// Drop each webhook with this probability (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    webhook_drop_probability: f64,
    /// Drop the next N webhooks.
    #[arg(long, default_value_t = 0)]
    webhook_drop_next: u32,
    /// The next N REST calls answer --fail-status.
    #[arg(long, default_value_t = 0)]
    fail_next: u32,
    /// Status for --fail-next (5xx).
    #[arg(long, default_value_t = 503)]
    fail_status: u16,
    /// The next N REST calls hang for --hang-ms.
    #[arg(long, default_value_t = 0)]
    hang_next: u32,
    /// How long a hung call waits, milliseconds.
    #[arg(long, default_value_t = 30_000)]
    hang_ms: u64,
}

impl Args {
    fn switches(&self) -> Switches {
        Switches {
            webhook_delay_ms: self.webhook_delay_ms,
            webhook_duplicate: self.webhook_duplicate,
            webhook_reorder: self.webhook_reorder,
            webhook_reorder_window: self.webhook_reorder_window,
            webhook_drop_probability: self.webhook_drop_probability,
            webhook_drop_next: self.webhook_drop_next,
            fail_next: self.fail_next,
            fail_status: self.fail_status,
            hang_next: self.hang_next,
            hang_ms: self.hang_ms,
            auto_capture: !self.manual_capture,
            ..Switches::default()
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr: stdout carries only the "listening on" line scripts read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = SimConfig {
        listen: args.listen,
        key_id: args.key_id.clone(),
        key_secret: args.key_secret.clone(),
        webhook_secret: args.webhook_secret.clone(),
        webhook_url: args.webhook_url.clone(),
        seed: args.seed,
        switches: args.switches(),
        ..SimConfig::default()
    };
    let handle = Simulator::start(config).await?;
    println!("cinebook-paysim listening on {}", handle.base_url());
    tokio::signal::ctrl_c().await?;
    handle.shutdown().await;
    Ok(())
}
