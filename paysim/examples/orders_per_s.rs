//! Orders per second through the simulator: `create_order` by the Razorpay client over real
//! HTTP on 127.0.0.1, from `--tasks` concurrent tasks, `--orders` in all.
//!
//! `cargo run --release -p cinebook-paysim --example orders_per_s -- --orders 20000 --tasks 16`

use std::sync::Arc;
use std::time::Instant;

use cinebook_gateway::razorpay::{RazorpayConfig, RazorpayGateway};
use cinebook_gateway::{OrderRequest, PaymentGateway};
use cinebook_paysim::{SimConfig, Simulator};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|at| args.get(at + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let orders = arg("--orders", 20_000);
    let tasks = arg("--tasks", 16).max(1);
    let defaults = SimConfig::default();
    let sim = Simulator::start(SimConfig::default()).await?;
    let client = Arc::new(RazorpayGateway::new(RazorpayConfig::new(
        &sim.base_url(),
        &defaults.key_id,
        &defaults.key_secret,
        &defaults.webhook_secret,
    ))?);
    let started = Instant::now();
    let mut workers = Vec::new();
    for task in 0..tasks {
        let client = Arc::clone(&client);
        let count = orders / tasks + u64::from(task < orders % tasks);
        workers.push(tokio::spawn(async move {
            for n in 0..count {
                let request = OrderRequest {
                    amount_minor: 25_000,
                    currency: "INR".to_owned(),
                    receipt: format!("bench-{task}-{n}"),
                    notes: Vec::new(),
                };
                client.create_order(&request).await?;
            }
            Ok::<(), cinebook_gateway::GatewayError>(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();
    let created = sim.ledger().orders.len();
    assert_eq!(created as u64, orders, "every order is in the books");
    println!(
        "{created} orders, {tasks} tasks, {:.2} s: {:.0} orders/s",
        elapsed.as_secs_f64(),
        created as f64 / elapsed.as_secs_f64()
    );
    sim.shutdown().await;
    Ok(())
}
