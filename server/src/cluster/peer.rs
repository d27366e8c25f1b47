//! A short connection to another node: preface, the peer handshake (both nodes prove the cluster
//! secret, [`super::peer_auth`]), one request, one answer. Election traffic is rare; a fresh
//! connection each time keeps no state to go stale.

use std::time::Duration;

use cinebook_protocol::{
    preface, Body, Envelope, ErrorBody, ErrorCode, FrameCodec, Incoming, Reply, Request,
    PROTOCOL_VERSION,
};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::peer_auth;
use crate::net::tls::Stream;

/// Why a peer call failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// Could not connect or the connection broke.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The peer answered with an error.
    #[error("peer refused: {0}")]
    Refused(ErrorBody),
    /// No answer in time.
    #[error("peer timed out")]
    Timeout,
    /// The node that answered is not the one dialled, or could not prove the cluster secret.
    #[error("not a peer: {0}")]
    Impostor(String),
}

/// Who this node is to its peers: its id and the cluster secret (which never leaves it).
#[derive(Clone, Copy)]
pub struct PeerIdentity<'a> {
    /// This node's id.
    pub node_id: u32,
    /// The cluster secret.
    pub secret: &'a str,
    /// TLS to the peers, if the cluster runs TLS.
    pub tls: Option<&'a crate::net::tls::PeerConnector>,
}

impl std::fmt::Debug for PeerIdentity<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerIdentity")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

/// An authenticated connection to a peer.
pub struct PeerConnection {
    framed: Framed<Stream, FrameCodec>,
    next_id: u64,
}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl PeerConnection {
    /// Connects to node `peer_id` at `addr`; both sides prove the cluster secret.
    pub async fn open(
        addr: &str,
        me: PeerIdentity<'_>,
        peer_id: u32,
        lamport: u64,
    ) -> Result<Self, PeerError> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        let mut stream = crate::net::tls::connect_peer(me.tls, addr, tcp)
            .await
            .map_err(PeerError::Unreachable)?;
        stream
            .write_all(&preface::encode(PROTOCOL_VERSION))
            .await
            .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        let mut answer = [0u8; preface::PREFACE_LEN];
        stream
            .read_exact(&mut answer)
            .await
            .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        if !matches!(preface::check(&answer), preface::PrefaceCheck::Accepted(_)) {
            return Err(PeerError::Unreachable("not a CineBook node".into()));
        }
        let mut peer = Self {
            framed: Framed::new(stream, FrameCodec::new()),
            next_id: 1,
        };
        let nonce = peer_auth::new_nonce();
        let hello = Request::PeerHello {
            version: PROTOCOL_VERSION,
            node_id: me.node_id,
            nonce,
        };
        let (challenge, _) = peer.call(hello, lamport).await?;
        let proof = peer_auth::answer(me.secret, me.node_id, peer_id, nonce, &challenge)
            .map_err(PeerError::Impostor)?;
        match peer.call(Request::PeerProof { proof }, lamport).await? {
            (Reply::Welcome { .. }, _) => Ok(peer),
            (other, _) => Err(PeerError::Impostor(format!(
                "unexpected answer to PeerProof: {other:?}"
            ))),
        }
    }

    /// Sends one request without waiting for its answer; returns its request id (the answer
    /// arrives among the frames of [`PeerConnection::next`]).
    pub async fn send(&mut self, request: Request, lamport: u64) -> Result<u64, PeerError> {
        let id = self.next_id;
        self.next_id += 1;
        self.framed
            .send(Envelope::request(id, lamport, request))
            .await
            .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        Ok(id)
    }

    /// Sends one request and waits for its answer (pushes before it are skipped).
    pub async fn call(
        &mut self,
        request: Request,
        lamport: u64,
    ) -> Result<(Reply, u64), PeerError> {
        let id = self.next_id;
        self.next_id += 1;
        self.framed
            .send(Envelope::request(id, lamport, request))
            .await
            .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        loop {
            match self.next().await? {
                Envelope {
                    request_id,
                    lamport,
                    body: Body::Reply(reply),
                } if request_id == id => return Ok((reply, lamport)),
                Envelope {
                    request_id,
                    body: Body::Error(error),
                    ..
                } if request_id == id || request_id == 0 => return Err(PeerError::Refused(error)),
                _ => continue,
            }
        }
    }

    /// The next frame.
    pub async fn next(&mut self) -> Result<Envelope, PeerError> {
        match self.framed.next().await {
            Some(Ok(Incoming::Envelope(envelope))) => Ok(envelope),
            Some(Ok(Incoming::Malformed { reason, .. })) => {
                Err(PeerError::Unreachable(format!("malformed frame: {reason}")))
            }
            Some(Err(e)) => Err(PeerError::Unreachable(e.to_string())),
            None => Err(PeerError::Unreachable("connection closed".into())),
        }
    }
}

/// Opens a connection to node `peer_id`, makes one call, closes; all within `timeout_ms`.
pub async fn call_once(
    addr: &str,
    me: PeerIdentity<'_>,
    peer_id: u32,
    request: Request,
    lamport: u64,
    timeout_ms: u64,
) -> Result<(Reply, u64), PeerError> {
    let work = async {
        let mut peer = PeerConnection::open(addr, me, peer_id, lamport).await?;
        peer.call(request, lamport).await
    };
    match tokio::time::timeout(Duration::from_millis(timeout_ms), work).await {
        Ok(result) => result,
        Err(_) => Err(PeerError::Timeout),
    }
}

/// Whether an error means "not a node of this cluster" (a wrong secret), as opposed to down.
pub fn is_refused_auth(error: &PeerError) -> bool {
    matches!(error, PeerError::Impostor(_))
        || matches!(error, PeerError::Refused(e) if matches!(e.code, ErrorCode::Unauthenticated | ErrorCode::Forbidden))
}
