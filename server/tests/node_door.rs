//! Tickets and the door over real TCP and MariaDB (issue 18): signed QR payloads checked with
//! the public key, admission once (durable across a restart), refusals for another show,
//! screen or day and for a forged ticket, offline admissions reported with duplicates flagged,
//! house seats blocked with a reason.

mod support;

use cinebook_protocol::door::{DoorPlace, OfflineAdmission, ScanResult, ScanVerdict, TicketInfo};
use cinebook_protocol::ticket::{TicketSigner, TicketVerifier};
use cinebook_protocol::types::{Booking, BookingStatus, PaymentMethod, Role, Show};
use cinebook_protocol::{ErrorCode, Reply, Request};
use cinebook_server::testing::sample_catalog;
use support::{booked, held, test_config, TestClient, TestNode, SHOW};

/// A show starting half an hour from now (the sample show is in 2100: its tickets are for
/// another day).
const TONIGHT: u64 = 7_001;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn config() -> cinebook_server::Config {
    cinebook_server::Config {
        ticket_signer: Some(TicketSigner::from_seed(&[18; 32])),
        ..test_config()
    }
}

async fn sell(client: &mut TestClient, show: u64, seats: &[&str], key: &str) -> Booking {
    let hold = held(client.hold_seats(show, seats).await);
    booked(client.confirm(&hold, PaymentMethod::Cash, key).await)
}

async fn ticket(client: &mut TestClient, code: &str) -> TicketInfo {
    match client.call(Request::GetTicket { code: code.into() }).await {
        Ok(Reply::Ticket(ticket)) => ticket,
        other => panic!("expected Ticket, got {other:?}"),
    }
}

async fn scan(client: &mut TestClient, text: &str, gate: &str, place: DoorPlace) -> ScanResult {
    let request = Request::Scan {
        ticket: text.into(),
        gate: gate.into(),
        place,
    };
    match client.call(request).await {
        Ok(Reply::Scan(result)) => result,
        other => panic!("expected Scan, got {other:?}"),
    }
}

fn door_for(show_id: u64) -> DoorPlace {
    DoorPlace {
        show_id: Some(show_id),
        screen_id: None,
    }
}

async fn status(client: &mut TestClient, code: &str) -> BookingStatus {
    booked(client.call(Request::GetBooking { code: code.into() }).await).status
}

#[tokio::test]
async fn tickets_are_signed_admitted_once_and_refused_elsewhere() {
    let node = TestNode::start_with(config(), None).await;
    let door1 = node.add_terminal("door-1", Role::Door).await;
    let door2 = node.add_terminal("door-2", Role::Door).await;
    let mut admin = node.client(Role::Admin, 0).await;
    let mut show = sample_catalog().shows.remove(0);
    show = Show {
        id: TONIGHT,
        starts_at_ms: now_ms() + 30 * 60_000,
        ..show
    };
    let screen_id = show.screen_id;
    assert_eq!(admin.call(Request::UpsertShow(show)).await, Ok(Reply::Done));
    let mut cashier = node.client(Role::BoxOffice, 0).await;
    let first = sell(&mut cashier, TONIGHT, &["A1", "A2"], "door-1").await;
    let second = sell(&mut cashier, TONIGHT, &["A3"], "door-2").await;
    let future = sell(&mut cashier, SHOW, &["B1"], "door-3").await;

    // The payload verifies offline with the key anyone may fetch.
    let mut guest = TestClient::connect(node.addr(), None).await;
    let key = match guest.call(Request::TicketKey).await {
        Ok(Reply::TicketKey(key)) => TicketVerifier::from_bytes(&key.public_key).expect("key"),
        other => panic!("expected TicketKey, got {other:?}"),
    };
    let ticket1 = ticket(&mut cashier, &first.code).await;
    let claims = key.verify(&ticket1.payload).expect("signed by the cinema");
    assert_eq!(claims.code, first.code);
    assert_eq!(claims.seats, ["A1", "A2"]);
    assert_eq!((claims.show_id, claims.screen_id), (TONIGHT, screen_id));

    // Admitted once; a second scan at another gate says when and where.
    let mut d1 = TestClient::connect(node.addr(), Some(door1)).await;
    let mut d2 = TestClient::connect(node.addr(), Some(door2)).await;
    let admitted = scan(&mut d1, &ticket1.payload, "main door", door_for(TONIGHT)).await;
    assert_eq!(admitted.verdict, ScanVerdict::Admitted, "{admitted:?}");
    assert_eq!(
        status(&mut cashier, &first.code).await,
        BookingStatus::Admitted
    );
    let again = scan(&mut d2, &ticket1.payload, "side door", door_for(TONIGHT)).await;
    assert_eq!(again.verdict, ScanVerdict::AlreadyAdmitted);
    let firstly = again.admission.clone().expect("the first admission");
    assert_eq!(firstly.gate, "main door");
    assert!(again.reason.contains("main door"), "{}", again.reason);
    // An admitted booking is not cancelled any more.
    let cancel = Request::Cancel {
        code: first.code.clone(),
        refund: true,
        reason: "after the door".into(),
    };
    assert_eq!(
        cashier.call(cancel).await.map_err(|e| e.code),
        Err(ErrorCode::Conflict)
    );

    // Another show, screen or day; a forged ticket; a code typed in lower case.
    let code2 = second.code.to_lowercase();
    let wrong_show = scan(&mut d1, &code2, "main door", door_for(SHOW)).await;
    assert_eq!(wrong_show.verdict, ScanVerdict::WrongShow, "{wrong_show:?}");
    let other_screen = DoorPlace {
        show_id: None,
        screen_id: Some(screen_id + 1),
    };
    let wrong_screen = scan(&mut d1, &code2, "main door", other_screen).await;
    assert_eq!(wrong_screen.verdict, ScanVerdict::WrongScreen);
    let later = ticket(&mut cashier, &future.code).await;
    let wrong_day = scan(&mut d1, &later.payload, "main door", DoorPlace::default()).await;
    assert_eq!(wrong_day.verdict, ScanVerdict::WrongDay);
    assert!(
        wrong_day.reason.contains("2100-01-01"),
        "{}",
        wrong_day.reason
    );
    let forged = TicketSigner::from_seed(&[1; 32]).sign(&claims);
    let refused = scan(&mut d1, &forged, "main door", DoorPlace::default()).await;
    assert_eq!(refused.verdict, ScanVerdict::NotValid);
    assert_eq!(
        status(&mut cashier, &second.code).await,
        BookingStatus::Confirmed
    );

    // Who may: a kiosk may not scan, a door may not sell.
    let mut kiosk = node.client(Role::Kiosk, 0).await;
    let kiosk_scan = Request::Scan {
        ticket: second.code.clone(),
        gate: "g".into(),
        place: DoorPlace::default(),
    };
    assert_eq!(
        kiosk.call(kiosk_scan).await.map_err(|e| e.code),
        Err(ErrorCode::Forbidden)
    );
    assert_eq!(
        d1.hold_seats(TONIGHT, &["C1"]).await.map_err(|e| e.code),
        Err(ErrorCode::Forbidden)
    );

    // Offline: door 2 admitted the second ticket by signature, and (wrongly) the first again.
    let ticket2 = ticket(&mut cashier, &second.code).await;
    let at_ms = now_ms() - 60_000;
    let offline = vec![
        OfflineAdmission {
            ticket: ticket2.payload.clone(),
            at_ms,
            gate: "side door".into(),
        },
        OfflineAdmission {
            ticket: ticket1.payload.clone(),
            at_ms,
            gate: "side door".into(),
        },
    ];
    let report = Request::ReportAdmissions {
        admissions: offline.clone(),
    };
    let results = match d2.call(report).await {
        Ok(Reply::AdmissionsReported(results)) => results,
        other => panic!("expected AdmissionsReported, got {other:?}"),
    };
    let verdicts: Vec<ScanVerdict> = results.iter().map(|r| r.verdict).collect();
    assert_eq!(verdicts, [ScanVerdict::Admitted, ScanVerdict::Duplicate]);
    assert_eq!(
        results[1].admission.as_ref().map(|a| a.gate.as_str()),
        Some("main door")
    );
    assert!(results[0].admission.as_ref().is_some_and(|a| a.offline));
    // The same report again (a scanner that retries) flags nothing new.
    let repeated = match d2
        .call(Request::ReportAdmissions {
            admissions: offline[..1].to_vec(),
        })
        .await
    {
        Ok(Reply::AdmissionsReported(results)) => results,
        other => panic!("expected AdmissionsReported, got {other:?}"),
    };
    assert_eq!(repeated[0].verdict, ScanVerdict::Admitted, "{repeated:?}");

    // Durable: after a restart the first admission is still when and where it was.
    drop((d1, d2, cashier, admin, kiosk, guest));
    let node = node.restart(config()).await;
    let mut cashier = node.client(Role::BoxOffice, 0).await;
    assert_eq!(
        status(&mut cashier, &first.code).await,
        BookingStatus::Admitted
    );
    assert_eq!(
        status(&mut cashier, &second.code).await,
        BookingStatus::Admitted
    );
    let door3 = node.add_terminal("door-3", Role::Door).await;
    let mut d3 = TestClient::connect(node.addr(), Some(door3)).await;
    let after = scan(&mut d3, &ticket1.payload, "main door", door_for(TONIGHT)).await;
    assert_eq!(after.verdict, ScanVerdict::AlreadyAdmitted);
    assert_eq!(after.admission, Some(firstly));
    // The admitted seats stay sold.
    assert_eq!(
        cashier
            .hold_seats(TONIGHT, &["A1"])
            .await
            .map_err(|e| e.code),
        Err(ErrorCode::SeatUnavailable {
            seats: vec![first.seats[0].seat_id]
        })
    );
    node.stop().await;
}

#[tokio::test]
async fn the_box_office_blocks_house_seats_with_a_reason() {
    let node = TestNode::start_with(config(), None).await;
    let mut cashier = node.client(Role::BoxOffice, 0).await;
    let block = |blocked, reason: &str| Request::BlockSeatsWithReason {
        show_id: SHOW,
        seats: vec![5, 6],
        blocked,
        reason: reason.into(),
    };
    assert_eq!(
        cashier.call(block(true, " ")).await.map_err(|e| e.code),
        Err(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        cashier
            .call(block(true, "house seats for the director"))
            .await,
        Ok(Reply::Done)
    );
    let map = match cashier.call(Request::GetSeatMap { show_id: SHOW }).await {
        Ok(Reply::SeatMap(map)) => map,
        other => panic!("expected SeatMap, got {other:?}"),
    };
    assert_eq!(map.states[5], cinebook_protocol::types::SeatState::Blocked);
    // Plain BlockSeats stays admin-only; the reason is in the audit trail.
    let plain = Request::BlockSeats {
        show_id: SHOW,
        seats: vec![7],
        blocked: true,
    };
    assert_eq!(
        cashier.call(plain).await.map_err(|e| e.code),
        Err(ErrorCode::Forbidden)
    );
    let mut admin = node.client(Role::Admin, 0).await;
    let trail = match admin.call(Request::AuditTrail { show_id: SHOW }).await {
        Ok(Reply::AuditTrail(trail)) => trail,
        other => panic!("expected AuditTrail, got {other:?}"),
    };
    assert!(
        trail
            .iter()
            .any(|e| e.kind == "block" && e.detail.contains("reason=house seats for the director")),
        "{trail:?}"
    );
    assert_eq!(
        cashier.call(block(false, "released to sale")).await,
        Ok(Reply::Done)
    );
    node.stop().await;
}
