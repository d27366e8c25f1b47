//! The frame decoder of a connection, timing each frame from its first byte.

use std::time::Instant;

use bytes::BytesMut;
use cinebook_protocol::{FrameCodec, Incoming, ProtocolError};
use tokio_util::codec::Decoder;

/// The frame codec, plus when the frame being received began. A started frame must be complete
/// within `frame_timeout_ms` however its bytes trickle in; the read buffer alone cannot tell, as
/// the codec consumes a frame's header before its payload arrives.
pub(super) struct TimedCodec {
    inner: FrameCodec,
    started: Option<Instant>,
}

impl TimedCodec {
    pub(super) fn new(inner: FrameCodec) -> Self {
        Self {
            inner,
            started: None,
        }
    }

    /// A frame being received is timed again from now: the node stopped reading it (outbound
    /// back-pressure), so the time spent is not the client's.
    pub(super) fn restart_timer(&mut self) {
        if self.started.is_some() {
            self.started = Some(Instant::now());
        }
    }

    /// When the unfinished frame began, if one is being received.
    pub(super) fn frame_started(&self) -> Option<Instant> {
        self.started
    }
}

impl Decoder for TimedCodec {
    type Item = Incoming;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, ProtocolError> {
        let had_bytes = !src.is_empty();
        let item = self.inner.decode(src)?;
        match item {
            // The next frame, if its start is already buffered, is timed from the next call.
            Some(_) => self.started = None,
            None if had_bytes && self.started.is_none() => self.started = Some(Instant::now()),
            None => {}
        }
        Ok(item)
    }
}
