//! Tickets and the door: one typed method per request of docs/PROTOCOL.md 17.

use cinebook_protocol::door::{DoorPlace, OfflineAdmission, ScanResult, TicketInfo};
use cinebook_protocol::ticket::TicketVerifier;
use cinebook_protocol::types::{SeatId, ShowId};
use cinebook_protocol::{Reply, Request};

use crate::{Client, Error, Result};

fn unexpected(request: &'static str, other: Reply) -> Error {
    Error::UnexpectedReply {
        request,
        got: format!("{other:?}"),
    }
}

impl Client {
    /// A booking's ticket: the booking and its signed QR payload.
    pub async fn ticket(&self, code: &str) -> Result<TicketInfo> {
        let request = Request::GetTicket {
            code: code.to_owned(),
        };
        match self.request(request).await? {
            Reply::Ticket(ticket) => Ok(ticket),
            other => Err(unexpected("get_ticket", other)),
        }
    }

    /// The text to put in the QR code of booking `code` (the node signs it).
    pub async fn ticket_qr_text(&self, code: &str) -> Result<String> {
        Ok(self.ticket(code).await?.payload)
    }

    /// The cinema's ticket-verification key, for checking tickets offline.
    pub async fn ticket_key(&self) -> Result<TicketVerifier> {
        match self.request(Request::TicketKey).await? {
            Reply::TicketKey(key) => {
                TicketVerifier::from_bytes(&key.public_key).map_err(|e| Error::UnexpectedReply {
                    request: "ticket_key",
                    got: e.to_string(),
                })
            }
            other => Err(unexpected("ticket_key", other)),
        }
    }

    /// Door: admits the holder of `ticket` (a QR payload or a booking code) at `gate`. A
    /// refused ticket is an `Ok` result with its verdict and reason. Not retried after the
    /// request was sent (a retry would find its own admission): a lost answer is
    /// [`Error::Indeterminate`]; scan again to see the admission.
    pub async fn scan(&self, ticket: &str, gate: &str, place: DoorPlace) -> Result<ScanResult> {
        let request = Request::Scan {
            ticket: ticket.to_owned(),
            gate: gate.to_owned(),
            place,
        };
        match self.request(request).await? {
            Reply::Scan(result) => Ok(result),
            other => Err(unexpected("scan", other)),
        }
    }

    /// Door: reports admissions made offline; one result each, in order. Safe to repeat.
    pub async fn report_admissions(
        &self,
        admissions: Vec<OfflineAdmission>,
    ) -> Result<Vec<ScanResult>> {
        match self
            .request(Request::ReportAdmissions { admissions })
            .await?
        {
            Reply::AdmissionsReported(results) => Ok(results),
            other => Err(unexpected("report_admissions", other)),
        }
    }

    /// Box office: blocks (house seats) or frees seats of a show, with a reason for the audit
    /// trail.
    pub async fn block_seats_with_reason(
        &self,
        show_id: ShowId,
        seats: Vec<SeatId>,
        blocked: bool,
        reason: &str,
    ) -> Result<()> {
        let request = Request::BlockSeatsWithReason {
            show_id,
            seats,
            blocked,
            reason: reason.to_owned(),
        };
        match self.request(request).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected("block_seats_with_reason", other)),
        }
    }
}
