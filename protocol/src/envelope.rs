//! The frame payload: [`Envelope`] `{ request_id, lamport, body }`.

use serde::{Deserialize, Serialize};

use crate::{ErrorBody, Push, Reply, Request};

/// The request id reserved for server pushes. Clients number their requests from 1.
pub const PUSH_REQUEST_ID: u64 = 0;

/// What every frame carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Chosen by the client, echoed by the server; [`PUSH_REQUEST_ID`] for pushes.
    pub request_id: u64,
    /// The sender's Lamport time when it sent the frame.
    pub lamport: u64,
    /// The message.
    pub body: Body,
}

/// The message in an envelope. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// (0) Client → server.
    Request(Request),
    /// (1) Server → client, success.
    Reply(Reply),
    /// (2) Server → client, failure.
    Error(ErrorBody),
    /// (3) Server → client, unsolicited.
    Push(Push),
}

impl Envelope {
    /// A request envelope.
    pub fn request(request_id: u64, lamport: u64, request: Request) -> Self {
        Self {
            request_id,
            lamport,
            body: Body::Request(request),
        }
    }

    /// A reply envelope.
    pub fn reply(request_id: u64, lamport: u64, reply: Reply) -> Self {
        Self {
            request_id,
            lamport,
            body: Body::Reply(reply),
        }
    }

    /// An error envelope.
    pub fn error(request_id: u64, lamport: u64, error: ErrorBody) -> Self {
        Self {
            request_id,
            lamport,
            body: Body::Error(error),
        }
    }

    /// A push envelope.
    pub fn push(lamport: u64, push: Push) -> Self {
        Self {
            request_id: PUSH_REQUEST_ID,
            lamport,
            body: Body::Push(push),
        }
    }
}
