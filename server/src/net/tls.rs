//! Optional TLS on the client port (rustls, ring provider): `--tls-cert` and `--tls-key` (PEM).
//! The CineBook protocol runs unchanged inside: the preface follows the TLS handshake. A plain
//! client on a TLS port is told so in a CineBook error frame instead of hanging in a handshake.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cinebook_protocol::{
    preface, Envelope, ErrorBody, ErrorCode, PROTOCOL_VERSION, PUSH_REQUEST_ID,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use crate::node::Node;

/// Where the node's certificate chain and private key are (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert_path: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
}

/// A byte stream a connection runs on: plain TCP or TLS over TCP.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

/// A connection's stream.
pub type Stream = Box<dyn ByteStream>;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A file could not be read or holds no usable PEM item.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// rustls refused the certificate or key.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> TlsSetupError {
    TlsSetupError::File {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// A TLS acceptor (its rustls configuration, shared by every connection).
#[derive(Clone)]
pub struct Acceptor(TlsAcceptor);

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acceptor")
    }
}

/// The TLS acceptor for these files (read once, at start-up).
pub fn acceptor(files: &TlsFiles) -> Result<Acceptor, TlsSetupError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert_path)
        .map_err(|e| file_error(&files.cert_path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(&files.cert_path, e))?;
    if certs.is_empty() {
        return Err(file_error(&files.cert_path, "no CERTIFICATE in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key_path)
        .map_err(|e| file_error(&files.key_path, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Acceptor(TlsAcceptor::from(Arc::new(config))))
}

/// The first byte of a TLS record carrying a handshake (a ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Prepares an accepted socket: plain as it is, or the TLS handshake (within
/// `frame_timeout_ms`). `None` when the connection is done (refused or failed).
pub async fn accept(node: &Node, acceptor: Option<&Acceptor>, tcp: TcpStream) -> Option<Stream> {
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = acceptor else {
        return Some(Box::new(tcp));
    };
    let limit = Duration::from_millis(node.config.frame_timeout_ms);
    let mut first = [0u8; 1];
    match tokio::time::timeout(limit, tcp.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE_RECORD => {}
        Ok(Ok(1)) => {
            refuse_plain(node, tcp).await;
            return None;
        }
        _ => return None,
    }
    match tokio::time::timeout(limit, acceptor.0.accept(tcp)).await {
        Ok(Ok(tls)) => Some(Box::new(tls)),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => None,
    }
}

/// A plain client on a TLS port: our preface and one error frame saying what to do, in clear
/// text (the client has spoken plain CineBook or something else entirely).
async fn refuse_plain(node: &Node, mut tcp: TcpStream) {
    let error = ErrorBody::new(
        ErrorCode::Forbidden,
        "this port requires TLS: connect with TLS (cinebook --tls, ClientConfig::tls)",
    );
    let envelope = Envelope::error(PUSH_REQUEST_ID, node.lamport.tick(), error);
    let Ok(frame) = cinebook_protocol::codec::encode_frame(&envelope) else {
        return;
    };
    let _ = tcp.write_all(&preface::encode(PROTOCOL_VERSION)).await;
    let _ = tcp.write_all(&frame).await;
    let _ = tcp.shutdown().await;
    // Read what the client sent (its preface, its Hello) until it hangs up: closing with unread
    // bytes would reset the connection and could destroy the error frame before it is read.
    let limit = Duration::from_millis(node.config.frame_timeout_ms);
    let mut sink = [0u8; 1024];
    let drain = async {
        let mut drained = 0usize;
        while drained < REFUSE_DRAIN_BYTES_MAX {
            match tcp.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    };
    let _ = tokio::time::timeout(limit, drain).await;
}

/// A refused plain client's bytes read at most before the socket is closed.
const REFUSE_DRAIN_BYTES_MAX: usize = 64 * 1024;

/// How a node opens TLS to its peers when the cluster runs TLS: the CA their certificates
/// chain to, checked against the host name of each peer's `--peers` address.
#[derive(Clone)]
pub struct PeerConnector(tokio_rustls::TlsConnector);

impl std::fmt::Debug for PeerConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerConnector")
    }
}

/// A connector trusting the CA certificate(s) in `ca_file` (PEM).
pub fn peer_connector(ca_file: &Path) -> Result<PeerConnector, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| file_error(ca_file, e))? {
        roots
            .add(cert.map_err(|e| file_error(ca_file, e))?)
            .map_err(|e| file_error(ca_file, e))?;
    }
    if roots.is_empty() {
        return Err(file_error(ca_file, "no CERTIFICATE in the file"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(PeerConnector(tokio_rustls::TlsConnector::from(Arc::new(
        config,
    ))))
}

/// Wraps a connection to the peer at `addr` in TLS when the cluster runs TLS.
pub async fn connect_peer(
    connector: Option<&PeerConnector>,
    addr: &str,
    tcp: TcpStream,
) -> Result<Stream, String> {
    let _ = tcp.set_nodelay(true);
    let Some(connector) = connector else {
        return Ok(Box::new(tcp));
    };
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("peer name {host:?}: {e}"))?;
    match connector.0.connect(name, tcp).await {
        Ok(tls) => Ok(Box::new(tls)),
        Err(e) => Err(format!("TLS to {addr}: {e}")),
    }
}
