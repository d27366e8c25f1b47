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
    /// The inner codec has consumed a header and is waiting for that frame's payload: the bytes
    /// at the front of the buffer are payload, not a header, and must not be checked as one.
    in_payload: bool,
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
            in_payload: false,
        }
    }

    /// The configured limit.
    pub fn frame_max_bytes(&self) -> usize {
        self.frame_max_bytes
    }

    /// Rejects a bad header before the inner codec reserves room for the payload. `src` must start
    /// at a frame boundary and hold at least [`FRAME_HEADER_BYTES`].
    fn check_header(&self, src: &BytesMut) -> Result<(), ProtocolError> {
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
        if !self.in_payload {
            if src.len() < FRAME_HEADER_BYTES {
                return Ok(None);
            }
            self.check_header(src)?;
        }
        // With a whole, valid header in `src`, the inner codec always consumes it; if the payload
        // is not all there yet it returns `None` and waits in its payload state, and so do we.
        match self.inner.decode(src)? {
            Some(payload) => {
                self.in_payload = false;
                Ok(Some(decode_payload(&payload)))
            }
            None => {
                self.in_payload = true;
                Ok(None)
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Request;

    fn ping_frame() -> Vec<u8> {
        encode_frame(&Envelope::request(1, 1, Request::Ping { nonce: 7 })).expect("encode")
    }

    /// Regression: once the header was consumed, the next call used to read the first four
    /// payload bytes as a header (here `01 01 00 01`, "16 MiB") and fail with `FrameTooLarge`.
    #[test]
    fn payload_split_from_its_header_is_not_read_as_a_header() {
        let frame = ping_frame();
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::from(&frame[..FRAME_HEADER_BYTES + 1]);
        assert_eq!(codec.decode(&mut buf).expect("header"), None);
        buf.extend_from_slice(&frame[FRAME_HEADER_BYTES + 1..]);
        assert_eq!(
            codec.decode(&mut buf).expect("payload"),
            Some(Incoming::Envelope(Envelope::request(
                1,
                1,
                Request::Ping { nonce: 7 }
            )))
        );
    }

    #[test]
    fn byte_at_a_time_decodes_two_frames() {
        let mut stream = ping_frame();
        stream.extend_from_slice(&ping_frame());
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::new();
        let mut got = 0;
        for byte in stream {
            buf.extend_from_slice(&[byte]);
            if codec.decode(&mut buf).expect("decode").is_some() {
                got += 1;
            }
        }
        assert_eq!(got, 2);
        assert!(buf.is_empty());
    }
}
