//! A push encoded once for every subscriber of its show.
//!
//! Workers publish a [`SharedPush`] on the show's broadcast. The first subscriber's forwarder
//! that needs the frame encodes it (with the Lamport time of that moment); every other
//! subscriber gets the same [`Bytes`], a reference count and no copy. Before, each of 1,000
//! subscribers deep-cloned the push and encoded it again.

use std::sync::OnceLock;

use bytes::Bytes;
use cinebook_protocol::{Envelope, LamportClock, Push};

/// A push and its frame, encoded at most once.
#[derive(Debug)]
pub struct SharedPush {
    push: Push,
    frame: OnceLock<Option<Bytes>>,
}

impl SharedPush {
    /// Wraps a push; nothing is encoded yet (nobody may be listening).
    pub fn new(push: Push) -> Self {
        Self {
            push,
            frame: OnceLock::new(),
        }
    }

    /// The push.
    pub fn push(&self) -> &Push {
        &self.push
    }

    /// The encoded frame, shared by every caller; `None` if it does not fit `frame_max_bytes`
    /// (a seat-change push of a whole 4,000-seat show is far below the default; logged).
    pub fn frame(&self, lamport: &LamportClock, frame_max_bytes: usize) -> Option<Bytes> {
        self.frame
            .get_or_init(|| {
                let envelope = Envelope::push(lamport.tick(), self.push.clone());
                match cinebook_protocol::codec::encode_frame(&envelope) {
                    Ok(bytes)
                        if bytes.len()
                            <= frame_max_bytes + cinebook_protocol::codec::FRAME_HEADER_BYTES =>
                    {
                        Some(Bytes::from(bytes))
                    }
                    other => {
                        let why = other.err().map(|e| e.to_string());
                        tracing::error!(error = ?why, "a push does not fit frame_max_bytes; not sent");
                        None
                    }
                }
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subscriber_gets_the_same_bytes() {
        let lamport = LamportClock::new(0);
        let shared = SharedPush::new(Push::Resync { show_id: 7 });
        let a = shared.frame(&lamport, 1 << 20).expect("fits");
        let b = shared.frame(&lamport, 1 << 20).expect("fits");
        assert_eq!(a.as_ptr(), b.as_ptr(), "encoded twice");
        // Encoded once: the clock ticked once.
        assert_eq!(lamport.now(), 1);
        let decoded = cinebook_protocol::codec::decode_payload(&a[4..]);
        assert!(matches!(
            decoded,
            cinebook_protocol::Incoming::Envelope(Envelope {
                body: cinebook_protocol::Body::Push(Push::Resync { show_id: 7 }),
                ..
            })
        ));
    }

    #[test]
    fn a_push_over_the_frame_limit_is_not_sent() {
        let lamport = LamportClock::new(0);
        let shared = SharedPush::new(Push::Resync { show_id: 7 });
        assert!(shared.frame(&lamport, 0).is_none());
    }
}
