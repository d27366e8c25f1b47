//! [`MysqlProxy`]: a fault-injecting TCP proxy in front of the test MySQL server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mysql_async::Opts;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

use super::TestDatabase;

/// Bytes read from one side before they are forwarded to the other.
const PROXY_CHUNK_BYTES: usize = 64 * 1024;

/// What a [`MysqlProxy`] does when a client write containing the armed pattern passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyFault {
    /// Forward the write, then stop forwarding server→client bytes on every connection until
    /// [`MysqlProxy::resume`]: the request (a `COMMIT`, say) reaches MySQL, its answer does not
    /// come back.
    Stall,
    /// Forward the write, then close every proxied connection: MySQL got the request, its
    /// answer is lost with the connection. New connections are accepted.
    Drop,
    /// Discard the write and every later client write on that connection (its other
    /// connections are untouched): the request, and the driver's clean-up after it (a
    /// `ROLLBACK`), never reach MySQL, which keeps the connection's transaction open until the
    /// connection is closed ([`MysqlProxy::cut`]), even when the client closes its end.
    Withhold,
}

/// An armed fault: the first client write containing `pattern` (any write when it is empty)
/// triggers `fault`, once.
#[derive(Debug, Clone)]
struct Armed {
    pattern: Vec<u8>,
    fault: ProxyFault,
}

/// The proxy's shared switches.
#[derive(Debug)]
struct Control {
    /// Accept new connections.
    up: AtomicBool,
    /// Bumped to close every proxied connection.
    cuts: watch::Sender<u64>,
    /// While `true`, no server→client byte is forwarded.
    stalled: watch::Sender<bool>,
    /// The fault waiting for its client write.
    armed: Mutex<Option<Armed>>,
}

impl Control {
    /// Takes the armed fault if `chunk` triggers it.
    fn trigger(&self, chunk: &[u8]) -> Option<ProxyFault> {
        let mut armed = self.armed.lock();
        let hit = armed.as_ref().is_some_and(|a| {
            a.pattern.is_empty() || chunk.windows(a.pattern.len()).any(|w| w == a.pattern)
        });
        if hit {
            armed.take().map(|a| a.fault)
        } else {
            None
        }
    }

    fn cut_all(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }
}

/// A TCP proxy in front of the test MySQL server that a test can cut and restore, stall and
/// resume, or arm to lose one request's answer, to see a node or store survive "MySQL went
/// away" or "the COMMIT's answer never came" without touching the real server.
///
/// - [`MysqlProxy::cut`] closes every proxied connection and refuses new ones until
///   [`MysqlProxy::restore`].
/// - [`MysqlProxy::stall`] stops forwarding server→client bytes until [`MysqlProxy::resume`].
/// - [`MysqlProxy::arm`] makes the next client write containing a pattern (such as `COMMIT`)
///   trigger a [`ProxyFault`].
#[derive(Debug)]
pub struct MysqlProxy {
    addr: SocketAddr,
    control: Arc<Control>,
    accept_task: tokio::task::JoinHandle<()>,
}

/// `url` with its `host:port` replaced by `addr`.
pub(super) fn with_address(url: &str, addr: SocketAddr) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| i + authority_start);
    let host_start = url[authority_start..authority_end]
        .rfind('@')
        .map_or(authority_start, |i| i + authority_start + 1);
    format!("{}{addr}{}", &url[..host_start], &url[authority_end..])
}

/// Client→server: forwards each write, applying an armed fault.
async fn client_to_server(
    control: Arc<Control>,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; PROXY_CHUNK_BYTES];
    let mut withheld = false;
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 && withheld {
            // The client gave up; MySQL must not learn it until the proxy is cut (as when the
            // network lost the packets): its transaction stays open.
            return std::future::pending().await;
        }
        if n == 0 {
            return Ok(());
        }
        if withheld {
            continue;
        }
        let chunk = &buf[..n];
        match control.trigger(chunk) {
            None => to.write_all(chunk).await?,
            Some(ProxyFault::Stall) => {
                // Stalled before forwarding, so that the answer cannot slip through.
                control.stalled.send_replace(true);
                to.write_all(chunk).await?;
            }
            Some(ProxyFault::Drop) => {
                control.stalled.send_replace(true);
                to.write_all(chunk).await?;
                to.flush().await?;
                control.cut_all();
                control.stalled.send_replace(false);
            }
            Some(ProxyFault::Withhold) => withheld = true,
        }
    }
}

/// Server→client: forwards each write unless stalled.
async fn server_to_client(
    control: Arc<Control>,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; PROXY_CHUNK_BYTES];
    let mut stalled = control.stalled.subscribe();
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        if stalled.wait_for(|s| !*s).await.is_err() {
            return Ok(());
        }
        to.write_all(&buf[..n]).await?;
    }
}

impl MysqlProxy {
    /// Starts a proxy on an ephemeral loopback port forwarding to the server of `db`. Panics
    /// when it cannot listen or `db`'s URL has no usable address.
    pub async fn start(db: &TestDatabase) -> MysqlProxy {
        let opts = Opts::from_url(&db.url).expect("test database URL");
        Self::start_to(format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port())).await
    }

    /// Starts a proxy on an ephemeral loopback port forwarding to any TCP `target`
    /// (`host:port`): the chaos suite puts one between every two cluster nodes, and one in
    /// front of MySQL, to partition them ([`MysqlProxy::cut`]) or stall them
    /// ([`MysqlProxy::stall`]). Panics when it cannot listen.
    pub async fn start_to(target: String) -> MysqlProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy listen on 127.0.0.1:0");
        let addr = listener.local_addr().expect("proxy address");
        let control = Arc::new(Control {
            up: AtomicBool::new(true),
            cuts: watch::channel(0u64).0,
            stalled: watch::channel(false).0,
            armed: Mutex::new(None),
        });
        let accept_control = Arc::clone(&control);
        let accept_task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !accept_control.up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let target = target.clone();
                let control = Arc::clone(&accept_control);
                tokio::spawn(async move {
                    let mut cut = control.cuts.subscribe();
                    let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    let up = client_to_server(control.clone(), client_read, server_write);
                    let down = server_to_client(control, server_read, client_write);
                    // Either direction ending (or a cut) drops both halves of both sockets.
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        MysqlProxy {
            addr,
            control,
            accept_task,
        }
    }

    /// The proxy's own address (what its clients dial).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of `db` through this proxy. It sets `prefer_socket=false`: otherwise the
    /// driver, seeing a loopback address, would switch to MySQL's Unix socket and bypass the
    /// proxy.
    pub fn url(&self, db: &TestDatabase) -> String {
        let url = with_address(&db.url, self.addr);
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}prefer_socket=false")
    }

    /// Closes every proxied connection and refuses new ones until [`MysqlProxy::restore`].
    pub fn cut(&self) {
        self.control.up.store(false, Ordering::SeqCst);
        self.control.cut_all();
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.control.up.store(true, Ordering::SeqCst);
    }

    /// Stops forwarding server→client bytes on every connection until [`MysqlProxy::resume`]:
    /// requests still reach MySQL, their answers do not come back.
    pub fn stall(&self) {
        self.control.stalled.send_replace(true);
    }

    /// Forwards server→client bytes again (those held back are delivered).
    pub fn resume(&self) {
        self.control.stalled.send_replace(false);
    }

    /// Arms `fault` for the first client write containing `pattern` (any client write when
    /// `pattern` is empty), replacing a fault armed before. It fires once.
    pub fn arm(&self, pattern: &[u8], fault: ProxyFault) {
        *self.control.armed.lock() = Some(Armed {
            pattern: pattern.to_vec(),
            fault,
        });
    }

    /// Whether the fault of [`MysqlProxy::arm`] is still waiting for its write.
    pub fn is_armed(&self) -> bool {
        self.control.armed.lock().is_some()
    }
}

impl Drop for MysqlProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.control.stalled.send_replace(false);
        self.control.cut_all();
    }
}
