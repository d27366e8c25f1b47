//! The `cinebook` binary end to end against a real node over MariaDB: every command, its text
//! and `--json` output, and the documented exit codes.

mod live;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;
use cinebook_client::types::{PaymentMethod, Role, SeatSelection};
use cinebook_client::{new_idempotency_key, Client};
use live::{pay, LiveNode, CURRENCY, SHOW, STANDARD_PRICE};
use predicates::prelude::*;
use serde_json::Value;

/// Longest one `cinebook` run may take (the unreachable-server case retries for up to the
/// client's 10 s call timeout).
const RUN_LIMIT: Duration = Duration::from_secs(30);

const NOT_FOUND: i32 = 3;
const UNAVAILABLE_SEATS: i32 = 4;
const AUTH: i32 = 5;
const SERVER: i32 = 6;
const USAGE: i32 = 2;

/// `cinebook --addr <addr> [--token <t>]` with a clean environment and working directory (no
/// `CINEBOOK_*` variables, no default token file).
fn cinebook(addr: &str, token: Option<&str>) -> Command {
    let mut cmd = Command::cargo_bin("cinebook").expect("the cinebook binary");
    cmd.env_remove("CINEBOOK_ADDR")
        .env_remove("CINEBOOK_TOKEN")
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir())
        .timeout(RUN_LIMIT)
        .args(["--addr", addr]);
    if let Some(token) = token {
        cmd.args(["--token", token]);
    }
    cmd
}

/// Runs `cinebook --json ARGS` as `role`, expects success and parses the document.
fn json_ok(node: &LiveNode, role: Role, args: &[&str]) -> Value {
    let output = cinebook(&node.addr_string(), Some(&node.token(role)))
        .arg("--json")
        .args(args)
        .output()
        .expect("run cinebook");
    assert!(
        output.status.success(),
        "cinebook {args:?} failed with {:?}: {}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "cinebook {args:?} printed no JSON document ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Runs `cinebook --json ARGS` with `token`, expects exit `code` and returns the error document.
fn json_err(node_addr: &str, token: Option<&str>, args: &[&str], code: i32) -> Value {
    let output = cinebook(node_addr, token)
        .arg("--json")
        .args(args)
        .output()
        .expect("run cinebook");
    assert_eq!(
        output.status.code(),
        Some(code),
        "cinebook {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "cinebook {args:?} printed no JSON error ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert_eq!(doc["error"]["exit_code"], code, "{doc}");
    doc
}

fn labels_of(doc: &Value) -> Vec<String> {
    doc.as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a label").to_string())
        .collect()
}

/// Seat labels in `state` in a `seats --json` document.
fn seats_in(map: &Value, state: &str) -> Vec<String> {
    map["seats"]
        .as_array()
        .expect("seats")
        .iter()
        .filter(|s| s["state"] == state)
        .map(|s| s["label"].as_str().expect("label").to_string())
        .collect()
}

#[test]
fn browsing_commands_print_the_catalog_as_text_and_json() {
    let runtime = live::node_runtime();
    let node = runtime.block_on(LiveNode::start());
    let addr = node.addr_string();
    let show = SHOW.to_string();

    let cities = json_ok(&node, Role::Kiosk, &["cities"]);
    assert_eq!(cities, serde_json::json!([{"id": 1, "name": "Zürich"}]));
    cinebook(&addr, Some(&node.token(Role::Kiosk)))
        .arg("cities")
        .assert()
        .success()
        .stdout(predicate::str::contains("Zürich"));

    let movies = json_ok(&node, Role::Kiosk, &["movies", "--city", "zürich"]);
    assert_eq!(movies.as_array().map(Vec::len), Some(1), "{movies}");
    assert_eq!(movies[0]["title"], "The Long Queue");
    assert_eq!(movies[0]["runtime_min"], 124);
    cinebook(&addr, Some(&node.token(Role::Kiosk)))
        .args(["movies"])
        .assert()
        .success()
        .stdout(predicate::str::contains("The Long Queue (PG-13, 124 min)"));

    let shows = json_ok(
        &node,
        Role::Kiosk,
        &[
            "shows",
            "--city",
            "1",
            "--movie",
            "the long queue",
            "--date",
            "2100-01-01",
        ],
    );
    assert_eq!(shows.as_array().map(Vec::len), Some(1), "{shows}");
    assert_eq!(shows[0]["id"], SHOW);
    assert_eq!(shows[0]["theater"], "Kino Rex");
    assert_eq!(shows[0]["currency"], CURRENCY);
    assert_eq!(shows[0]["seats_free"], 400);
    assert_eq!(shows[0]["seats_total"], 400);
    let none = json_ok(&node, Role::Kiosk, &["shows", "--date", "2020-02-02"]);
    assert_eq!(none, serde_json::json!([]));
    // Guests (no token) may browse.
    cinebook(&addr, None)
        .arg("shows")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("The Long Queue").and(predicate::str::contains("400/400")),
        );

    let map = json_ok(&node, Role::Kiosk, &["seats", &show]);
    assert_eq!(map["show"]["id"], SHOW);
    assert_eq!(map["seats"].as_array().map(Vec::len), Some(400));
    assert_eq!(seats_in(&map, "free").len(), 400);
    assert_eq!(map["seats"][0]["label"], "A1");
    assert_eq!(map["seats"][0]["category"], "wheelchair");
    cinebook(&addr, Some(&node.token(Role::Kiosk)))
        .args(["seats", &show])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("400 of 400 seats free")
                .and(predicate::str::contains("SCREEN"))
                .and(predicate::str::contains("The Long Queue")),
        );

    runtime.block_on(node.stop());
}

#[test]
fn a_box_office_sells_reprints_reports_and_refunds() {
    let runtime = live::node_runtime();
    let node = runtime.block_on(LiveNode::start());
    let addr = node.addr_string();
    let token = node.token(Role::BoxOffice);
    let show = SHOW.to_string();

    // Exact seats.
    let hold = json_ok(&node, Role::BoxOffice, &["hold", &show, "--seats", "A5,A6"]);
    assert_eq!(labels_of(&hold["seats"]), ["A5", "A6"]);
    assert_eq!(hold["show_id"], SHOW);
    assert_eq!(hold["total"]["amount_minor"], 2 * STANDARD_PRICE);
    assert_eq!(hold["total"]["currency"], CURRENCY);
    let hold_id = hold["hold_id"].as_u64().expect("hold id").to_string();

    // Best two, then give them back.
    let best = json_ok(&node, Role::BoxOffice, &["hold", &show, "--best", "2"]);
    let best_seats = labels_of(&best["seats"]);
    assert_eq!(best_seats.len(), 2);
    assert!(!best_seats.contains(&"A5".to_string()));
    let best_id = best["hold_id"].as_u64().expect("hold id");
    let map = json_ok(&node, Role::BoxOffice, &["seats", &show]);
    let mut held = seats_in(&map, "held");
    held.sort();
    let mut want = best_seats.clone();
    want.extend(["A5".to_string(), "A6".to_string()]);
    want.sort();
    assert_eq!(held, want);
    let released = json_ok(&node, Role::BoxOffice, &["release", &best_id.to_string()]);
    assert_eq!(
        released,
        serde_json::json!({"hold_id": best_id, "released": true})
    );
    // A text-mode hold and release.
    let text = cinebook(&addr, Some(&token))
        .args(["hold", &show, "--best", "2"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("hold "))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(text).expect("utf-8");
    let text_hold = text
        .strip_prefix("hold ")
        .and_then(|rest| rest.split(':').next())
        .expect("hold id in the text");
    cinebook(&addr, Some(&token))
        .args(["release", text_hold])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "released hold {text_hold}"
        )));
    let map = json_ok(&node, Role::BoxOffice, &["seats", &show]);
    assert_eq!(seats_in(&map, "held"), ["A5", "A6"]);

    // Pay by card.
    let sale = json_ok(
        &node,
        Role::BoxOffice,
        &["confirm", &hold_id, "--pay", "card"],
    );
    let code = sale["booking"]["code"]
        .as_str()
        .expect("booking code")
        .to_string();
    assert_eq!(sale["booking"]["status"], "confirmed");
    assert_eq!(sale["booking"]["payment_method"], "card");
    assert_eq!(
        sale["booking"]["payment_amount"]["amount_minor"],
        2 * STANDARD_PRICE
    );
    let sold: Vec<&str> = sale["booking"]["seats"]
        .as_array()
        .expect("seats")
        .iter()
        .map(|s| s["label"].as_str().expect("label"))
        .collect();
    assert_eq!(sold, ["A5", "A6"]);
    let ticket = sale["ticket"].as_str().expect("ticket");
    assert!(
        ticket.contains(&code) && ticket.contains("The Long Queue"),
        "{ticket}"
    );
    assert!(sale["idempotency_key"]
        .as_str()
        .is_some_and(|k| !k.is_empty()));
    let map = json_ok(&node, Role::BoxOffice, &["seats", &show]);
    assert_eq!(seats_in(&map, "sold"), ["A5", "A6"]);
    assert!(seats_in(&map, "held").is_empty());

    // Reprint.
    let reprint = json_ok(&node, Role::BoxOffice, &["booking", &code]);
    assert_eq!(reprint["booking"], sale["booking"]);
    cinebook(&addr, Some(&token))
        .args(["booking", &code])
        .assert()
        .success()
        .stdout(
            predicate::str::contains(format!("booking {code} (confirmed)"))
                .and(predicate::str::contains("A5")),
        );

    // The shift report counts the card sale.
    let report = json_ok(&node, Role::BoxOffice, &["report", "shift"]);
    let card = report["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["method"] == "card")
        .unwrap_or_else(|| panic!("no card line: {report}"))
        .clone();
    assert_eq!(card["sales"], 1);
    assert_eq!(card["seats"], 2);
    assert_eq!(card["sales_minor"], 2 * STANDARD_PRICE);
    assert_eq!(card["refunds"], 0);
    assert_eq!(report["net_minor"], 2 * STANDARD_PRICE);

    // Refund.
    let refunded = json_ok(&node, Role::BoxOffice, &["cancel", &code, "--refund"]);
    assert_eq!(refunded["code"], code.as_str());
    assert_eq!(refunded["status"], "refunded");
    let map = json_ok(&node, Role::BoxOffice, &["seats", &show]);
    assert_eq!(seats_in(&map, "free").len(), 400);
    let report = json_ok(&node, Role::BoxOffice, &["report", "shift"]);
    let card = report["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["method"] == "card")
        .unwrap_or_else(|| panic!("no card line: {report}"))
        .clone();
    assert_eq!(card["refunds"], 1, "{report}");
    assert_eq!(report["net_minor"], 0, "{report}");
    cinebook(&addr, Some(&token))
        .args(["report", "shift"])
        .assert()
        .success()
        .stdout(predicate::str::contains("shift report").and(predicate::str::contains("card")));

    // A cancel without refund, in text.
    let hold = json_ok(&node, Role::BoxOffice, &["hold", &show, "--seats", "B1"]);
    let hold_id = hold["hold_id"].as_u64().expect("hold id").to_string();
    let sale = json_ok(
        &node,
        Role::BoxOffice,
        &["confirm", &hold_id, "--pay", "cash"],
    );
    let code = sale["booking"]["code"].as_str().expect("code").to_string();
    cinebook(&addr, Some(&token))
        .args(["cancel", &code])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "booking {code} cancelled; seats B1 freed"
        )));

    runtime.block_on(node.stop());
}

#[test]
fn a_confirm_rerun_with_its_idempotency_key_prints_the_same_booking() {
    let runtime = live::node_runtime();
    let node = runtime.block_on(LiveNode::start());
    let show = SHOW.to_string();

    let hold = json_ok(&node, Role::BoxOffice, &["hold", &show, "--seats", "D4,D5"]);
    let hold_id = hold["hold_id"].as_u64().expect("hold id").to_string();
    let key = new_idempotency_key();
    let args = [
        "confirm",
        hold_id.as_str(),
        "--pay",
        "comp",
        "--reason",
        "the critic",
        "--idempotency-key",
        key.as_str(),
    ];
    let first = json_ok(&node, Role::BoxOffice, &args);
    assert_eq!(first["booking"]["payment_method"], "comp");
    assert_eq!(first["booking"]["payment_amount"]["amount_minor"], 0);
    assert_eq!(first["booking"]["payment_reference"], "the critic");
    assert_eq!(first["idempotency_key"], key.as_str());
    // As after a timeout whose outcome was unknown: the rerun the CLI suggests.
    let again = json_ok(&node, Role::BoxOffice, &args);
    assert_eq!(again["booking"], first["booking"]);
    let bookings = runtime.block_on(async {
        let client = Client::connect([node.addr_string()], node.client_config(Role::BoxOffice))
            .await
            .expect("connect");
        client.list_bookings(SHOW).await.expect("bookings")
    });
    assert_eq!(bookings.len(), 1, "{bookings:?}");

    // A key that sold nothing, on the spent hold: the hold's own error, and still one sale.
    let unused = new_idempotency_key();
    let doc = json_err(
        &node.addr_string(),
        Some(&node.token(Role::BoxOffice)),
        &[
            "confirm",
            &hold_id,
            "--pay",
            "card",
            "--idempotency-key",
            &unused,
        ],
        NOT_FOUND,
    );
    let message = doc["error"]["message"].as_str().expect("message");
    assert!(message.contains("made no sale"), "{doc}");
    let map = json_ok(&node, Role::BoxOffice, &["seats", &show]);
    assert_eq!(seats_in(&map, "sold"), ["D4", "D5"]);

    runtime.block_on(node.stop());
}

#[test]
fn watch_prints_another_terminals_sale() {
    let runtime = live::node_runtime();
    let node = runtime.block_on(LiveNode::start());

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cinebook"))
        .env_remove("CINEBOOK_ADDR")
        .env_remove("CINEBOOK_TOKEN")
        .current_dir(std::env::temp_dir())
        .args(["--addr", &node.addr_string(), "--json", "watch"])
        .arg(SHOW.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cinebook watch");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = |what: &str| -> Value {
        let line = lines
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|e| panic!("no {what} line from `cinebook watch`: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };

    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // The snapshot comes once the subscription is in place.
        let snapshot = next_line("snapshot");
        assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
        assert_eq!(snapshot["show"]["id"], SHOW);
        assert_eq!(snapshot["seats"].as_array().map(Vec::len), Some(400));

        let booking = runtime.block_on(async {
            let seller = Client::connect([node.addr_string()], node.client_config(Role::BoxOffice))
                .await
                .expect("connect");
            let labels = vec!["H9".to_string(), "H10".to_string()];
            let hold = seller
                .hold(SHOW, SeatSelection::Labels(labels))
                .await
                .expect("hold");
            seller
                .confirm(
                    hold.hold_id,
                    pay(PaymentMethod::Cash, &hold.total),
                    &new_idempotency_key(),
                )
                .await
                .expect("confirm")
        });
        assert_eq!(booking.seats.len(), 2);

        let seq = snapshot["seq"].as_u64().expect("seq");
        for (n, cause, state) in [(1, "held", "held"), (2, "sold", "sold")] {
            let change = next_line(cause);
            assert_eq!(change["type"], "changes", "{change}");
            assert_eq!(change["show_id"], SHOW);
            assert_eq!(change["seq"], seq + n);
            assert_eq!(change["cause"], cause, "{change}");
            let mut seats: Vec<(&str, &str)> = change["seats"]
                .as_array()
                .expect("seats")
                .iter()
                .map(|s| {
                    (
                        s["label"].as_str().expect("label"),
                        s["state"].as_str().expect("state"),
                    )
                })
                .collect();
            seats.sort_unstable();
            assert_eq!(seats, [("H10", state), ("H9", state)]);
        }
    }));
    child.kill().expect("kill cinebook watch");
    child.wait().expect("wait for cinebook watch");
    reader.join().expect("reader");
    runtime.block_on(node.stop());
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn exit_codes_tell_the_failures_apart() {
    let runtime = live::node_runtime();
    let node = runtime.block_on(LiveNode::start());
    let addr = node.addr_string();
    let show = SHOW.to_string();
    let box_office = node.token(Role::BoxOffice);
    let kiosk = node.token(Role::Kiosk);

    // Not found.
    let doc = json_err(&addr, Some(&kiosk), &["seats", "999999"], NOT_FOUND);
    assert_eq!(doc["error"]["kind"], "NotFound");
    json_err(
        &addr,
        Some(&box_office),
        &["booking", "ZZZZ-ZZZZ"],
        NOT_FOUND,
    );
    json_err(
        &addr,
        Some(&kiosk),
        &["movies", "--city", "Atlantis"],
        NOT_FOUND,
    );
    cinebook(&addr, Some(&box_office))
        .args(["release", "987654"])
        .assert()
        .code(NOT_FOUND);
    cinebook(&addr, Some(&kiosk))
        .args(["seats", "999999"])
        .assert()
        .code(NOT_FOUND)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::starts_with("cinebook: "));

    // Seats unavailable, sold out.
    json_ok(&node, Role::BoxOffice, &["hold", &show, "--seats", "E1,E2"]);
    let doc = json_err(
        &addr,
        Some(&kiosk),
        &["hold", &show, "--seats", "E2,E3"],
        UNAVAILABLE_SEATS,
    );
    assert_eq!(doc["error"]["kind"], "SeatUnavailable");
    let doc = json_err(
        &addr,
        Some(&kiosk),
        &["hold", &show, "--best", "3", "--category", "wheelchair"],
        UNAVAILABLE_SEATS,
    );
    assert_eq!(doc["error"]["kind"], "SoldOut");
    cinebook(&addr, Some(&kiosk))
        .args(["hold", &show, "--seats", "E1"])
        .assert()
        .code(UNAVAILABLE_SEATS);

    // Authentication and permission.
    let doc = json_err(&addr, Some("cb_not-a-token"), &["cities"], AUTH);
    assert_eq!(doc["error"]["kind"], "Unauthenticated");
    let doc = json_err(&addr, None, &["hold", &show, "--best", "1"], AUTH);
    assert_eq!(doc["error"]["kind"], "Unauthenticated");
    let doc = json_err(&addr, Some(&kiosk), &["report", "shift"], AUTH);
    assert_eq!(doc["error"]["kind"], "Forbidden");
    let hold = json_ok(&node, Role::Kiosk, &["hold", &show, "--seats", "G1"]);
    let hold_id = hold["hold_id"].as_u64().expect("hold id").to_string();
    let doc = json_err(
        &addr,
        Some(&kiosk),
        &["confirm", &hold_id, "--pay", "cash"],
        AUTH,
    );
    assert_eq!(doc["error"]["kind"], "Forbidden");
    cinebook(&addr, Some(&kiosk))
        .args(["cancel", "ZZZZ-ZZZZ", "--refund"])
        .assert()
        .code(AUTH);

    // Usage.
    cinebook(&addr, Some(&kiosk))
        .args(["hold", &show])
        .assert()
        .code(USAGE)
        .stderr(predicate::str::contains("--seats"));
    cinebook(&addr, Some(&kiosk))
        .args(["confirm", &hold_id, "--pay", "cheque"])
        .assert()
        .code(USAGE);
    cinebook(&addr, Some(&box_office))
        .args([
            "report",
            "shift",
            "--from",
            "2025-05-02",
            "--to",
            "2025-05-01",
        ])
        .assert()
        .code(USAGE);
    cinebook(&addr, Some(&kiosk))
        .args(["frobnicate"])
        .assert()
        .code(USAGE);
    cinebook(&addr, None)
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:"));

    // Nothing was sold by any of that.
    let map = json_ok(&node, Role::Kiosk, &["seats", &show]);
    assert!(seats_in(&map, "sold").is_empty());

    runtime.block_on(node.stop());
}

#[test]
fn a_closed_port_is_server_unavailable() {
    let closed = live::closed_port().to_string();
    let doc = json_err(&closed, Some("cb_any"), &["cities"], SERVER);
    assert!(
        doc["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&closed)),
        "{doc}"
    );
    cinebook(&closed, None)
        .arg("shows")
        .assert()
        .code(SERVER)
        .stderr(predicate::str::starts_with("cinebook: "));
}

/// Input as a cashier types it: lower-case seat labels and booking codes, a city without its
/// accent or as a prefix; refusals name seats by label; `renew`; a guest told where a token was
/// looked for.
#[test]
fn a_cashier_types_as_people_do() {
    let runtime = live::node_runtime();
    let node = runtime.block_on(LiveNode::start());
    let addr = node.addr_string();
    let show = SHOW.to_string();

    let hold = json_ok(&node, Role::BoxOffice, &["hold", &show, "--seats", "g3,g4"]);
    assert_eq!(hold["seats"], serde_json::json!(["G3", "G4"]), "{hold}");
    let hold_id = hold["hold_id"].as_u64().expect("hold id").to_string();

    // Another terminal asking for one of them is told which, by label.
    let kiosk = node.token(Role::Kiosk);
    cinebook(&addr, Some(&kiosk))
        .args(["hold", &show, "--seats", "G4,G5"])
        .assert()
        .code(UNAVAILABLE_SEATS)
        .stderr(predicate::str::contains("G4").and(predicate::str::contains("G5").not()));
    cinebook(&addr, Some(&kiosk))
        .args(["hold", &show, "--seats", "zz99"])
        .assert()
        .code(USAGE)
        .stderr(predicate::str::contains("no seat zz99"));

    let renewed = json_ok(&node, Role::BoxOffice, &["renew", &hold_id]);
    assert_eq!(renewed["hold_id"].as_u64(), hold["hold_id"].as_u64());
    assert!(renewed["expires_at_ms"].as_u64() >= hold["expires_at_ms"].as_u64());
    assert!(renewed["at_ceiling"].is_boolean(), "{renewed}");

    let booking = json_ok(
        &node,
        Role::BoxOffice,
        &["confirm", &hold_id, "--pay", "cash"],
    );
    let code = booking["booking"]["code"]
        .as_str()
        .expect("code")
        .to_lowercase();
    let again = json_ok(&node, Role::BoxOffice, &["booking", &code]);
    assert_eq!(again["booking"]["code"], booking["booking"]["code"]);

    // Zürich as typed without its accent, in another case, or by a prefix.
    for city in ["zurich", "ZÜRICH", "zü"] {
        let movies = json_ok(&node, Role::Kiosk, &["movies", "--city", city]);
        assert!(
            movies.as_array().is_some_and(|m| !m.is_empty()),
            "{city}: {movies}"
        );
    }

    // A guest asking for a hold learns where a token was looked for.
    cinebook(&addr, None)
        .args(["hold", &show, "--best", "1"])
        .assert()
        .code(AUTH)
        .stderr(
            predicate::str::contains("box-office.token")
                .and(predicate::str::contains("--token-file")),
        );
    runtime.block_on(node.stop());
}
