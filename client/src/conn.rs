//! One open connection: preface, hello, a writer task, a reader task, and the map of calls in
//! flight (request id → oneshot) that lets many calls share the socket.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cinebook_protocol::preface::{self, PrefaceCheck};
use cinebook_protocol::{
    Body, Envelope, FrameCodec, Incoming, LamportClock, ProtocolError, Push, Reply, Request,
    PREFACE_LEN, PROTOCOL_VERSION,
};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use crate::tls::Stream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::{ClientConfig, Error, Result, Welcome};

/// Frames queued for the writer task before callers wait.
const WRITE_QUEUE_LEN: usize = 1024;

/// How a call on one connection failed.
#[derive(Debug)]
pub(crate) struct CallFailure {
    pub(crate) error: Error,
    /// Whether the request may have reached the server.
    pub(crate) sent: bool,
}

type Waiter = oneshot::Sender<Result<Reply>>;

/// State shared by the connection handle and its two tasks.
#[derive(Debug)]
struct Shared {
    addr: String,
    pending: Mutex<Pending>,
    /// The server announced `ShuttingDown`: finish what is in flight, send nothing new.
    draining: AtomicBool,
    /// Becomes `true` once, when the connection closes.
    closed_signal: watch::Sender<bool>,
    /// When the connection was opened: the origin of `heard_ms`.
    opened: Instant,
    /// When the server last sent a frame, in ms since `opened`.
    heard_ms: AtomicU64,
}

#[derive(Debug, Default)]
struct Pending {
    waiters: HashMap<u64, Waiter>,
    /// Why the connection closed; `None` while it is open.
    closed: Option<String>,
}

impl Shared {
    fn heard(&self) {
        let ms = self.since_opened_ms(Instant::now());
        self.heard_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn since_opened_ms(&self, at: Instant) -> u64 {
        u64::try_from(at.duration_since(self.opened).as_millis()).unwrap_or(u64::MAX)
    }

    fn last_heard(&self) -> Instant {
        self.opened + Duration::from_millis(self.heard_ms.load(Ordering::Relaxed))
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock leaves the map consistent (plain inserts and removes).
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn complete(&self, request_id: u64, result: Result<Reply>) {
        if let Some(waiter) = self.lock().waiters.remove(&request_id) {
            // The caller may have given up (timeout); then nobody is listening.
            let _ = waiter.send(result);
        }
    }

    fn close(&self, reason: String) {
        let waiters = {
            let mut pending = self.lock();
            if pending.closed.is_none() {
                pending.closed = Some(reason.clone());
            }
            std::mem::take(&mut pending.waiters)
        };
        self.closed_signal.send_replace(true);
        for (_, waiter) in waiters {
            let _ = waiter.send(Err(Error::ConnectionLost {
                addr: self.addr.clone(),
                message: reason.clone(),
            }));
        }
    }
}

/// Removes a call's waiter when the call ends early (timeout or a dropped future).
struct WaiterGuard<'a> {
    shared: &'a Shared,
    request_id: u64,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().waiters.remove(&self.request_id);
    }
}

/// An open, authenticated connection.
#[derive(Debug)]
pub(crate) struct Conn {
    shared: Arc<Shared>,
    clock: Arc<LamportClock>,
    /// Shared with the reader, which answers `Push::Ping` with requests of its own.
    next_request_id: Arc<AtomicU64>,
    out: mpsc::Sender<Envelope>,
    pushes: broadcast::Sender<Push>,
    reader: JoinHandle<()>,
    welcome: Welcome,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // The writer ends by itself once `out` is gone; the reader would wait for the server.
        self.reader.abort();
    }
}

impl Conn {
    /// Opens a connection to `addr`: TCP, preface both ways, then `Hello`. Not bounded in time;
    /// the caller wraps it in `connect_timeout_ms`.
    pub(crate) async fn open(
        addr: &str,
        config: &ClientConfig,
        clock: Arc<LamportClock>,
    ) -> Result<Arc<Conn>> {
        let tcp = TcpStream::connect(addr).await.map_err(|e| Error::Connect {
            addr: addr.to_string(),
            message: e.to_string(),
        })?;
        let lost = |e: std::io::Error| Error::ConnectionLost {
            addr: addr.to_string(),
            message: e.to_string(),
        };
        tcp.set_nodelay(true).map_err(lost)?;
        let mut stream = crate::tls::connect(addr, config.tls.as_ref(), tcp).await?;
        stream
            .write_all(&preface::encode(PROTOCOL_VERSION))
            .await
            .map_err(lost)?;
        read_server_preface(&mut stream, addr).await?;

        let (read_half, write_half) = tokio::io::split(stream);
        let shared = Arc::new(Shared {
            addr: addr.to_string(),
            pending: Mutex::new(Pending::default()),
            draining: AtomicBool::new(false),
            closed_signal: watch::channel(false).0,
            opened: Instant::now(),
            heard_ms: AtomicU64::new(0),
        });
        let (out, out_rx) = mpsc::channel(WRITE_QUEUE_LEN);
        let (pushes, _) = broadcast::channel(config.push_buffer_len.max(1));
        let codec = FrameCodec::with_max(config.frame_max_bytes);
        tokio::spawn(write_loop(
            FramedWrite::new(write_half, FrameCodec::with_max(config.frame_max_bytes)),
            out_rx,
            shared.clone(),
        ));
        let next_request_id = Arc::new(AtomicU64::new(1));
        let answers = PingAnswers {
            out: out.clone(),
            next_request_id: next_request_id.clone(),
        };
        let reader = tokio::spawn(read_loop(
            FramedRead::new(read_half, codec),
            shared.clone(),
            clock.clone(),
            pushes.clone(),
            answers,
        ));
        let mut conn = Conn {
            shared,
            clock,
            next_request_id,
            out,
            pushes,
            reader,
            welcome: Welcome::placeholder(addr),
        };
        let hello = Request::Hello {
            version: PROTOCOL_VERSION,
            client_name: config.client_name.clone(),
            token: config.token.clone(),
        };
        let reply = conn.call(hello).await.map_err(|f| f.error)?;
        conn.welcome = Welcome::from_reply(addr, reply)?;
        Ok(Arc::new(conn))
    }

    /// Sends one request and waits for its answer (no timeout here; callers add one).
    pub(crate) async fn call(&self, request: Request) -> Result<Reply, CallFailure> {
        let request_id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.shared.lock();
            if let Some(reason) = &pending.closed {
                return Err(CallFailure {
                    error: Error::ConnectionLost {
                        addr: self.shared.addr.clone(),
                        message: reason.clone(),
                    },
                    sent: false,
                });
            }
            pending.waiters.insert(request_id, tx);
        }
        let _guard = WaiterGuard {
            shared: &self.shared,
            request_id,
        };
        let envelope = Envelope::request(request_id, self.clock.tick(), request);
        if self.out.send(envelope).await.is_err() {
            return Err(CallFailure {
                error: self.lost("the writer stopped"),
                sent: false,
            });
        }
        match rx.await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(error)) => {
                let sent = !error.is_server_error();
                Err(CallFailure { error, sent })
            }
            Err(_) => Err(CallFailure {
                error: self.lost("the reader stopped"),
                sent: true,
            }),
        }
    }

    fn lost(&self, fallback: &str) -> Error {
        let message = self
            .shared
            .lock()
            .closed
            .clone()
            .unwrap_or_else(|| fallback.to_string());
        Error::ConnectionLost {
            addr: self.shared.addr.clone(),
            message,
        }
    }

    /// The server's address as given.
    pub(crate) fn addr(&self) -> &str {
        &self.shared.addr
    }

    /// What the server said in its `Welcome`.
    pub(crate) fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// Open and not shutting down: new calls may use it.
    pub(crate) fn is_usable(&self) -> bool {
        !self.shared.draining.load(Ordering::Acquire) && self.shared.lock().closed.is_none()
    }

    /// Resolves once the connection has closed.
    pub(crate) async fn closed(&self) {
        let mut signal = self.shared.closed_signal.subscribe();
        // An error means the sender is gone, which only happens with the connection.
        let _ = signal.wait_for(|closed| *closed).await;
    }

    /// Resolves once the server has sent nothing for `silence` since `since` (or its last
    /// frame, if later) and then nothing for another `silence` after a `Ping`; the connection is
    /// then closed (every call on it fails with `ConnectionLost`). A server that is busy but alive
    /// answers the ping, however long the call itself takes.
    pub(crate) async fn unresponsive(&self, since: Instant, silence: Duration) {
        loop {
            let quiet_from = self.shared.last_heard().max(since);
            let quiet = quiet_from.elapsed();
            if quiet < silence {
                tokio::time::sleep(silence - quiet).await;
                continue;
            }
            let pinged = Instant::now();
            let request_id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
            let ping = Request::Ping { nonce: request_id };
            let ping = Envelope::request(request_id, self.clock.tick(), ping);
            // A full queue means frames are going out; the ping's `Pong` finds no waiter.
            let _ = self.out.try_send(ping);
            tokio::time::sleep(silence).await;
            let heard_ms = self.shared.heard_ms.load(Ordering::Relaxed);
            if heard_ms >= self.shared.since_opened_ms(pinged) {
                continue;
            }
            let waited = quiet + silence;
            self.shared.close(format!(
                "no frame from the server for {} ms, a ping included: unresponsive",
                waited.as_millis()
            ));
            return;
        }
    }

    /// A receiver of every push that arrives from now on.
    pub(crate) fn pushes(&self) -> broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }
}

async fn read_server_preface(stream: &mut Stream, addr: &str) -> Result<()> {
    let mut received = [0u8; PREFACE_LEN];
    let mut len = 0;
    while len < PREFACE_LEN {
        let n = stream
            .read(&mut received[len..])
            .await
            .map_err(|e| Error::ConnectionLost {
                addr: addr.to_string(),
                message: e.to_string(),
            })?;
        if n == 0 {
            return Err(Error::ConnectionLost {
                addr: addr.to_string(),
                message: format!("closed after {len} of {PREFACE_LEN} preface bytes"),
            });
        }
        len += n;
        if let PrefaceCheck::Refused(reason) = preface::check(&received[..len]) {
            return Err(Error::Preface {
                addr: addr.to_string(),
                reason,
            });
        }
    }
    Ok(())
}

async fn write_loop(
    mut sink: FramedWrite<WriteHalf<Stream>, FrameCodec>,
    mut queue: mpsc::Receiver<Envelope>,
    shared: Arc<Shared>,
) {
    while let Some(first) = queue.recv().await {
        // Feed everything already queued, then flush once: pipelined calls share a syscall.
        let mut next = Some(first);
        while let Some(envelope) = next.take() {
            let request_id = envelope.request_id;
            match sink.feed(envelope).await {
                Ok(()) => {}
                Err(error @ (ProtocolError::Encode(_) | ProtocolError::FrameTooLarge { .. })) => {
                    // Only this request is affected: nothing of it reached the buffer.
                    shared.complete(request_id, Err(error.into()));
                }
                Err(error) => {
                    shared.close(format!("write failed: {error}"));
                    return;
                }
            }
            next = queue.try_recv().ok();
        }
        if let Err(error) = SinkExt::<Envelope>::flush(&mut sink).await {
            shared.close(format!("write failed: {error}"));
            return;
        }
    }
}

async fn read_loop(
    mut frames: FramedRead<ReadHalf<Stream>, FrameCodec>,
    shared: Arc<Shared>,
    clock: Arc<LamportClock>,
    pushes: broadcast::Sender<Push>,
    answers: PingAnswers,
) {
    let reason = loop {
        let envelope = match frames.next().await {
            None => break "closed by the server".to_string(),
            Some(Err(error)) => break format!("read failed: {error}"),
            Some(Ok(Incoming::Envelope(envelope))) => envelope,
            Some(Ok(Incoming::Malformed { request_id, reason })) => {
                shared.heard();
                if let Some(request_id) = request_id {
                    shared.complete(
                        request_id,
                        Err(Error::Protocol {
                            message: format!("undecodable answer: {reason}"),
                        }),
                    );
                }
                continue;
            }
        };
        shared.heard();
        clock.observe(envelope.lamport);
        match envelope.body {
            Body::Reply(reply) => shared.complete(envelope.request_id, Ok(reply)),
            // Request id 0: about the connection (such as "this port requires TLS"); the server
            // closes it next, so its message is the reason every waiting call is given.
            Body::Error(error) if envelope.request_id == 0 => {
                break format!("{}: {}", error.code.name(), error.message)
            }
            Body::Error(error) => shared.complete(envelope.request_id, Err(error.into())),
            Body::Push(push) => {
                match push {
                    Push::ShuttingDown { .. } => shared.draining.store(true, Ordering::Release),
                    Push::Ping { nonce } => answers.answer(nonce, &clock),
                    _ => {}
                }
                // No subscriber is fine: the push is simply not needed.
                let _ = pushes.send(push);
            }
            // A server never sends requests; ignore rather than tear the connection down.
            Body::Request(_) => {}
        }
    };
    shared.close(reason);
}

/// How the reader answers a server's `Push::Ping` (PROTOCOL.md 9 rule 7): `Request::Ping` with
/// the same nonce, on the connection's own request ids. Its `Pong` finds no waiter and is dropped.
#[derive(Debug)]
struct PingAnswers {
    out: mpsc::Sender<Envelope>,
    next_request_id: Arc<AtomicU64>,
}

impl PingAnswers {
    fn answer(&self, nonce: u64, clock: &LamportClock) {
        let request_id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        let envelope = Envelope::request(request_id, clock.tick(), Request::Ping { nonce });
        // A full write queue means frames are about to go out anyway: any frame answers.
        let _ = self.out.try_send(envelope);
    }
}
