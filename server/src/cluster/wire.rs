//! Domain events to and from their wire form ([`ReplicatedEvent`]).

use cinebook_protocol::cluster::ReplicatedEvent;

use crate::domain::Event;

/// The wire form of an event.
pub fn to_wire(event: &Event) -> ReplicatedEvent {
    match event.clone() {
        Event::Held {
            hold_id,
            terminal_id,
            seats,
            expires_at_ms,
            created_at_ms,
            idempotency_key,
        } => ReplicatedEvent::Held {
            hold_id,
            terminal_id,
            seats,
            expires_at_ms,
            created_at_ms,
            idempotency_key,
        },
        Event::Renewed {
            hold_id,
            expires_at_ms,
        } => ReplicatedEvent::Renewed {
            hold_id,
            expires_at_ms,
        },
        Event::Released { hold_id, seats } => ReplicatedEvent::Released { hold_id, seats },
        Event::Expired { hold_id, seats } => ReplicatedEvent::Expired { hold_id, seats },
        Event::Sold {
            hold_id,
            booking,
            idempotency_key,
        } => ReplicatedEvent::Sold {
            hold_id,
            booking,
            idempotency_key,
        },
        Event::Cancelled { code, refund } => ReplicatedEvent::Cancelled { code, refund },
        Event::Blocked { seats, blocked } => ReplicatedEvent::Blocked { seats, blocked },
    }
}

/// The event a wire form describes.
pub fn from_wire(event: ReplicatedEvent) -> Event {
    match event {
        ReplicatedEvent::Held {
            hold_id,
            terminal_id,
            seats,
            expires_at_ms,
            created_at_ms,
            idempotency_key,
        } => Event::Held {
            hold_id,
            terminal_id,
            seats,
            expires_at_ms,
            created_at_ms,
            idempotency_key,
        },
        ReplicatedEvent::Renewed {
            hold_id,
            expires_at_ms,
        } => Event::Renewed {
            hold_id,
            expires_at_ms,
        },
        ReplicatedEvent::Released { hold_id, seats } => Event::Released { hold_id, seats },
        ReplicatedEvent::Expired { hold_id, seats } => Event::Expired { hold_id, seats },
        ReplicatedEvent::Sold {
            hold_id,
            booking,
            idempotency_key,
        } => Event::Sold {
            hold_id,
            booking,
            idempotency_key,
        },
        ReplicatedEvent::Cancelled { code, refund } => Event::Cancelled { code, refund },
        ReplicatedEvent::Blocked { seats, blocked } => Event::Blocked { seats, blocked },
    }
}
