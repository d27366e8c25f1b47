//! Tickets and the door: `GetTicket`, `TicketKey`, `Scan`, `ReportAdmissions`
//! (docs/PROTOCOL.md 17). An admission is written to the store first (a conditional update
//! from `confirmed`, so a ticket is admitted once, cluster-wide), then applied to the show
//! (`Command::Admit`).

use std::sync::Arc;

use cinebook_protocol::door::{
    Admission, DoorPlace, OfflineAdmission, ScanResult, ScanVerdict, TicketInfo, TicketKeyInfo,
};
use cinebook_protocol::ticket::{self, TicketClaims};
use cinebook_protocol::types::{Booking, BookingStatus};
use cinebook_protocol::{ErrorBody, ErrorCode};

use super::durable::{apply_durable, reconcile_booking};
use super::handlers::{get_booking, Caller};
use super::{now_ms, Node};
use crate::domain::{Command, ShowInput};
use crate::store::{AdmissionRecord, AdmitOutcome};

/// Longest gate name, in bytes (`admissions.gate`).
pub const GATE_MAX_BYTES: usize = crate::store::mysql::widths::GATE;
/// An offline admission may be this far in the node's future (the scanner's clock ahead).
pub const OFFLINE_CLOCK_SKEW_MAX_MS: u64 = 5 * 60_000;

/// The ticket of a booking the caller may see.
pub fn ticket(node: &Node, caller: &Caller, code: &str) -> Result<TicketInfo, ErrorBody> {
    let booking = get_booking(node, caller, &normal_code(code))?;
    let claims = claims_of(node, &booking)?;
    Ok(TicketInfo {
        payload: node.tickets.sign(&claims),
        booking,
        claims,
    })
}

/// The verification key.
pub fn key(node: &Node) -> TicketKeyInfo {
    let verifier = node.tickets.verifier();
    TicketKeyInfo {
        public_key: verifier.to_bytes(),
        key_id: verifier.key_id(),
    }
}

/// The text to put in the QR code of booking `code` (any status): what every producer of
/// tickets on a node calls ([`ticket::qr_text`] with the node's key and catalog).
pub fn qr_text(node: &Node, code: &str) -> Result<String, ErrorBody> {
    let booking = booking(node, code).ok_or_else(|| no_booking(code))?;
    let claims = claims_of(node, &booking)?;
    Ok(node.tickets.sign(&claims))
}

/// One scan at the door, now.
pub async fn scan(
    node: &Arc<Node>,
    caller: &Caller,
    text: &str,
    gate: &str,
    place: &DoorPlace,
) -> Result<ScanResult, ErrorBody> {
    check_gate(gate)?;
    admit(node, caller, text, gate, place, now_ms(), false).await
}

/// Offline admissions, reported in order; one admitted before elsewhere is `Duplicate`.
pub async fn report(
    node: &Arc<Node>,
    caller: &Caller,
    admissions: Vec<OfflineAdmission>,
) -> Result<Vec<ScanResult>, ErrorBody> {
    if admissions.len() > cinebook_protocol::request::ADMISSIONS_REPORT_MAX {
        return Err(invalid(format!(
            "at most {} admissions per report",
            cinebook_protocol::request::ADMISSIONS_REPORT_MAX
        )));
    }
    for a in &admissions {
        check_gate(&a.gate)?;
    }
    let mut results = Vec::with_capacity(admissions.len());
    for a in admissions {
        let result = if a.at_ms > now_ms().saturating_add(OFFLINE_CLOCK_SKEW_MAX_MS) {
            refused(
                ScanVerdict::NotValid,
                "the admission's time is in the future: check the scanner's clock".into(),
                None,
            )
        } else {
            let place = DoorPlace::default();
            admit(node, caller, &a.ticket, &a.gate, &place, a.at_ms, true).await?
        };
        results.push(result);
    }
    Ok(results)
}

async fn admit(
    node: &Arc<Node>,
    caller: &Caller,
    text: &str,
    gate: &str,
    place: &DoorPlace,
    at_ms: u64,
    offline: bool,
) -> Result<ScanResult, ErrorBody> {
    let code = if ticket::is_payload(text) {
        match node.tickets.verifier().verify(text) {
            Ok(claims) => claims.code,
            Err(e) => return Ok(refused(ScanVerdict::NotValid, e.to_string(), None)),
        }
    } else {
        normal_code(text)
    };
    let Some(booking) = booking(node, &code) else {
        let reason = format!("no booking {code}");
        return Ok(refused(ScanVerdict::NotValid, reason, Some(code)));
    };
    // The booking as it is now decides (a payload signed before a change names the same show).
    let claims = claims_of(node, &booking)?;
    if let Err((verdict, reason)) = ticket::door_check(&claims, place, at_ms) {
        return Ok(with_booking(refused(verdict, reason, Some(code)), booking));
    }
    if !booking.status.is_live() {
        let reason = format!("booking {code} is {}", status_name(booking.status));
        return Ok(with_booking(
            refused(ScanVerdict::NotValid, reason, Some(code)),
            booking,
        ));
    }
    let admission = Admission {
        code: code.clone(),
        show_id: booking.show_id,
        at_ms,
        terminal_id: caller.terminal_id,
        gate: gate.to_owned(),
        offline,
    };
    let record = AdmissionRecord {
        admission: admission.clone(),
        lamport: node.lamport.tick(),
        node_id: node.config.node_id,
    };
    let slot = node
        .show(booking.show_id)
        .ok_or_else(|| ErrorBody::new(ErrorCode::NotFound, "show not found"))?;
    match node.store_call(node.store.commit_admission(&record)).await {
        Ok(AdmitOutcome::Admitted) => {
            let input = ShowInput::Command(Command::Admit { code: code.clone() });
            apply_durable(node, &slot, input).await?;
            let booking = self::booking(node, &code).unwrap_or(booking);
            Ok(ScanResult {
                verdict: ScanVerdict::Admitted,
                reason: format!("admit {}: {}", seats_text(&booking), code),
                code: Some(code),
                booking: Some(booking),
                admission: Some(admission),
            })
        }
        Ok(AdmitOutcome::Already(first)) => {
            if booking.status == BookingStatus::Confirmed {
                // Admitted on another node, or an answer lost here: memory follows the store.
                reconcile_booking(node, &slot, &code).await;
            }
            Ok(already(node, booking, first, &admission))
        }
        Err(e) if e.code == ErrorCode::Conflict => {
            reconcile_booking(node, &slot, &code).await;
            Ok(refused(ScanVerdict::NotValid, e.message, Some(code)))
        }
        Err(e) => Err(e),
    }
}

/// A ticket admitted before: refused at the door; at sync, the same report again is accepted
/// (a scanner that retries) and another scanner's or gate's admission is a `Duplicate`.
fn already(node: &Node, booking: Booking, first: Admission, this: &Admission) -> ScanResult {
    let code = first.code.clone();
    let booking = self::booking(node, &code).unwrap_or(booking);
    let same_report = this.offline
        && first.terminal_id == this.terminal_id
        && first.at_ms == this.at_ms
        && first.gate == this.gate;
    let (verdict, reason) = if same_report {
        (ScanVerdict::Admitted, format!("{code}: reported before"))
    } else {
        let verdict = if this.offline {
            ScanVerdict::Duplicate
        } else {
            ScanVerdict::AlreadyAdmitted
        };
        let how = if first.offline {
            " (offline scanner)"
        } else {
            ""
        };
        let reason = format!(
            "ticket {code} was already admitted at {} at gate {} by terminal {}{how}",
            ticket::utc(first.at_ms),
            first.gate,
            first.terminal_id
        );
        (verdict, reason)
    };
    ScanResult {
        verdict,
        reason,
        code: Some(code),
        booking: Some(booking),
        admission: Some(first),
    }
}

fn claims_of(node: &Node, booking: &Booking) -> Result<TicketClaims, ErrorBody> {
    let catalog = node.catalog();
    let show = catalog
        .shows
        .get(&booking.show_id)
        .ok_or_else(|| ErrorBody::new(ErrorCode::NotFound, "the booking's show is gone"))?;
    let runtime_min = catalog
        .movies
        .get(&show.movie_id)
        .map_or(0, |m| m.runtime_min);
    Ok(ticket::claims_for(
        &node.tickets,
        booking,
        show,
        runtime_min,
        now_ms(),
    ))
}

/// The signed ticket of a booking not yet in memory (a sale being written), from `catalog`;
/// `None` if its show is not in the catalog.
pub(crate) fn signed_ticket(
    node: &Node,
    catalog: &super::catalog::Catalog,
    booking: &Booking,
) -> Option<String> {
    let show = catalog.shows.get(&booking.show_id)?;
    let runtime_min = catalog
        .movies
        .get(&show.movie_id)
        .map_or(0, |m| m.runtime_min);
    let claims = ticket::claims_for(&node.tickets, booking, show, runtime_min, now_ms());
    Some(node.tickets.sign(&claims))
}

/// A booking by code, from memory (any caller: the door sees every booking of the cinema).
fn booking(node: &Node, code: &str) -> Option<Booking> {
    let show_id = node.show_of_booking(code)?;
    let slot = node.show(show_id)?;
    let state = slot.read();
    state.booking(code).cloned()
}

/// Booking codes as people type them: trimmed, upper case.
fn normal_code(text: &str) -> String {
    text.trim().to_ascii_uppercase()
}

fn check_gate(gate: &str) -> Result<(), ErrorBody> {
    if gate.is_empty() || gate.len() > GATE_MAX_BYTES {
        return Err(invalid(format!(
            "a gate name has 1..={GATE_MAX_BYTES} bytes"
        )));
    }
    Ok(())
}

fn refused(verdict: ScanVerdict, reason: String, code: Option<String>) -> ScanResult {
    ScanResult {
        verdict,
        reason,
        code,
        booking: None,
        admission: None,
    }
}

fn with_booking(mut result: ScanResult, booking: Booking) -> ScanResult {
    result.booking = Some(booking);
    result
}

fn seats_text(booking: &Booking) -> String {
    let labels: Vec<&str> = booking.seats.iter().map(|s| s.label.as_str()).collect();
    format!("{} ({})", booking.seats.len(), labels.join(", "))
}

fn status_name(status: BookingStatus) -> &'static str {
    crate::store::mysql::status_name(status)
}

fn invalid(message: String) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidArgument, message)
}

fn no_booking(code: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, format!("booking {code} not found"))
}
