//! TLS to the server (rustls, ring provider): [`TlsOptions`] in [`crate::ClientConfig::tls`].
//! The CineBook protocol runs unchanged inside; the preface follows the TLS handshake.

use std::path::PathBuf;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::TlsConnector;

use crate::{Error, Result};

/// How to check the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsOptions {
    /// Trust only the CA certificates in this PEM file (such as a cinema's own CA or the node's
    /// self-signed certificate). `None` trusts the public web PKI roots (`webpki-roots`).
    pub ca_file: Option<PathBuf>,
    /// The name the certificate must carry; `None` is the host part of the address.
    pub server_name: Option<String>,
}

/// A byte stream a connection runs on.
pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

/// A connection's stream: plain TCP or TLS over it.
pub(crate) type Stream = Box<dyn ByteStream>;

fn tls_error(addr: &str, message: impl std::fmt::Display) -> Error {
    Error::Connect {
        addr: addr.to_string(),
        message: format!("TLS: {message}"),
    }
}

fn roots(addr: &str, options: &TlsOptions) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    match &options.ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| tls_error(addr, format_args!("{}: {e}", path.display())))?;
            for cert in certs {
                let cert =
                    cert.map_err(|e| tls_error(addr, format_args!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| tls_error(addr, format_args!("{}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(tls_error(
                    addr,
                    format_args!("{}: no CERTIFICATE in the file", path.display()),
                ));
            }
        }
    }
    Ok(roots)
}

/// The host part of `host:port` or `[v6]:port`.
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Wraps `tcp` in TLS per `options` (plain when `None`).
pub(crate) async fn connect(
    addr: &str,
    options: Option<&TlsOptions>,
    tcp: TcpStream,
) -> Result<Stream> {
    let Some(options) = options else {
        return Ok(Box::new(tcp));
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(addr, e))?
        .with_root_certificates(roots(addr, options)?)
        .with_no_client_auth();
    let name = options
        .server_name
        .clone()
        .unwrap_or_else(|| host_of(addr).to_string());
    let name = ServerName::try_from(name.clone())
        .map_err(|e| tls_error(addr, format_args!("server name {name:?}: {e}")))?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| {
            tls_error(
                addr,
                format_args!(
                    "handshake failed: {e} (does this port speak TLS? without --tls-cert on \
                     the server, connect without --tls)"
                ),
            )
        })?;
    Ok(Box::new(tls))
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn hosts() {
        assert_eq!(host_of("localhost:7878"), "localhost");
        assert_eq!(host_of("[::1]:7878"), "::1");
        assert_eq!(host_of("cinema.example"), "cinema.example");
    }
}
