//! A self-service kiosk sale: the first show with two free seats, held, paid by card, printed.
//!
//! ```text
//! CINEBOOK_ADDR=127.0.0.1:7878 CINEBOOK_TOKEN=... cargo run -p cinebook-client --example kiosk
//! ```
//!
//! `CINEBOOK_ADDR` may list several nodes, comma-separated; the client fails over between them.

use cinebook_client::types::{Payment, PaymentMethod, SeatSelection, SeatState, ShowFilter};
use cinebook_client::{new_idempotency_key, Client, ClientConfig, Error};
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let addrs = std::env::var("CINEBOOK_ADDR").unwrap_or_else(|_| "127.0.0.1:7878".into());
    let config = ClientConfig {
        client_name: "example-kiosk".into(),
        token: std::env::var("CINEBOOK_TOKEN").ok(),
        ..ClientConfig::default()
    };
    let client = Client::connect(addrs.split(','), config).await?;

    let shows = client.list_shows(ShowFilter::default()).await?;
    let Some(show) = shows.into_iter().find(|s| s.seats_free >= 2) else {
        println!("no show has two free seats");
        return Ok(());
    };
    println!(
        "{} at {} — {} of {} seats free",
        show.movie_title, show.theater_name, show.seats_free, show.seats_total
    );

    // The live map the customer sees; the first update is always a full snapshot.
    let mut live = client.subscribe(show.show.id);
    let mut map = None;
    if let Some(update) = live.next().await {
        update?.apply(&mut map);
    }
    if let Some(map) = &map {
        let free = map.states.iter().filter(|s| **s == SeatState::Free).count();
        println!("seat map at seq {}: {free} free", map.seq);
    }

    let hold = client
        .hold(
            show.show.id,
            SeatSelection::Best {
                count: 2,
                category: None,
            },
        )
        .await?;
    println!(
        "held {} until {} ms; total {}",
        hold.labels.join(", "),
        hold.expires_at_ms,
        hold.total
    );

    // The card terminal approved; confirm with a key kept until the answer arrives.
    let key = new_idempotency_key();
    let payment = Payment {
        method: PaymentMethod::Card,
        amount: hold.total.clone(),
        reference: Some("example-auth".into()),
    };
    let booking = match client.confirm(hold.hold_id, payment.clone(), &key).await {
        // Unknown outcome: asking again with the same key can never sell twice.
        Err(Error::Timeout { .. }) => client.confirm(hold.hold_id, payment, &key).await?,
        other => other?,
    };
    println!("booking code {}", booking.code);
    Ok(())
}
