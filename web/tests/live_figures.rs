//! Figures, not a timed test (run with `--ignored --nocapture`): 1,000 WebSocket viewers of
//! one show on one `cinebook-web`; how long a seat change takes to reach each of them.

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use support::{Site, SHOW};

/// Viewers opened.
const VIEWERS: usize = 1_000;

/// Seat changes measured.
const ROUNDS: u32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn a_thousand_viewers_of_one_show() {
    let site = Site::start(|c| c.holds_per_address_max = 1_000).await;
    let url = format!("ws://{}/api/shows/{SHOW}/live", site.web);
    let mut viewers = Vec::with_capacity(VIEWERS);
    for _ in 0..VIEWERS {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.expect("ws");
        let first = ws.next().await.expect("snapshot").expect("frame");
        assert!(first.to_text().expect("text").contains("snapshot"));
        viewers.push(ws);
    }
    let mut latencies_us = Vec::with_capacity(VIEWERS * ROUNDS as usize);
    for round in 0..ROUNDS {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for mut ws in viewers.drain(..) {
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let message = ws.next().await.expect("message").expect("frame");
                    let text = message.to_text().expect("text").to_string();
                    if text.contains("\"held\"") && text.contains("\"seat_id\"") {
                        let _ = tx.send(Instant::now());
                        return ws;
                    }
                }
            }));
        }
        drop(tx);
        let seat = 100 + round;
        let sent = Instant::now();
        let hold = site
            .post(
                "/api/holds",
                None,
                json!({"show_id": SHOW, "seats": [seat]}),
            )
            .await;
        assert_eq!(hold.status, 201);
        while let Ok(Some(at)) = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            let us = u64::try_from(at.duration_since(sent).as_micros()).unwrap_or(u64::MAX);
            latencies_us.push(us);
        }
        for task in tasks {
            viewers.push(task.await.expect("viewer"));
        }
    }
    latencies_us.sort_unstable();
    let at =
        |q: f64| latencies_us[((latencies_us.len() as f64 - 1.0) * q) as usize] as f64 / 1000.0;
    println!(
        "{VIEWERS} viewers x {ROUNDS} holds: {} deliveries; hold sent -> viewer received: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies_us.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    assert_eq!(latencies_us.len(), VIEWERS * ROUNDS as usize);
}
