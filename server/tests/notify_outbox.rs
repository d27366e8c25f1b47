//! Notifications delivered in-process (no broker): a sale with an e-mail becomes exactly one
//! e-mail; an SMTP server that refuses makes the message retried and then parked, and a replay
//! delivers it once SMTP is back; a cancelled show refunds every booking exactly once and tells
//! every customer once. Real MariaDB, a real SMTP conversation with the sink on port 0.

mod notify_support;
mod support;

use cinebook_protocol::types::{BookingStatus, Contact, PaymentMethod, Role};
use cinebook_protocol::{ErrorCode, Reply, Request};
use cinebook_server::testing::SmtpSink;
use mysql_async::prelude::Queryable;
use notify_support::{config_with, email, notify_config, sell, wait_for};
use support::{held, TestNode, SHOW};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_with_an_email_sends_exactly_one_email_with_its_code() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let node =
        TestNode::start_with(config_with(notify_config(&sink.url(), dir.path(), 3)), None).await;
    let mut client = node.client(Role::BoxOffice, 0).await;
    let booking = sell(
        &mut client,
        &["A1", "A2"],
        "mail-1",
        email("ana@example.ch"),
    )
    .await;
    // A sale without a contact writes no outbox row and sends nothing.
    let quiet = sell(&mut client, &["A3"], "mail-2", Contact::default()).await;
    wait_for("the confirmation e-mail", || {
        sink.containing(&booking.code) == 1
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let mail = &messages[0];
    assert!(mail.contains("To: ana@example.ch"), "{mail}");
    assert!(mail.contains("A1, A2"), "{mail}");
    assert!(
        mail.contains("ticket-qr.svg"),
        "the QR code is attached: {mail}"
    );
    assert_eq!(sink.containing(&quiet.code), 0);
    let mut conn = node.mysql().await;
    let rows: Vec<(String, String)> = conn
        .query("SELECT id, state FROM outbox ORDER BY seq")
        .await
        .expect("outbox");
    assert_eq!(
        rows,
        vec![(format!("confirmed:{}", booking.code), "sent".into())]
    );
    // The confirmation carries the cinema's signed ticket for its QR code (PROTOCOL.md §17).
    let payload: Option<String> = conn
        .query_first("SELECT payload FROM outbox ORDER BY seq LIMIT 1")
        .await
        .expect("payload");
    let notice: cinebook_server::notify::message::Notice =
        serde_json::from_str(&payload.expect("a row")).expect("a notice");
    let ticket = notice.ticket.expect("a signed ticket in the confirmation");
    assert!(ticket.starts_with("CB1:"), "{ticket}");
    let stored: Option<String> = conn
        .exec_first(
            "SELECT contact_email FROM bookings WHERE code = ?",
            (booking.code.as_str(),),
        )
        .await
        .expect("booking");
    assert_eq!(stored.as_deref(), Some("ana@example.ch"));
    // A malformed address is refused before anything is sold.
    let hold = held(client.hold_seats(SHOW, &["A9"]).await);
    let refused = client
        .call(Request::ConfirmWithContact {
            hold_id: hold.hold_id,
            payment: cinebook_protocol::types::Payment {
                method: PaymentMethod::Cash,
                amount: hold.total,
                reference: None,
            },
            idempotency_key: "bad".into(),
            contact: email("not an address"),
        })
        .await;
    assert_eq!(
        refused.expect_err("an error").code,
        ErrorCode::InvalidArgument
    );
    drop(conn);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_smtp_server_parks_the_message_and_a_replay_delivers_it_once() {
    let sink = SmtpSink::start().await;
    sink.refuse(true);
    let dir = tempfile::tempdir().expect("dir");
    let node =
        TestNode::start_with(config_with(notify_config(&sink.url(), dir.path(), 3)), None).await;
    let mut client = node.client(Role::BoxOffice, 0).await;
    let booking = sell(&mut client, &["B1"], "refused-1", email("bo@example.ch")).await;
    let store = node.store.clone();
    let mut dead = Vec::new();
    for _ in 0..500 {
        dead = store.outbox_dead(10).await.expect("dead rows");
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(dead.len(), 1, "the message is parked after the attempts");
    assert_eq!(
        dead[0].attempts, 3,
        "notify_attempts_max = 3 attempts in all"
    );
    assert!(
        dead[0].last_error.as_deref().unwrap_or("").contains("451"),
        "{dead:?}"
    );
    assert_eq!(sink.refused(), 3, "tried exactly three times");
    assert!(sink.messages().is_empty());
    // SMTP is back; the operator replays (what `notify dlq replay` does).
    sink.refuse(false);
    let replayed = store
        .outbox_replay(std::slice::from_ref(&dead[0].message.id))
        .await
        .expect("replay");
    assert_eq!(replayed, 1);
    wait_for("the replayed e-mail", || {
        sink.containing(&booking.code) == 1
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1);
    assert!(store.outbox_dead(10).await.expect("dead").is_empty());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_show_refunds_every_booking_once_and_tells_every_customer_once() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let node =
        TestNode::start_with(config_with(notify_config(&sink.url(), dir.path(), 3)), None).await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let mut codes = Vec::new();
    for (i, seat) in ["C1", "C2", "C3", "C4"].iter().enumerate() {
        let address = format!("c{i}@example.ch");
        codes.push(
            sell(&mut office, &[seat], &format!("show-{i}"), email(&address))
                .await
                .code,
        );
    }
    // One booking was refunded before the show was cancelled: it is not refunded again.
    let early = match office
        .call(Request::Cancel {
            code: codes[3].clone(),
            refund: true,
            reason: "changed plans".into(),
        })
        .await
    {
        Ok(Reply::Booking(b)) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(early.status, BookingStatus::Refunded);
    let mut admin = node.client(Role::Admin, 0).await;
    let first = match admin
        .call(Request::CancelShow {
            show_id: SHOW,
            reason: "projector broken".into(),
        })
        .await
    {
        Ok(Reply::ShowCancelled(report)) => report,
        other => panic!("{other:?}"),
    };
    let mut refunded = first.refunded.clone();
    refunded.sort();
    let mut expected = codes[..3].to_vec();
    expected.sort();
    assert_eq!(refunded, expected);
    assert_eq!(first.already_closed, 1);
    assert!(first.failed.is_empty());
    // A retried cancellation refunds nothing twice.
    let again = match admin
        .call(Request::CancelShow {
            show_id: SHOW,
            reason: "projector broken".into(),
        })
        .await
    {
        Ok(Reply::ShowCancelled(report)) => report,
        other => panic!("{other:?}"),
    };
    assert!(again.refunded.is_empty(), "{again:?}");
    assert_eq!(again.already_closed, 4);
    // A box office may not cancel a show.
    let forbidden = office
        .call(Request::CancelShow {
            show_id: SHOW,
            reason: String::new(),
        })
        .await;
    assert_eq!(forbidden.expect_err("an error").code, ErrorCode::Forbidden);
    // 4 confirmations + 1 refund + 3 cancellations.
    wait_for("every notice", || sink.messages().len() == 8).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mail = sink.messages();
    assert_eq!(mail.len(), 8);
    for code in &codes[..3] {
        let cancelled = mail
            .iter()
            .filter(|m| m.contains(code) && m.contains("was cancelled"))
            .count();
        assert_eq!(cancelled, 1, "{code}: one cancellation notice");
    }
    let mut conn = node.mysql().await;
    let refunds: Vec<(String, u64)> = conn
        .query("SELECT code, COUNT(*) FROM refunds GROUP BY code ORDER BY code")
        .await
        .expect("refunds");
    assert_eq!(refunds.len(), 4);
    assert!(refunds.iter().all(|(_, n)| *n == 1), "{refunds:?}");
    drop(conn);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescheduled_show_tells_each_customer_once_in_the_upserts_transaction() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let node =
        TestNode::start_with(config_with(notify_config(&sink.url(), dir.path(), 3)), None).await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let a = sell(&mut office, &["G1"], "move-1", email("g1@example.ch")).await;
    let b = sell(&mut office, &["G2"], "move-2", email("g2@example.ch")).await;
    let mut admin = node.client(Role::Admin, 0).await;
    let mut show = node.server.node.catalog().shows[&SHOW].clone();
    let old_start = show.starts_at_ms;
    show.starts_at_ms = old_start + 3_600_000;
    for _ in 0..2 {
        // The same move sent twice is announced once (the message id carries the new start).
        admin
            .call(Request::UpsertShow(show.clone()))
            .await
            .expect("upsert");
    }
    // Changing only a price moves nothing and tells nobody.
    show.prices[0].amount_minor += 100;
    admin.call(Request::UpsertShow(show)).await.expect("upsert");
    wait_for("both move notices", || {
        sink.messages()
            .iter()
            .filter(|m| m.contains("was moved"))
            .count()
            == 2
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for code in [&a.code, &b.code] {
        assert_eq!(
            sink.containing(code),
            2,
            "{code}: a ticket and one move notice"
        );
    }
    assert_eq!(sink.messages().len(), 4);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_show_cancel_command_cancels_through_the_running_node() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let node =
        TestNode::start_with(config_with(notify_config(&sink.url(), dir.path(), 3)), None).await;
    let mut office = node.client(Role::BoxOffice, 0).await;
    let booking = sell(&mut office, &["H1"], "cli-1", email("h@example.ch")).await;
    let run = |token: String| {
        let addr = node.addr().to_string();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_cinebook-server"))
                .args(["show", "cancel", &SHOW.to_string(), "--reason", "flooded"])
                .args(["--connect", &addr, "--token", &token])
                .output()
                .expect("run cinebook-server")
        })
    };
    let out = run(node.token(Role::Admin, 0)).await.expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 booking(s) refunded"), "{stdout}");
    assert!(stdout.contains(&booking.code), "{stdout}");
    // A box-office token may not: a typed refusal, exit status 1.
    let refused = run(node.token(Role::BoxOffice, 0)).await.expect("join");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Forbidden"));
    wait_for("the cancellation notice", || {
        sink.messages()
            .iter()
            .any(|m| m.contains(&booking.code) && m.contains("flooded"))
    })
    .await;
    node.stop().await;
}
