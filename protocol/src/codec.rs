//! [`FrameCodec`]: u32 big-endian length + postcard payload, built on `LengthDelimitedCodec`.
//!
//! The length is checked against `frame_max_bytes` before the payload is buffered, so a header
//! claiming 4 GiB costs nothing. A zero-length or over-long frame is fatal for the stream (the
//! framing can no longer be trusted). A well-framed payload that does not decode is *not* fatal:
//! the decoder yields [`Incoming::Malformed`] with the request id if it could be read, so the
//! server can answer `BadFrame` and keep the connection.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use crate::{Envelope, ProtocolError};

/// Default maximum payload length: 1 MiB.
pub const FRAME_MAX_BYTES_DEFAULT: usize = 1024 * 1024;

/// Length of the frame header in bytes.
pub const FRAME_HEADER_BYTES: usize = 4;

/// One decoded frame.
// Envelope is the hot path and Malformed is rare: boxing the common case would cost an
// allocation per frame to save stack space on the rare one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A well-formed envelope.
    Envelope(Envelope),
    /// A well-framed payload that is not a valid envelope.
    Malformed {
        /// The request id, if the payload began with a readable one.
        request_id: Option<u64>,
        /// What was wrong, for the error message.
        reason: String,
    },
}

/// Encodes an envelope to its payload bytes (no length header).
pub fn encode_payload(envelope: &Envelope) -> Result<Vec<u8>, ProtocolError> {
    postcard::to_stdvec(envelope).map_err(|e| ProtocolError::Encode(e.to_string()))
}

/// Decodes one payload (no length header). Trailing bytes are an error.
pub fn decode_payload(payload: &[u8]) -> Incoming {
    match postcard::take_from_bytes::<Envelope>(payload) {
        Ok((envelope, [])) => Incoming::Envelope(envelope),
        Ok((_, rest)) => Incoming::Malformed {
            request_id: leading_request_id(payload),
            reason: format!("{} trailing bytes after the envelope", rest.len()),
        },
        Err(e) => Incoming::Malformed {
            request_id: leading_request_id(payload),
            reason: e.to_string(),
        },
    }
}

fn leading_request_id(payload: &[u8]) -> Option<u64> {
    postcard::take_from_bytes::<u64>(payload)
        .ok()
        .map(|(id, _)| id)
}

/// The CineBook frame codec.
#[derive(Debug)]
pub struct FrameCodec {
    inner: LengthDelimitedCodec,
    frame_max_bytes: usize,
}

impl FrameCodec {
    /// A codec with the default 1 MiB limit.
    pub fn new() -> Self {
        Self::with_max(FRAME_MAX_BYTES_DEFAULT)
    }

    /// A codec accepting payloads up to `frame_max_bytes` (at least 1).
    pub fn with_max(frame_max_bytes: usize) -> Self {
        let frame_max_bytes = frame_max_bytes.clamp(1, u32::MAX as usize);
        let inner = LengthDelimitedCodec::builder()
            .length_field_type::<u32>()
            .big_endian()
            .max_frame_length(frame_max_bytes)
            .new_codec();
        Self {
            inner,
            frame_max_bytes,
        }
    }

    /// The configured limit.
    pub fn frame_max_bytes(&self) -> usize {
        self.frame_max_bytes
    }

    /// Rejects a bad header before the inner codec reserves room for the payload.
    fn check_header(&self, src: &BytesMut) -> Result<(), ProtocolError> {
        if src.len() < FRAME_HEADER_BYTES {
            return Ok(());
        }
        let len_bytes = u64::from((&src[..FRAME_HEADER_BYTES]).get_u32());
        if len_bytes == 0 {
            return Err(ProtocolError::EmptyFrame);
        }
        if len_bytes > self.frame_max_bytes as u64 {
            return Err(ProtocolError::FrameTooLarge {
                len_bytes,
                max_bytes: self.frame_max_bytes,
            });
        }
        Ok(())
    }
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder for FrameCodec {
    type Item = Incoming;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, ProtocolError> {
        self.check_header(src)?;
        match self.inner.decode(src)? {
            Some(payload) => Ok(Some(decode_payload(&payload))),
            None => Ok(None),
        }
    }
}

impl Encoder<&Envelope> for FrameCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: &Envelope, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        let payload = encode_payload(item)?;
        if payload.len() > self.frame_max_bytes {
            return Err(ProtocolError::FrameTooLarge {
                len_bytes: payload.len() as u64,
                max_bytes: self.frame_max_bytes,
            });
        }
        self.inner.encode(Bytes::from(payload), dst)?;
        Ok(())
    }
}

impl Encoder<Envelope> for FrameCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: Envelope, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        self.encode(&item, dst)
    }
}

/// Encodes one whole frame (header and payload) into a new buffer: for tests, tools and other
/// languages' reference vectors.
pub fn encode_frame(envelope: &Envelope) -> Result<Vec<u8>, ProtocolError> {
    let payload = encode_payload(envelope)?;
    let len = u32::try_from(payload.len())
        .map_err(|_| ProtocolError::Encode("payload longer than u32::MAX".into()))?;
    let mut out = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}
