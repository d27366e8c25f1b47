//! The connection preface (PROTOCOL.md 2): read, checked and answered before any frame.

use std::time::Duration;

use super::tls::Stream;
use cinebook_protocol::preface::{self, PrefaceCheck, PrefaceError};
use cinebook_protocol::{
    Envelope, ErrorBody, ErrorCode, ProtocolError, PROTOCOL_VERSION, PUSH_REQUEST_ID,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::node::Node;

/// Reads and answers the preface. `None` means the connection was refused and is done.
pub(super) async fn read_preface(
    node: &Node,
    stream: &mut Stream,
) -> Result<Option<Vec<u8>>, ProtocolError> {
    // The whole preface must arrive within frame_timeout_ms, not each of its bytes.
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(node.config.frame_timeout_ms);
    let mut received = Vec::with_capacity(preface::PREFACE_LEN);
    let mut chunk = [0u8; preface::PREFACE_LEN];
    loop {
        match preface::check(&received) {
            PrefaceCheck::NeedMore => {}
            PrefaceCheck::Accepted(version) => {
                // Echo the version accepted (PROTOCOL.md 2): the one this connection speaks.
                stream.write_all(&preface::encode(version)).await?;
                return Ok(Some(received.split_off(preface::PREFACE_LEN)));
            }
            PrefaceCheck::Refused(PrefaceError::BadMagic) => {
                stream
                    .write_all(preface::WRONG_MAGIC_LINE.as_bytes())
                    .await?;
                let _ = stream.shutdown().await;
                return Ok(None);
            }
            PrefaceCheck::Refused(PrefaceError::UnsupportedVersion { min, max, got }) => {
                stream.write_all(&preface::encode(PROTOCOL_VERSION)).await?;
                let error = ErrorBody::new(
                    ErrorCode::UnsupportedVersion { min, max },
                    format!(
                        "protocol version {got} is not supported; this node speaks {min}..={max}"
                    ),
                );
                let frame = cinebook_protocol::codec::encode_frame(&Envelope::error(
                    PUSH_REQUEST_ID,
                    node.lamport.tick(),
                    error,
                ))?;
                stream.write_all(&frame).await?;
                let _ = stream.shutdown().await;
                return Ok(None);
            }
        }
        let want = preface::PREFACE_LEN - received.len();
        // A connection still in its preface has no request to finish: on shutdown it is
        // closed at once instead of holding the node's exit until its deadline.
        let n = tokio::select! {
            _ = node.shutdown.cancelled() => return Ok(None),
            read = tokio::time::timeout_at(deadline, stream.read(&mut chunk[..want])) => match read {
                Ok(read) => read?,
                Err(_) => return Ok(None),
            },
        };
        if n == 0 {
            return Ok(None);
        }
        received.extend_from_slice(&chunk[..n]);
    }
}
