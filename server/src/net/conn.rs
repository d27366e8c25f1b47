//! One connection: preface, hello, then requests (pipelined) and pushes on the same socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cinebook_protocol::types::{NodeRole, Role};
use cinebook_protocol::{
    Body, Envelope, ErrorBody, ErrorCode, FrameCodec, Incoming, ProtocolError, Push, Reply,
    Request, PUSH_REQUEST_ID,
};
use futures::StreamExt;
use tokio::io::AsyncRead;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::codec::FramedRead;
use tracing::Instrument;

use super::lanes::{show_of, Lanes};
use super::limits::{check_request, log_field};
use super::outbound::{write_frames, Outbound};
use super::pending::{Pending, READS_RUNNING_PER_CONNECTION_MAX};
use super::preface::read_preface;
use super::session::{self, Session};
use super::shield::Shield;
use super::subscriptions::Subscriptions;
use super::timed_codec::TimedCodec;
use super::tls::Stream;
use crate::cluster::{claims, peer_auth};
use crate::metrics::RequestTimer;
use crate::node::fast::{self, Now};
use crate::node::{auth, now_ms, Node};

/// Shows one connection may subscribe to at once.
pub const SUBSCRIPTIONS_PER_CONNECTION_MAX: usize = 64;

/// How often a connection checks its timers (frame timeout, idle, session re-check).
const TICK_MS: u64 = 100;

/// Serves one accepted connection to the end.
pub async fn serve(node: Arc<Node>, shield: Arc<Shield>, stream: Stream, peer: SocketAddr) {
    let span = tracing::info_span!("conn", %peer);
    async move {
        if let Err(e) = serve_inner(node, shield, stream, peer).await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
    .instrument(span)
    .await
}

async fn serve_inner(
    node: Arc<Node>,
    shield: Arc<Shield>,
    mut stream: Stream,
    peer: SocketAddr,
) -> Result<(), ProtocolError> {
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
    let (out, out_rx) = Outbound::new(node.clone());
    let writer = tokio::spawn(write_frames(out.clone(), write, out_rx));
    let connection = Connection {
        in_flight: Arc::new(Semaphore::new(
            node.config.in_flight_per_connection_max.max(1),
        )),
        reads: Arc::new(Semaphore::new(READS_RUNNING_PER_CONNECTION_MAX)),
        session: None,
        peer_challenge: None,
        subscriptions: Subscriptions::default(),
        lanes: Lanes::default(),
        closing: false,
        peer,
        shield,
        node,
        out,
    };
    connection.run(&mut reader).await;
    // The writer ends once every sender (this connection's and its tasks') is gone.
    let _ = writer.await;
    Ok(())
}

struct Connection {
    node: Arc<Node>,
    shield: Arc<Shield>,
    peer: SocketAddr,
    out: Outbound,
    in_flight: Arc<Semaphore>,
    /// Read requests building their replies ([`READS_RUNNING_PER_CONNECTION_MAX`]).
    reads: Arc<Semaphore>,
    session: Option<Session>,
    /// A `PeerChallenge` sent and not yet answered (used once).
    peer_challenge: Option<peer_auth::PendingChallenge>,
    subscriptions: Subscriptions,
    lanes: Lanes,
    /// Set by a request that ends the connection (a revoked session, a refused guest).
    closing: bool,
}

impl Connection {
    async fn run<R: AsyncRead + Unpin>(mut self, reader: &mut FramedRead<R, TimedCodec>) {
        let idle = Duration::from_millis(self.node.config.idle_timeout_ms);
        let frame_timeout = Duration::from_millis(self.node.config.frame_timeout_ms);
        let mut tick = tokio::time::interval(Duration::from_millis(TICK_MS));
        // A tick skipped while the connection is not read is not made up in a burst.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut idling = Idling::new(
            idle,
            Duration::from_millis(self.node.config.limits.guest_ping_timeout_ms),
        );
        let mut graceful = false;
        while !self.closing {
            // Back-pressure: while the client does not read its answers, its frames are not read.
            let room = self.out.may_read();
            // A connection that is not read has no frame or idle time to check; only a terminal's
            // session is still re-checked (revocation). 1,000 blocked guests ticking cost 17% of a
            // core for nothing.
            let ticking = room
                || self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.caller.role != Role::Guest);
            tokio::select! {
                // Shutdown, then input, then the timer: a frame whose rest is already in the
                // socket completes before its timeout is seen.
                biased;
                _ = self.node.shutdown.cancelled() => {
                    let push = Push::ShuttingDown { reason: "node shutting down".into(), reconnect_after_ms: 100 };
                    let _ = self.out.send(Envelope::push(self.node.lamport.tick(), push)).await;
                    graceful = true;
                    break;
                }
                _ = self.out.closed().cancelled() => break,
                item = reader.next(), if room => {
                    // Any frame, whole or not, is an answer to a Ping.
                    idling.heard();
                    match item {
                        None => break,
                        Some(Err(e)) => {
                            self.send_error(PUSH_REQUEST_ID, ErrorCode::BadFrame, e.to_string()).await;
                            break;
                        }
                        Some(Ok(Incoming::Malformed { request_id, reason })) => {
                            self.send_error(request_id.unwrap_or(PUSH_REQUEST_ID), ErrorCode::BadFrame, log_field(&reason)).await;
                        }
                        Some(Ok(Incoming::Envelope(envelope))) => self.dispatch(envelope).await,
                    }
                }
                _ = self.out.read_room(), if !room => {
                    // Time spent not reading is ours, not the client's.
                    reader.decoder_mut().restart_timer();
                }
                _ = tick.tick(), if ticking => {
                    if self.session.as_ref().is_some_and(|s| s.due(&self.node)) {
                        self.recheck_session().await;
                    }
                    if !room {
                        continue;
                    }
                    if let Some(since) = reader.decoder().frame_started() {
                        if since.elapsed() >= frame_timeout {
                            self.send_error(PUSH_REQUEST_ID, ErrorCode::BadFrame, "half a frame, then silence: closing").await;
                            break;
                        }
                    } else if self.idle_check(&mut idling).await {
                        break;
                    }
                }
            }
        }
        if !graceful {
            // Nobody will read the answers: reads still running are dropped (writes finish).
            self.out.closed().cancel();
        }
        // Let in-flight requests finish (bounded by the grace period), then close.
        let grace = Duration::from_millis(self.node.config.shutdown_grace_ms);
        let permits = self.node.config.in_flight_per_connection_max.max(1) as u32;
        let _ = tokio::time::timeout(grace, self.in_flight.acquire_many(permits)).await;
    }

    /// The idle rules (PROTOCOL.md 11.6): an unsubscribed connection idle for `idle_timeout_ms`
    /// is closed; a subscribed guest is sent one `Push::Ping` and closed if it sends nothing
    /// within `guest_ping_timeout_ms` after; subscribed terminals and peers stay. True: close.
    async fn idle_check(&mut self, idling: &mut Idling) -> bool {
        if self.subscriptions.is_empty() {
            if idling.silent_for() >= idling.idle {
                tracing::debug!("idle connection closed");
                return true;
            }
            return false;
        }
        let guest = self
            .session
            .as_ref()
            .is_some_and(|s| s.caller.role == Role::Guest);
        if !guest {
            return false;
        }
        match idling.pinged {
            Some(at) if at.elapsed() >= idling.ping_timeout => {
                tracing::debug!(
                    ping_timeout_ms = self.node.config.limits.guest_ping_timeout_ms,
                    "subscribed guest did not answer its ping: closed"
                );
                self.node.metrics.guest_ping_unanswered();
                true
            }
            Some(_) => false,
            None if idling.silent_for() >= idling.idle => {
                idling.nonce = idling.nonce.wrapping_add(1);
                let push = Push::Ping {
                    nonce: idling.nonce,
                };
                let _ = self
                    .out
                    .send(Envelope::push(self.node.lamport.tick(), push))
                    .await;
                idling.pinged = Some(Instant::now());
                false
            }
            None => false,
        }
    }

    /// Re-checks the terminal; a revoked one is told and the connection closed.
    async fn recheck_session(&mut self) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if session.recheck(&self.node).await.is_err() {
            tracing::info!(
                terminal = session.caller.terminal_id,
                "terminal revoked: session closed"
            );
            self.send_error(
                PUSH_REQUEST_ID,
                ErrorCode::Unauthenticated,
                "this terminal was revoked",
            )
            .await;
            self.session = None;
            self.closing = true;
        }
    }

    async fn send_error(&self, request_id: u64, code: ErrorCode, message: impl Into<String>) {
        let error = ErrorBody::new(code, message);
        let _ = self
            .out
            .send(Envelope::error(request_id, self.node.lamport.tick(), error))
            .await;
    }

    async fn reply(&self, request_id: u64, mut answer: Result<Reply, ErrorBody>) {
        let lamport = self.node.lamport.tick();
        // `Welcome.lamport` is the time of the envelope that carries it (PROTOCOL.md §7, §15.2).
        if let Ok(Reply::Welcome { lamport: time, .. }) = &mut answer {
            *time = lamport;
        }
        let envelope = match answer {
            Ok(reply) => Envelope::reply(request_id, lamport, reply),
            Err(error) => Envelope::error(request_id, lamport, error),
        };
        let _ = self.out.send(envelope).await;
    }

    /// Applies a frame's Lamport time: only once the connection is authenticated, and only if
    /// it is at most `lamport_skew_max` ahead (PROTOCOL.md 12).
    fn observe(&self, lamport: u64) -> Result<(), ErrorBody> {
        let skew = self.node.config.limits.lamport_skew_max;
        match self.node.lamport.observe_within(lamport, skew) {
            Some(_) => Ok(()),
            None => Err(ErrorBody::new(
                ErrorCode::InvalidArgument,
                format!(
                    "Lamport time {lamport} is more than lamport_skew_max ({skew}) ahead of this node"
                ),
            )),
        }
    }

    async fn dispatch(&mut self, envelope: Envelope) {
        let request_id = envelope.request_id;
        let lamport = envelope.lamport;
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
        if let Err(e) = check_request(&request, &self.node.config.limits) {
            return self.reply(request_id, Err(e)).await;
        }
        if self.session.is_some() {
            if let Err(e) = self.observe(lamport) {
                return self.reply(request_id, Err(e)).await;
            }
            if self.session.as_ref().is_some_and(|s| s.due(&self.node)) {
                self.recheck_session().await;
                if self.closing {
                    return;
                }
            }
        }
        let timer = RequestTimer::start();
        let name = request.name();
        // Every log line of a request is inside this span, so it carries the request id.
        let span = tracing::info_span!("request", request_id, kind = name);
        let caller = self.session.as_ref().map(|s| s.caller.clone());
        match (request, caller) {
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
                if answer.is_ok() {
                    // The Hello's own time, now that it is authenticated (never too far ahead).
                    let _ = self.observe(lamport);
                }
                timer.finish(&self.node.metrics, name, &answer);
                let refused_guest = matches!(&answer, Err(e) if e.code == ErrorCode::Overloaded);
                self.reply(request_id, answer).await;
                if refused_guest && self.session.is_none() {
                    self.closing = true;
                }
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
                        self.session = Some(Session::peer(caller));
                        welcome
                    },
                );
                if answer.is_ok() {
                    let _ = self.observe(lamport);
                }
                timer.finish(&self.node.metrics, name, &answer);
                self.reply(request_id, answer).await;
            }
            (_, None) => {
                self.send_error(request_id, ErrorCode::Unauthenticated, "send Hello first")
                    .await
            }
            (Request::Follow { node_id, positions }, Some(caller)) => {
                if let Err(e) = claims::check_follow(&self.node, &caller, node_id) {
                    return self.reply(request_id, Err(e)).await;
                }
                self.follow(request_id, node_id, positions).await
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
                let show = show_of(&self.node, &request);
                // A hold, renew or release on a show with no earlier request of this connection
                // still running is answered here and now (node/fast.rs): no task, no hop. The
                // next frame is read only after, so the per-show order holds.
                let request = if self.lanes.idle(show) {
                    match fast::handle_now(&self.node, &caller, request) {
                        Now::Answered(answer) => {
                            timer.finish(&self.node.metrics, name, &answer);
                            return self.reply(request_id, answer).await;
                        }
                        Now::Later(request) => request,
                    }
                } else {
                    request
                };
                // Waiting here for a permit stops reading: back-pressure on a client that
                // pipelines more than in_flight_per_connection_max requests.
                let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
                    return;
                };
                let reservation = self.out.reserve(auth::is_write(&request));
                // Requests of this connection that touch the same show run in the order sent
                // (PROTOCOL.md 11.3): each waits for the previous one on its show's lane.
                let (after, done) = self.lanes.enter(show);
                let pending = Pending {
                    node: self.node.clone(),
                    out: self.out.clone(),
                    reads: self.reads.clone(),
                    guest_reads: (caller.role == Role::Guest).then(|| self.shield.guest_reads()),
                    caller,
                    request_id,
                    timer,
                    name,
                };
                let task = async move {
                    pending.run(request, after).await;
                    drop(reservation);
                    drop(done);
                    drop(permit);
                }
                .instrument(span);
                tokio::spawn(task);
            }
        }
    }

    /// `Follow`: a peer's replication stream on this connection.
    async fn follow(
        &mut self,
        request_id: u64,
        node_id: u32,
        positions: Vec<cinebook_protocol::cluster::ShowPosition>,
    ) {
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
        // The replication stream speaks envelopes; they enter the outbound queue as pushes do.
        let (tx, mut rx) = mpsc::channel::<Envelope>(self.node.config.outbound_queue_max.max(1));
        let out = self.out.clone();
        tokio::spawn(async move {
            while let Some(envelope) = rx.recv().await {
                if !out.send_when_room(envelope).await {
                    return;
                }
            }
        });
        tokio::spawn(crate::cluster::replication::serve_follower(
            self.node.clone(),
            node_id,
            positions,
            tx,
        ));
    }

    async fn hello(
        &mut self,
        version: u16,
        client_name: &str,
        token: Option<String>,
    ) -> Result<Reply, ErrorBody> {
        let session = session::hello(
            &self.node,
            &self.shield,
            self.peer.ip(),
            version,
            client_name,
            token,
        )
        .await?;
        let caller = &session.caller;
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
        self.session = Some(session);
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

type PushReceiver = tokio::sync::broadcast::Receiver<Arc<crate::node::shared_push::SharedPush>>;

/// A connection's silence: when it last sent a frame and whether it was pinged since.
struct Idling {
    /// `idle_timeout_ms`.
    idle: Duration,
    /// `guest_ping_timeout_ms`.
    ping_timeout: Duration,
    last_frame: Instant,
    /// When the unanswered `Push::Ping` went out.
    pinged: Option<Instant>,
    /// The last `Push::Ping` nonce sent.
    nonce: u64,
}

impl Idling {
    fn new(idle: Duration, ping_timeout: Duration) -> Self {
        Self {
            idle,
            ping_timeout,
            last_frame: Instant::now(),
            pinged: None,
            nonce: 0,
        }
    }

    /// The client sent a frame: the idle time restarts and any ping is answered.
    fn heard(&mut self) {
        self.last_frame = Instant::now();
        self.pinged = None;
    }

    fn silent_for(&self) -> Duration {
        self.last_frame.elapsed()
    }
}
