//! A connection's writer task: frames from the outbound queue to the socket.

use std::sync::Arc;

use cinebook_protocol::{Envelope, ErrorBody, ErrorCode, FrameCodec, ProtocolError};
use futures::SinkExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::codec::FramedWrite;

use crate::node::Node;

pub(super) async fn write_frames(
    node: Arc<Node>,
    write: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Envelope>,
) {
    let mut sink = FramedWrite::new(write, FrameCodec::with_max(node.config.frame_max_bytes));
    while let Some(envelope) = rx.recv().await {
        let mut result = sink.feed(&envelope).await;
        // Batch whatever else is ready into one write.
        while result.is_ok() {
            match rx.try_recv() {
                Ok(more) => result = sink.feed(&more).await,
                Err(_) => break,
            }
        }
        if let Err(e) = result.and(SinkExt::<&Envelope>::flush(&mut sink).await) {
            match e {
                ProtocolError::FrameTooLarge { .. } | ProtocolError::Encode(_) => {
                    tracing::error!(error = %e, "reply could not be encoded");
                    let error = ErrorBody::new(
                        ErrorCode::Internal,
                        "the reply is larger than frame_max_bytes",
                    );
                    if sink
                        .send(&Envelope::error(
                            envelope.request_id,
                            node.lamport.tick(),
                            error,
                        ))
                        .await
                        .is_ok()
                    {
                        continue;
                    }
                    return;
                }
                _ => return,
            }
        }
    }
    let _ = SinkExt::<&Envelope>::close(&mut sink).await;
}
