//! `cinebook` at the door and at the printer, end to end against a real node over MariaDB
//! (issue 18): a confirm printed as PDF and as ESC/POS to a TCP "printer" on 127.0.0.1 port 0,
//! a reprint marked REPRINT, the QR payload verified with the key `ticket-key` saved, scans
//! online (admitted, then refused with when and where), offline by signature with the server
//! gone, `--sync` flagging a duplicate, and house seats blocked with a reason.

mod live;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use cinebook_client::ticket::{TicketSigner, TicketVerifier};
use cinebook_client::types::{Role, SeatState, Show};
use cinebook_client::Client;
use live::{LiveNode, SHOW};

const RUN_LIMIT: Duration = Duration::from_secs(30);
const REFUSED: i32 = 7;
/// A show starting half an hour from now.
const TONIGHT: u64 = 7_018;

fn cinebook(addr: &str, token: &str, dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cinebook").expect("the cinebook binary");
    cmd.env_remove("CINEBOOK_ADDR")
        .env_remove("CINEBOOK_TOKEN")
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .timeout(RUN_LIMIT)
        .args(["--addr", addr, "--token", token]);
    cmd
}

fn stdout_of(cmd: &mut Command, code: i32) -> String {
    let output = cmd.output().expect("run cinebook");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(code), "{text}");
    text
}

/// A "receipt printer": accepts one connection and returns everything it was sent.
fn printer() -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = format!("tcp://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(RUN_LIMIT))
            .expect("read timeout");
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).expect("read");
        bytes
    });
    (addr, handle)
}

/// The payload of the ESC/POS QR store command (`GS ( k pL pH 1 P 0 data`).
fn qr_payload(bytes: &[u8]) -> String {
    let at = bytes
        .windows(3)
        .position(|w| w == [0x31, 0x50, 0x30])
        .expect("QR store command");
    let len = usize::from(bytes[at - 2]) | usize::from(bytes[at - 1]) << 8;
    String::from_utf8_lossy(&bytes[at + 3..at + len]).into_owned()
}

fn edit(config: &mut cinebook_server::Config) {
    config.ticket_signer = Some(TicketSigner::from_seed(&[18; 32]));
}

#[test]
fn tickets_print_scan_at_the_door_and_sync_offline_admissions() {
    let runtime = live::node_runtime();
    let mut node = runtime.block_on(LiveNode::start_configured(edit));
    let dir = tempfile::tempdir().expect("dir");
    let addr = node.addr_string();
    let cashier = node.token(Role::BoxOffice);
    let door = runtime.block_on(async {
        let admin = Client::connect([addr.clone()], node.client_config(Role::Admin))
            .await
            .expect("admin");
        let mut show: Show = cinebook_server::testing::sample_catalog().shows.remove(0);
        show.id = TONIGHT;
        show.starts_at_ms = live_now_ms() + 30 * 60_000;
        admin.upsert_show(show).await.expect("tonight's show");
        admin
            .add_terminal("door-1", Role::Door)
            .await
            .expect("door")
            .token
    });

    // The public key for the door, saved to a file.
    let key_text = stdout_of(
        cinebook(&addr, &door, dir.path()).args(["ticket-key", "--save", "key.pub"]),
        0,
    );
    assert!(key_text.starts_with("ed25519:"), "{key_text}");
    let key = TicketVerifier::from_hex(
        &std::fs::read_to_string(dir.path().join("key.pub")).expect("key"),
    )
    .expect("a key");

    // Sell and print: a PDF and the receipt printer.
    let hold = |seats: &str| {
        let text = stdout_of(
            cinebook(&addr, &cashier, dir.path()).args([
                "--json",
                "hold",
                &TONIGHT.to_string(),
                "--seats",
                seats,
            ]),
            0,
        );
        let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
        doc["hold_id"].as_u64().expect("hold id").to_string()
    };
    let (printer_addr, captured) = printer();
    let hold1 = hold("a1,a2");
    let confirmed = stdout_of(
        cinebook(&addr, &cashier, dir.path()).args([
            "confirm",
            &hold1,
            "--pay",
            "cash",
            "--print",
            "pdf",
            "--out",
            "t1.pdf",
            "--printer",
            &printer_addr,
        ]),
        0,
    );
    assert!(
        confirmed.contains("ticket written to t1.pdf"),
        "{confirmed}"
    );
    let pdf = std::fs::read(dir.path().join("t1.pdf")).expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let receipt = captured.join().expect("printer");
    let payload1 = qr_payload(&receipt);
    let claims = key
        .verify(&payload1)
        .expect("the printed QR code is signed");
    assert_eq!(claims.seats, ["A1", "A2"]);
    assert!(String::from_utf8_lossy(&pdf).contains(&claims.code));
    assert!(!String::from_utf8_lossy(&receipt).contains("REPRINT"));

    // A reprint says so.
    let (printer_addr, captured) = printer();
    stdout_of(
        cinebook(&addr, &cashier, dir.path()).args([
            "booking",
            &claims.code,
            "--printer",
            &printer_addr,
        ]),
        0,
    );
    assert!(String::from_utf8_lossy(&captured.join().expect("printer")).contains("REPRINT"));

    // The door: admitted once, then refused with when and where; another show refused.
    let tonight = TONIGHT.to_string();
    let admitted = stdout_of(
        cinebook(&addr, &door, dir.path())
            .args(["scan", &payload1, "--show", &tonight, "--gate", "main"]),
        0,
    );
    assert!(admitted.contains("ADMIT"), "{admitted}");
    let again = stdout_of(
        cinebook(&addr, &door, dir.path()).args([
            "scan",
            &claims.code.to_lowercase(),
            "--gate",
            "side",
        ]),
        REFUSED,
    );
    assert!(
        again.contains("already admitted") && again.contains("main"),
        "{again}"
    );
    let elsewhere = stdout_of(
        cinebook(&addr, &door, dir.path()).args(["scan", &payload1, "--show", &SHOW.to_string()]),
        REFUSED,
    );
    assert!(elsewhere.contains("this door admits show"), "{elsewhere}");

    // Offline: the server is gone; the door admits by signature and keeps a log.
    let (printer_addr, captured) = printer();
    let hold2 = hold("a3");
    stdout_of(
        cinebook(&addr, &cashier, dir.path()).args([
            "confirm",
            &hold2,
            "--pay",
            "card",
            "--printer",
            &printer_addr,
        ]),
        0,
    );
    let payload2 = qr_payload(&captured.join().expect("printer"));
    runtime.block_on(node.stop_server());
    let scan_offline = |payload: &str, code| {
        stdout_of(
            cinebook(&addr, &door, dir.path()).args([
                "scan",
                payload,
                "--key",
                "key.pub",
                "--log",
                "door.jsonl",
                "--gate",
                "side",
            ]),
            code,
        )
    };
    let offline = scan_offline(&payload2, 0);
    assert!(
        offline.contains("ADMIT") && offline.contains("[offline]"),
        "{offline}"
    );
    assert!(scan_offline(&payload2, REFUSED).contains("already admitted"));
    // This scanner never saw the first ticket: it admits it (the server will flag it).
    scan_offline(&payload1, 0);

    // Back online: the sync records one and flags the other as a duplicate.
    runtime.block_on(node.start_again());
    let synced = stdout_of(
        cinebook(&addr, &door, dir.path()).args(["scan", "--sync", "--log", "door.jsonl"]),
        0,
    );
    assert!(synced.contains("recorded:"), "{synced}");
    assert!(
        synced.contains("DUPLICATE:") && synced.contains("main"),
        "{synced}"
    );
    assert!(synced.contains("1 duplicate(s) flagged"), "{synced}");
    assert!(!dir.path().join("door.jsonl").exists());
    let status = stdout_of(
        cinebook(&addr, &cashier, dir.path()).args([
            "--json",
            "booking",
            &key.verify(&payload2).expect("p2").code,
        ]),
        0,
    );
    assert!(status.contains("\"admitted\""), "{status}");

    // House seats with a reason.
    let blocked = stdout_of(
        cinebook(&addr, &cashier, dir.path())
            .args(["block", &tonight, "b1", "b2", "--reason", "director"]),
        0,
    );
    assert!(blocked.contains("blocked B1, B2"), "{blocked}");
    let map = runtime.block_on(async {
        let client = Client::connect([addr.clone()], node.client_config(Role::BoxOffice))
            .await
            .expect("client");
        client.seat_map(TONIGHT).await.expect("map")
    });
    let b1 = map.seats.iter().position(|s| s.label == "B1").expect("B1");
    assert_eq!(map.states[b1], SeatState::Blocked);
    stdout_of(
        cinebook(&addr, &cashier, dir.path()).args(["unblock", &tonight, "B1,B2"]),
        0,
    );
    // The manager's report adds every terminal up (admin only).
    let all = stdout_of(
        cinebook(&addr, &node.token(Role::Admin), dir.path()).args(["report", "shift", "--all"]),
        0,
    );
    assert!(all.contains("shift report, all terminals"), "{all}");
    assert!(all.contains("cash") && all.contains("card"), "{all}");
    stdout_of(
        cinebook(&addr, &cashier, dir.path()).args(["report", "shift", "--all"]),
        5,
    );
    runtime.block_on(node.stop());
}

fn live_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
