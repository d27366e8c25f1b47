//! The accept loop: connection admission by semaphore, graceful shutdown by cancellation.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cinebook_protocol::{
    preface, Envelope, ErrorBody, ErrorCode, PROTOCOL_VERSION, PUSH_REQUEST_ID,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::shield::Shield;
use crate::config::Config;
use crate::node::{Background, Node, StartError};
use crate::store::Store;

/// A bound, started node, ready to accept.
#[derive(Debug)]
pub struct Server {
    node: Arc<Node>,
    background: Background,
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<super::tls::Acceptor>,
}

/// A server running on its own task (tests, embedded use).
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The node, for inspection.
    pub node: Arc<Node>,
    /// Cancel to shut down gracefully.
    pub shutdown: CancellationToken,
    /// Completes when the server has shut down.
    pub join: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Shuts down gracefully and waits.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.join.await;
    }
}

impl Server {
    /// Starts the node (migrations, recovery, workers, writer) and binds the listener. With port 0
    /// the OS picks a port; see [`Server::local_addr`].
    pub async fn bind(mut config: Config, store: Arc<dyn Store>) -> Result<Server, StartError> {
        // A bad certificate or key stops the start, before anything listens.
        let tls = match &config.tls {
            Some(files) => Some(
                super::tls::acceptor(files)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
            ),
            None => None,
        };
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        config.listen = local_addr;
        let (node, background) = Node::start(config, store).await?;
        Ok(Server {
            node,
            background,
            listener,
            local_addr,
            tls,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The node.
    pub fn node(&self) -> Arc<Node> {
        self.node.clone()
    }

    /// Runs on a new task.
    pub fn spawn(self) -> RunningServer {
        let (addr, node, shutdown) = (
            self.local_addr,
            self.node.clone(),
            self.node.shutdown.clone(),
        );
        let join = tokio::spawn(self.run());
        RunningServer {
            addr,
            node,
            shutdown,
            join,
        }
    }

    /// Accepts until the node's shutdown token is cancelled, then stops accepting, lets
    /// connections finish their in-flight requests (telling clients), flushes the writer and
    /// stops the workers.
    pub async fn run(self) {
        let Server {
            node,
            background,
            listener,
            local_addr,
            tls,
        } = self;
        tracing::info!(%local_addr, node_id = node.config.node_id, "listening");
        let admission = Arc::new(Semaphore::new(node.config.max_connections.max(1)));
        let shield = Arc::new(Shield::new(node.config.limits.clone()));
        let connections = TaskTracker::new();
        loop {
            let accepted = tokio::select! {
                _ = node.shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(address) = shield.admit_address(peer.ip()) else {
                node.metrics.connection_refused();
                if shield.may_warn(peer.ip()) {
                    tracing::warn!(%peer, limit = node.config.limits.connections_per_address_max, "connections_per_address_max reached: refusing");
                }
                connections.spawn(refuse_overloaded(
                    node.lamport.tick(),
                    stream,
                    "too many connections from this address; retry shortly",
                ));
                continue;
            };
            match admission.clone().try_acquire_owned() {
                Ok(permit) => {
                    let (node, tls, shield) = (node.clone(), tls.clone(), shield.clone());
                    let counted = node.metrics.connection_opened();
                    connections.spawn(async move {
                        if let Some(stream) = super::tls::accept(&node, tls.as_ref(), stream).await
                        {
                            crate::net::conn::serve(node, shield, stream, peer).await;
                        }
                        drop(counted);
                        drop(permit);
                        drop(address);
                    });
                }
                Err(_) => {
                    node.metrics.connection_refused();
                    connections.spawn(refuse_overloaded(
                        node.lamport.tick(),
                        stream,
                        "too many connections; retry shortly",
                    ));
                }
            }
        }
        drop(listener);
        tracing::info!("shutting down: waiting for connections");
        connections.close();
        let grace = Duration::from_millis(node.config.shutdown_grace_ms);
        if tokio::time::timeout(grace, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not finish within the grace period");
        }
        node.stop_background(background).await;
        tracing::info!("shut down");
    }
}

async fn refuse_overloaded(lamport: u64, mut stream: TcpStream, why: &'static str) {
    let error = ErrorBody::new(ErrorCode::Overloaded, why);
    let Ok(frame) =
        cinebook_protocol::codec::encode_frame(&Envelope::error(PUSH_REQUEST_ID, lamport, error))
    else {
        return;
    };
    let _ = stream.write_all(&preface::encode(PROTOCOL_VERSION)).await;
    let _ = stream.write_all(&frame).await;
    let _ = stream.shutdown().await;
}
