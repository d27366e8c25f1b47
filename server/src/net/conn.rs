//! One connection: preface, hello, then requests (pipelined) and pushes on the same socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cinebook_protocol::types::{NodeRole, Role};
use cinebook_protocol::{
    Body, Envelope, ErrorBody, ErrorCode, FrameCodec, Incoming, ProtocolError, Push, Reply,
    Request, PROTOCOL_VERSION, PUSH_REQUEST_ID,
};
use futures::StreamExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::codec::FramedRead;
use tracing::Instrument;

use super::lanes::{show_of, Lanes};
use super::preface::read_preface;
use super::subscriptions::Subscriptions;
use super::timed_codec::TimedCodec;
use super::writer::write_frames;
use crate::metrics::RequestTimer;
use crate::node::handlers::{self, Caller};
use crate::node::{now_ms, Node};

/// Shows one connection may subscribe to at once.
pub const SUBSCRIPTIONS_PER_CONNECTION_MAX: usize = 64;

/// Serves one accepted connection to the end.
pub async fn serve(node: Arc<Node>, stream: TcpStream, peer: SocketAddr) {
    let span = tracing::info_span!("conn", %peer);
    async move {
        if let Err(e) = serve_inner(node, stream).await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
    .instrument(span)
    .await
}

async fn serve_inner(node: Arc<Node>, mut stream: TcpStream) -> Result<(), ProtocolError> {
    let _ = stream.set_nodelay(true);
    let leftover = match read_preface(&node, &mut stream).await? {
        Some(leftover) => leftover,
        None => return Ok(()),
    };
    let (read, write) = stream.into_split();
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

struct Connection {
    node: Arc<Node>,
    out: mpsc::Sender<Envelope>,
    in_flight: Arc<Semaphore>,
    caller: Option<Caller>,
    subscriptions: Subscriptions,
    lanes: Lanes,
}

impl Connection {
    async fn run(mut self, reader: &mut FramedRead<OwnedReadHalf, TimedCodec>) {
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
            (_, None) => {
                self.send_error(request_id, ErrorCode::Unauthenticated, "send Hello first")
                    .await
            }
            (Request::Follow { node_id, positions }, Some(caller)) => {
                if caller.role != Role::Node {
                    return self
                        .send_error(
                            request_id,
                            ErrorCode::Forbidden,
                            "only cluster nodes may follow",
                        )
                        .await;
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
            },
            Some(token) if self.node.is_cluster_secret(&token) => Caller {
                role: Role::Node,
                terminal_id: 0,
            },
            Some(token) => match self.node.authenticate(&token).await? {
                Some(t) => Caller {
                    role: t.role,
                    terminal_id: t.id,
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
        let state = slot.state.lock();
        Ok((state.seq(), slot.subscribe()))
    }
}

type PushReceiver = tokio::sync::broadcast::Receiver<Arc<Push>>;
