//! Terminals, tokens and the role matrix.

use cinebook_protocol::types::{PaymentMethod, Role};
use cinebook_protocol::{ErrorBody, ErrorCode, Request};
use sha2::{Digest, Sha256};

/// Bytes of randomness in a new token.
pub const TOKEN_BYTES: usize = 24;

/// A new random token, hex.
pub fn new_token() -> String {
    let bytes: [u8; TOKEN_BYTES] = rand::random();
    format!("cb_{}", hex::encode(bytes))
}

/// The stored form of a token: hex SHA-256. Tokens are long random strings, so a plain hash (no
/// salt, no stretching) is enough: there is nothing to brute-force.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `role` may send `request`. The table in one place: guest < kiosk < box-office < admin;
/// node is reserved for peers and may only read; web is a kiosk that sells through the gateway
/// only, so it may never `Confirm` (a terminal's own payment).
pub fn allowed(role: Role, request: &Request) -> bool {
    use cinebook_protocol::page::PagedList;
    use Request::*;
    if role == Role::Web && matches!(request, Confirm { .. } | ConfirmWithContact { .. }) {
        return false;
    }
    // The door scans and reports admissions; the box office and admins may too.
    if matches!(request, Scan { .. } | ReportAdmissions { .. }) {
        return matches!(role, Role::Door | Role::BoxOffice | Role::Admin);
    }
    let level = match role {
        Role::Guest | Role::Node | Role::Door => 0,
        Role::Kiosk | Role::Web => 1,
        Role::BoxOffice => 2,
        Role::Admin => 3,
    };
    let needed = match request {
        Hello { .. }
        | PeerHello { .. }
        | PeerProof { .. }
        | Ping { .. }
        | ListCities
        | ListTheaters { .. }
        | ListMovies { .. }
        | ListShows(_)
        | GetSeatMap { .. }
        | Subscribe { .. }
        | Unsubscribe { .. }
        | GetScreen { .. }
        | Availability { .. }
        | TicketKey => 0,
        Hold { .. }
        | Renew { .. }
        | Release { .. }
        | Confirm { .. }
        | ConfirmWithContact { .. }
        | GetBooking { .. }
        | GetTicket { .. }
        | CreatePaymentOrder { .. }
        | CreatePaymentOrderWithContact { .. }
        | VerifyCheckout { .. }
        | PaymentStatus { .. } => 1,
        Cancel { .. }
        | RefundSeats { .. }
        | ListBookings { .. }
        | ShiftReport { .. }
        | BlockSeatsWithReason { .. } => 2,
        UpsertCity(_)
        | UpsertTheater(_)
        | UpsertScreen(_)
        | UpsertMovie(_)
        | UpsertShow(_)
        | BlockSeats { .. }
        | AddTerminal { .. }
        | ListTerminals
        | RevokeTerminal { .. }
        | CancelShow { .. }
        | AuditTrail { .. } => 3,
        // A page of a list needs what the unpaged list needs.
        ListPage(page) => match page.list {
            PagedList::Cities
            | PagedList::Theaters { .. }
            | PagedList::Movies { .. }
            | PagedList::Shows(_) => 0,
            PagedList::Bookings { .. } => 2,
            PagedList::Terminals | PagedList::AuditTrail { .. } => 3,
        },
        // Cluster traffic: nodes only, and nothing else may send it.
        NodeStatus { .. }
        | Election { .. }
        | Coordinator { .. }
        | Follow { .. }
        | ReplicaAck { .. } => return role == Role::Node,
        Scan { .. } | ReportAdmissions { .. } => return false,
    };
    level >= needed
}

/// Whether a request changes state, so that only the leader may apply it.
pub fn is_write(request: &Request) -> bool {
    use Request::*;
    matches!(
        request,
        Hold { .. }
            | Renew { .. }
            | Release { .. }
            | Confirm { .. }
            | ConfirmWithContact { .. }
            | Cancel { .. }
            | RefundSeats { .. }
            | CancelShow { .. }
            | CreatePaymentOrder { .. }
            | CreatePaymentOrderWithContact { .. }
            | VerifyCheckout { .. }
            | UpsertCity(_)
            | UpsertTheater(_)
            | UpsertScreen(_)
            | UpsertMovie(_)
            | UpsertShow(_)
            | BlockSeats { .. }
            | BlockSeatsWithReason { .. }
            | Scan { .. }
            | ReportAdmissions { .. }
            | AddTerminal { .. }
            | RevokeTerminal { .. }
    )
}

/// Whether `role` may take payment by `method`: kiosks take cards only; nobody confirms with
/// `Gateway` (only the node records a gateway payment, after the gateway captured it).
pub fn may_take(role: Role, method: PaymentMethod) -> bool {
    if method == PaymentMethod::Gateway {
        return false;
    }
    match role {
        Role::Kiosk => method == PaymentMethod::Card,
        Role::BoxOffice | Role::Admin => true,
        Role::Guest | Role::Node | Role::Web | Role::Door => false,
    }
}

/// The error for a refused request.
pub fn forbidden(role: Role, what: &str) -> ErrorBody {
    let code = if role == Role::Guest {
        ErrorCode::Unauthenticated
    } else {
        ErrorCode::Forbidden
    };
    ErrorBody::new(code, format!("a {} terminal may not {what}", role.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_sells_through_the_gateway_only() {
        let hold = Request::Hold {
            show_id: 1,
            selection: cinebook_protocol::types::SeatSelection::Best {
                count: 1,
                category: None,
            },
            idempotency_key: None,
        };
        let order = Request::CreatePaymentOrder {
            hold_id: 1,
            idempotency_key: "k".into(),
        };
        let confirm = Request::Confirm {
            hold_id: 1,
            payment: cinebook_protocol::types::Payment {
                method: PaymentMethod::Card,
                amount: cinebook_protocol::types::Money {
                    amount_minor: 1,
                    currency: "EUR".into(),
                },
                reference: None,
            },
            idempotency_key: "k".into(),
        };
        let cancel = Request::Cancel {
            code: "C".into(),
            refund: true,
            reason: "r".into(),
        };
        let report = Request::ShiftReport {
            terminal_id: None,
            from_ms: 0,
            to_ms: 1,
        };
        assert!(allowed(Role::Web, &hold));
        assert!(allowed(Role::Web, &order));
        assert!(allowed(
            Role::Web,
            &Request::GetBooking { code: "C".into() }
        ));
        assert!(allowed(Role::Kiosk, &confirm));
        assert!(!allowed(Role::Web, &confirm));
        assert!(!allowed(Role::Web, &cancel));
        assert!(!allowed(Role::Web, &report));
        assert!(!allowed(Role::Web, &Request::ListTerminals));
        for method in [
            PaymentMethod::Cash,
            PaymentMethod::Card,
            PaymentMethod::Comp,
            PaymentMethod::Gateway,
        ] {
            assert!(!may_take(Role::Web, method));
        }
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        assert_ne!(new_token(), new_token());
        assert_eq!(token_sha256("a"), token_sha256("a"));
        assert_eq!(token_sha256("a").len(), 64);
    }
}
