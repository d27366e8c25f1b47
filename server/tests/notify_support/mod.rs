//! Shared by the notification tests: a node whose notifications go to an SMTP sink, sales with
//! a contact, waiting for a condition.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use cinebook_protocol::types::{Booking, Contact, Payment, PaymentMethod};
use cinebook_protocol::{Reply, Request};
use cinebook_server::notify::deliver::{MailTarget, NotifyConfig, SmsTarget};
use cinebook_server::notify::retry::RetryPolicy;
use cinebook_server::Config;

use crate::support::{held, test_config, TestClient, SHOW};

/// How long a test waits for a notification, ms.
pub const NOTIFY_WAIT_MS: u64 = 20_000;

/// Short retry delays: 100 ms, 200 ms; `attempts` attempts.
pub fn short_policy(attempts: u32) -> RetryPolicy {
    RetryPolicy::parse("100,200", attempts).expect("policy")
}

/// Notifications to `smtp_url`, SMS into a file under `dir`, polled every 20 ms.
pub fn notify_config(smtp_url: &str, dir: &std::path::Path, attempts: u32) -> NotifyConfig {
    NotifyConfig {
        mail: MailTarget::Smtp(smtp_url.to_owned()),
        sms: SmsTarget::File(dir.join("sms.jsonl")),
        from: "CineBook <tickets@cinebook.test>".into(),
        policy: short_policy(attempts),
        poll_ms: 20,
        batch_max: 100,
        ledger: Some(dir.join("ledger")),
        amqp: None,
    }
}

/// The test config with `notify`.
pub fn config_with(notify: NotifyConfig) -> Config {
    Config {
        notify: Some(notify),
        ..test_config()
    }
}

/// A contact with only an e-mail.
pub fn email(address: &str) -> Contact {
    Contact {
        email: Some(address.to_owned()),
        phone: None,
    }
}

/// Holds `labels` and confirms them in cash with `contact` (a box-office client).
pub async fn sell(
    client: &mut TestClient,
    labels: &[&str],
    key: &str,
    contact: Contact,
) -> Booking {
    let hold = held(client.hold_seats(SHOW, labels).await);
    let answer = client
        .call(Request::ConfirmWithContact {
            hold_id: hold.hold_id,
            payment: Payment {
                method: PaymentMethod::Cash,
                amount: hold.total.clone(),
                reference: None,
            },
            idempotency_key: key.into(),
            contact,
        })
        .await;
    match answer {
        Ok(Reply::Booking(booking)) => booking,
        other => panic!("expected a booking, got {other:?}"),
    }
}

/// Waits until `done` holds, at most [`NOTIFY_WAIT_MS`]; panics with `what` otherwise.
pub async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_millis(NOTIFY_WAIT_MS);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A unique name prefix for broker objects of one test.
pub fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("t-{test}-{}-{nanos}", std::process::id())
}
