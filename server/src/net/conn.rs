//! One connection: preface, hello, then requests (pipelined) and pushes on the same socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use cinebook_protocol::preface::{self, PrefaceCheck, PrefaceError};
use cinebook_protocol::types::{NodeRole, Role};
use cinebook_protocol::{
    Body, Envelope, ErrorBody, ErrorCode, FrameCodec, Incoming, ProtocolError, Push, Reply,
    Request, PROTOCOL_VERSION, PUSH_REQUEST_ID,
};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::codec::{Decoder, FramedRead, FramedWrite};
use tracing::Instrument;

use super::subscriptions::Subscriptions;
use super::tls::Stream;
use crate::cluster::{claims, peer_auth};
use crate::metrics::RequestTimer;
use crate::node::handlers::{self, Caller};
use crate::node::{now_ms, Node};

/// The show a request touches, for the per-show ordering of one connection's requests.
fn show_of(node: &Node, request: &Request) -> Option<u64> {
    match request {
        Request::GetSeatMap { show_id }
        | Request::Hold { show_id, .. }
        | Request::ListBookings { show_id }
        | Request::BlockSeats { show_id, .. }
        | Request::Availability { show_id, .. }
        | Request::AuditTrail { show_id } => Some(*show_id),
        Request::UpsertShow(show) => Some(show.id),
        Request::Renew { hold_id }
        | Request::Release { hold_id }
        | Request::Confirm { hold_id, .. } => node.show_of_hold(*hold_id).map(|slot| slot.show_id),
        Request::Cancel { code, .. } => node.show_of_booking(code),
        _ => None,
    }
}

/// Per-show lanes of one connection: the completion signal of the last request on each show.
#[derive(Debug, Default)]
struct Lanes {
    last: HashMap<u64, oneshot::Receiver<()>>,
}

/// Lanes kept before finished ones are pruned.
const LANES_PRUNE_AT: usize = 64;

impl Lanes {
    /// For a request on `show`: what to wait for first, and the guard that signals this request
    /// finished (dropped when done).
    fn enter(
        &mut self,
        show: Option<u64>,
    ) -> (Option<oneshot::Receiver<()>>, Option<oneshot::Sender<()>>) {
        let Some(show) = show else {
            return (None, None);
        };
        if self.last.len() >= LANES_PRUNE_AT {
            self.last
                .retain(|_, rx| matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
        }
        let (tx, rx) = oneshot::channel();
        (self.last.insert(show, rx), Some(tx))
    }
}

/// Shows one connection may subscribe to at once.
pub const SUBSCRIPTIONS_PER_CONNECTION_MAX: usize = 64;

/// Serves one accepted connection to the end.
pub async fn serve(node: Arc<Node>, stream: Stream, peer: SocketAddr) {
    let span = tracing::info_span!("conn", %peer);
    async move {
        if let Err(e) = serve_inner(node, stream).await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
    .instrument(span)
    .await
}

async fn serve_inner(node: Arc<Node>, mut stream: Stream) -> Result<(), ProtocolError> {
    let leftover = match read_preface(&node, &mut stream).await? {
        Some(leftover) => leftover,
        None => return Ok(()),
    };
    let (read, write) = tokio::io::split(stream);
    let mut reader = FramedRead::new(
        read,
        TimedCodec::new(FrameCodec::with_max(node.config.frame_max_bytes)),
    );
    reader.read_buffer_mut().extend_from_slice(&leftover);
    let (out, out_rx) = mpsc::channel(node.config.outbound_queue_max.max(1));
    let writer = tokio::spawn(write_frames(node.clone(), write, out_rx));
    let connection = Connection {
        in_flight: Arc::new(Semaphore::new(
            node.config.in_flight_per_connection_max.max(1),
        )),
        caller: None,
        peer_challenge: None,
        subscriptions: Subscriptions::default(),
        lanes: Lanes::default(),
        node,
        out,
    };
    connection.run(&mut reader).await;
    // The writer ends once every sender (this connection's and its tasks') is gone.
    let _ = writer.await;
    Ok(())
}

/// Reads and answers the preface. `None` means the connection was refused and is done.
async fn read_preface(node: &Node, stream: &mut Stream) -> Result<Option<Vec<u8>>, ProtocolError> {
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

async fn write_frames(node: Arc<Node>, write: WriteHalf<Stream>, mut rx: mpsc::Receiver<Envelope>) {
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

/// The frame codec, plus when the frame being received began. A started frame must be complete
/// within `frame_timeout_ms` however its bytes trickle in; the read buffer alone cannot tell, as
/// the codec consumes a frame's header before its payload arrives.
struct TimedCodec {
    inner: FrameCodec,
    started: Option<Instant>,
}

impl TimedCodec {
    fn new(inner: FrameCodec) -> Self {
        Self {
            inner,
            started: None,
        }
    }

    /// When the unfinished frame began, if one is being received.
    fn frame_started(&self) -> Option<Instant> {
        self.started
    }
}

impl Decoder for TimedCodec {
    type Item = Incoming;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, ProtocolError> {
        let had_bytes = !src.is_empty();
        let item = self.inner.decode(src)?;
        match item {
            // The next frame, if its start is already buffered, is timed from the next call.
            Some(_) => self.started = None,
            None if had_bytes && self.started.is_none() => self.started = Some(Instant::now()),
            None => {}
        }
        Ok(item)
    }
}

struct Connection {
    node: Arc<Node>,
    out: mpsc::Sender<Envelope>,
    in_flight: Arc<Semaphore>,
    caller: Option<Caller>,
    /// A `PeerChallenge` sent and not yet answered (used once).
    peer_challenge: Option<peer_auth::PendingChallenge>,
    subscriptions: Subscriptions,
    lanes: Lanes,
}

impl Connection {
    async fn run(mut self, reader: &mut FramedRead<ReadHalf<Stream>, TimedCodec>) {
        let idle = Duration::from_millis(self.node.config.idle_timeout_ms);
        let frame_timeout = Duration::from_millis(self.node.config.frame_timeout_ms);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut last_frame = Instant::now();
        loop {
            tokio::select! {
                // Shutdown, then input, then the timer: a frame whose rest is already in the
                // socket (reading paused for back-pressure) completes before its timeout is seen.
                biased;
                _ = self.node.shutdown.cancelled() => {
                    let push = Push::ShuttingDown { reason: "node shutting down".into(), reconnect_after_ms: 100 };
                    let _ = self.out.send(Envelope::push(self.node.lamport.tick(), push)).await;
                    break;
                }
                item = reader.next() => {
                    last_frame = Instant::now();
                    match item {
                        None => break,
                        Some(Err(e)) => {
                            self.send_error(PUSH_REQUEST_ID, ErrorCode::BadFrame, e.to_string()).await;
                            break;
                        }
                        Some(Ok(Incoming::Malformed { request_id, reason })) => {
                            self.send_error(request_id.unwrap_or(PUSH_REQUEST_ID), ErrorCode::BadFrame, reason).await;
                        }
                        Some(Ok(Incoming::Envelope(envelope))) => self.dispatch(envelope).await,
                    }
                }
                _ = tick.tick() => {
                    if let Some(since) = reader.decoder().frame_started() {
                        if since.elapsed() >= frame_timeout {
                            self.send_error(PUSH_REQUEST_ID, ErrorCode::BadFrame, "half a frame, then silence: closing").await;
                            break;
                        }
                    } else if self.subscriptions.is_empty() && last_frame.elapsed() >= idle {
                        tracing::debug!("idle connection closed");
                        break;
                    }
                }
            }
        }
        // Let in-flight requests finish (bounded by the grace period), then close.
        let grace = Duration::from_millis(self.node.config.shutdown_grace_ms);
        let permits = self.node.config.in_flight_per_connection_max.max(1) as u32;
        let _ = tokio::time::timeout(grace, self.in_flight.acquire_many(permits)).await;
    }

    async fn send_error(&self, request_id: u64, code: ErrorCode, message: impl Into<String>) {
        let error = ErrorBody::new(code, message);
        let _ = self
            .out
            .send(Envelope::error(request_id, self.node.lamport.tick(), error))
            .await;
    }

    async fn reply(&self, request_id: u64, answer: Result<Reply, ErrorBody>) {
        let lamport = self.node.lamport.tick();
        let envelope = match answer {
            Ok(reply) => Envelope::reply(request_id, lamport, reply),
            Err(error) => Envelope::error(request_id, lamport, error),
        };
        let _ = self.out.send(envelope).await;
    }

    async fn dispatch(&mut self, envelope: Envelope) {
        self.node.lamport.observe(envelope.lamport);
        let request_id = envelope.request_id;
        let request = match envelope.body {
            Body::Request(request) => request,
            _ => {
                return self
                    .send_error(
                        request_id,
                        ErrorCode::BadFrame,
                        "clients send requests only",
                    )
                    .await
            }
        };
        if request_id == PUSH_REQUEST_ID {
            return self
                .send_error(
                    request_id,
                    ErrorCode::InvalidArgument,
                    "request id 0 is reserved for pushes",
                )
                .await;
        }
        let timer = RequestTimer::start();
        let name = request.name();
        // Every log line of a request is inside this span, so it carries the request id.
        let span = tracing::info_span!("request", request_id, kind = name);
        match (request, &self.caller) {
            (
                Request::Hello {
                    version,
                    client_name,
                    token,
                },
                _,
            ) => {
                let answer = self
                    .hello(version, &client_name, token)
                    .instrument(span)
                    .await;
                timer.finish(&self.node.metrics, name, &answer);
                self.reply(request_id, answer).await;
            }
            (
                Request::PeerHello {
                    version,
                    node_id,
                    nonce,
                },
                _,
            ) => {
                // A new PeerHello replaces any challenge still pending on this connection.
                self.peer_challenge = None;
                let answer = peer_auth::challenge(&self.node, version, node_id, nonce).map(
                    |(pending, reply)| {
                        self.peer_challenge = Some(pending);
                        reply
                    },
                );
                timer.finish(&self.node.metrics, name, &answer);
                self.reply(request_id, answer).await;
            }
            (Request::PeerProof { proof }, _) => {
                let answer = peer_auth::accept(&self.node, self.peer_challenge.take(), &proof).map(
                    |(caller, welcome)| {
                        self.caller = Some(caller);
                        welcome
                    },
                );
                timer.finish(&self.node.metrics, name, &answer);
                self.reply(request_id, answer).await;
            }
            (_, None) => {
                self.send_error(request_id, ErrorCode::Unauthenticated, "send Hello first")
                    .await
            }
            (Request::Follow { node_id, positions }, Some(caller)) => {
                if let Err(e) = claims::check_follow(&self.node, caller, node_id) {
                    return self.reply(request_id, Err(e)).await;
                }
                let Some(epoch) = self
                    .node
                    .cluster
                    .as_ref()
                    .map(|c| c.view())
                    .filter(|v| v.role == NodeRole::Leader)
                    .map(|v| v.epoch)
                else {
                    let leader = self.node.leader_addr();
                    return self
                        .send_error(
                            request_id,
                            ErrorCode::NotLeader { leader },
                            "this node does not lead",
                        )
                        .await;
                };
                let reply = Reply::Following {
                    leader_id: self.node.config.node_id,
                    epoch,
                };
                self.reply(request_id, Ok(reply)).await;
                tokio::spawn(crate::cluster::replication::serve_follower(
                    self.node.clone(),
                    node_id,
                    positions,
                    self.out.clone(),
                ));
            }
            (Request::Subscribe { show_id }, Some(_)) => match self.subscribe(show_id) {
                Ok((seq, rx)) => {
                    timer.finish(&self.node.metrics, name, &Ok(()));
                    // The reply goes out before the forwarder can send the first push.
                    self.reply(request_id, Ok(Reply::Subscribed { show_id, seq }))
                        .await;
                    self.subscriptions
                        .start(self.node.clone(), show_id, rx, self.out.clone());
                }
                Err(e) => {
                    let answer = Err(e);
                    timer.finish(&self.node.metrics, name, &answer);
                    self.reply(request_id, answer).await
                }
            },
            (Request::Unsubscribe { show_id }, Some(_)) => {
                let answer = if self.subscriptions.stop(show_id) {
                    Ok(Reply::Unsubscribed { show_id })
                } else {
                    Err(ErrorBody::new(
                        ErrorCode::NotFound,
                        format!("not subscribed to show {show_id}"),
                    ))
                };
                timer.finish(&self.node.metrics, name, &answer);
                self.reply(request_id, answer).await;
            }
            (request, Some(caller)) => {
                // Waiting here for a permit stops reading: back-pressure on a client that
                // pipelines more than in_flight_per_connection_max requests.
                let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
                    return;
                };
                // Requests of this connection that touch the same show run in the order sent
                // (PROTOCOL.md 11.3): each waits for the previous one on its show's lane.
                let (after, done) = self.lanes.enter(show_of(&self.node, &request));
                let (node, caller, out) = (self.node.clone(), caller.clone(), self.out.clone());
                tokio::spawn(
                    async move {
                        if let Some(previous) = after {
                            let _ = previous.await;
                        }
                        let answer = handlers::handle(&node, &caller, request).await;
                        timer.finish(&node.metrics, name, &answer);
                        if let Err(e) = &answer {
                            tracing::debug!(code = e.code.name(), message = %e.message, "request refused");
                        }
                        let lamport = node.lamport.tick();
                        let envelope = match answer {
                            Ok(reply) => Envelope::reply(request_id, lamport, reply),
                            Err(error) => Envelope::error(request_id, lamport, error),
                        };
                        let _ = out.send(envelope).await;
                        drop(done);
                        drop(permit);
                    }
                    .instrument(span),
                );
            }
        }
    }

    async fn hello(
        &mut self,
        version: u16,
        client_name: &str,
        token: Option<String>,
    ) -> Result<Reply, ErrorBody> {
        if !(cinebook_protocol::PROTOCOL_VERSION_MIN..=PROTOCOL_VERSION).contains(&version) {
            return Err(ErrorBody::new(
                ErrorCode::UnsupportedVersion {
                    min: cinebook_protocol::PROTOCOL_VERSION_MIN,
                    max: PROTOCOL_VERSION,
                },
                format!("protocol version {version} is not supported"),
            ));
        }
        let caller = match token.filter(|t| !t.is_empty()) {
            None => Caller {
                role: Role::Guest,
                terminal_id: 0,
                peer_node_id: None,
            },
            Some(token) => match self.node.authenticate(&token).await? {
                // Only the challenge-response gives the node role (an older version could
                // store node terminals).
                Some(t) if t.role == Role::Node => return Err(peer_auth::node_terminal_hello()),
                Some(t) => Caller {
                    role: t.role,
                    terminal_id: t.id,
                    peer_node_id: None,
                },
                None => {
                    return Err(ErrorBody::new(
                        ErrorCode::Unauthenticated,
                        "unknown or revoked token",
                    ))
                }
            },
        };
        tracing::info!(client = %client_name, role = caller.role.name(), terminal = caller.terminal_id, "hello");
        let reply = Reply::Welcome {
            node_id: self.node.config.node_id,
            node_role: self.node.node_role(),
            leader: self.node.leader_addr(),
            lamport: self.node.lamport.now(),
            role: caller.role,
            terminal_id: (caller.terminal_id != 0).then_some(caller.terminal_id),
            server_time_ms: now_ms(),
            hold_ttl_ms: self.node.config.hold.hold_ttl_ms,
        };
        self.caller = Some(caller);
        Ok(reply)
    }

    fn subscribe(&mut self, show_id: u64) -> Result<(u64, PushReceiver), ErrorBody> {
        let slot = self.node.show(show_id).ok_or_else(|| {
            ErrorBody::new(ErrorCode::NotFound, format!("show {show_id} not found"))
        })?;
        if !self.subscriptions.contains(show_id)
            && self.subscriptions.len() >= SUBSCRIPTIONS_PER_CONNECTION_MAX
        {
            return Err(ErrorBody::new(
                ErrorCode::InvalidArgument,
                format!("at most {SUBSCRIPTIONS_PER_CONNECTION_MAX} subscriptions per connection"),
            ));
        }
        // Subscribe under the lock: the receiver starts exactly after `seq`.
        let state = slot.read();
        Ok((state.seq(), slot.subscribe()))
    }
}

type PushReceiver = tokio::sync::broadcast::Receiver<Arc<Push>>;
