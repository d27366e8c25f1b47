//! A small scripted CineBook server for the client's tests, built with the protocol crate on
//! 127.0.0.1 port 0. Each test decides how it answers each request.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cinebook_protocol::preface::{self, PrefaceCheck};
use cinebook_protocol::types::{
    Category, HoldInfo, Money, NodeRole, Role, Seat, SeatMap, SeatState, Show, ShowSummary,
};
use cinebook_protocol::{
    Body, Envelope, ErrorBody, ErrorCode, FrameCodec, Incoming, LamportClock, Push, Reply, Request,
    PREFACE_LEN, PROTOCOL_VERSION,
};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_util::codec::Framed;

/// What the server does in answer to one request, in order.
#[derive(Debug, Clone)]
pub enum Out {
    /// Answer the request.
    Reply(Reply),
    /// Answer the request with an error.
    Error(ErrorCode),
    /// Send a push.
    Push(Push),
    /// Wait before the next step.
    DelayMs(u64),
    /// Close the connection.
    Close,
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub connection: usize,
    pub request_id: u64,
    pub lamport: u64,
    pub request: Request,
}

type Handler = Arc<dyn Fn(&Request) -> Vec<Out> + Send + Sync>;

pub struct FakeServer {
    pub addr: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Request ids in the order their answers were sent.
    pub answered: Arc<Mutex<Vec<u64>>>,
    connections: Arc<AtomicUsize>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl FakeServer {
    pub async fn start(handler: impl Fn(&Request) -> Vec<Out> + Send + Sync + 'static) -> Self {
        Self::start_on("127.0.0.1:0", handler).await
    }

    pub async fn start_on(
        addr: &str,
        handler: impl Fn(&Request) -> Vec<Out> + Send + Sync + 'static,
    ) -> Self {
        // A stopped server's listener closes when its aborted task is next polled: retry briefly.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(e) if tries < 200 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => panic!("bind {addr}: {e}"),
            }
        };
        let addr = listener.local_addr().expect("local addr").to_string();
        let server = FakeServer {
            addr,
            seen: Arc::default(),
            answered: Arc::default(),
            connections: Arc::default(),
            tasks: Arc::default(),
        };
        let handler: Handler = Arc::new(handler);
        let seen = server.seen.clone();
        let answered = server.answered.clone();
        let connections = server.connections.clone();
        let tasks = server.tasks.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let connection = connections.fetch_add(1, Ordering::SeqCst);
                let task = tokio::spawn(serve(
                    stream,
                    connection,
                    handler.clone(),
                    seen.clone(),
                    answered.clone(),
                ));
                tasks.lock().expect("tasks").push(task.abort_handle());
            }
        });
        server
            .tasks
            .lock()
            .expect("tasks")
            .push(accept.abort_handle());
        server
    }

    /// Stops listening and closes every connection.
    pub fn stop(&self) {
        for task in self.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The requests seen so far, Hello and Ping included.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    /// The requests seen whose name is `name`.
    pub fn seen_named(&self, name: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.request.name() == name)
            .collect()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(
    mut stream: TcpStream,
    connection: usize,
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
    answered: Arc<Mutex<Vec<u64>>>,
) {
    let mut received = [0u8; PREFACE_LEN];
    if stream.read_exact(&mut received).await.is_err() {
        return;
    }
    if !matches!(preface::check(&received), PrefaceCheck::Accepted(_)) {
        return;
    }
    if stream
        .write_all(&preface::encode(PROTOCOL_VERSION))
        .await
        .is_err()
    {
        return;
    }
    let (mut sink, mut frames) = Framed::new(stream, FrameCodec::new()).split();
    let clock = Arc::new(LamportClock::new(1_000));
    let (tx, mut rx) = mpsc::unbounded_channel::<Option<Envelope>>();
    let writer = async move {
        while let Some(Some(envelope)) = rx.recv().await {
            if envelope.request_id != 0 {
                answered.lock().expect("answered").push(envelope.request_id);
            }
            if sink.send(envelope).await.is_err() {
                return;
            }
        }
    };
    let reader = async move {
        while let Some(Ok(Incoming::Envelope(envelope))) = frames.next().await {
            clock.observe(envelope.lamport);
            let Body::Request(request) = envelope.body else {
                continue;
            };
            seen.lock().expect("seen").push(Seen {
                connection,
                request_id: envelope.request_id,
                lamport: envelope.lamport,
                request: request.clone(),
            });
            let outs = handler(&request);
            let tx = tx.clone();
            let clock = clock.clone();
            let request_id = envelope.request_id;
            tokio::spawn(async move {
                for out in outs {
                    let envelope = match out {
                        Out::Reply(reply) => Envelope::reply(request_id, clock.tick(), reply),
                        Out::Error(code) => Envelope::error(
                            request_id,
                            clock.tick(),
                            ErrorBody::new(code, "scripted"),
                        ),
                        Out::Push(push) => Envelope::push(clock.tick(), push),
                        Out::DelayMs(ms) => {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            continue;
                        }
                        Out::Close => {
                            let _ = tx.send(None);
                            return;
                        }
                    };
                    let _ = tx.send(Some(envelope));
                }
            });
        }
    };
    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
}

/// The answers every scripted server gives unless a test overrides them.
pub fn standard(request: &Request) -> Vec<Out> {
    match request {
        Request::Hello { token, .. } => vec![Out::Reply(welcome(token.is_some()))],
        Request::Ping { nonce } => vec![Out::Reply(Reply::Pong {
            nonce: *nonce,
            server_time_ms: 1,
        })],
        Request::ListCities => vec![Out::Reply(Reply::Cities(vec![
            cinebook_protocol::types::City {
                id: 1,
                name: "Lisbon".into(),
            },
        ]))],
        // The client library walks lists by pages (PROTOCOL.md §10.2): one page, no cursor.
        Request::ListPage(cinebook_protocol::page::PageRequest {
            list: cinebook_protocol::page::PagedList::Cities,
            ..
        }) => vec![Out::Reply(Reply::Page(cinebook_protocol::page::Page {
            items: cinebook_protocol::page::PageItems::Cities(vec![
                cinebook_protocol::types::City {
                    id: 1,
                    name: "Lisbon".into(),
                },
            ]),
            next: None,
        }))],
        Request::Hold { show_id, .. } => vec![Out::Reply(Reply::Held(hold_info(*show_id)))],
        Request::Renew { hold_id } => {
            let mut info = hold_info(7);
            info.hold_id = *hold_id;
            vec![Out::Reply(Reply::Held(info))]
        }
        Request::Subscribe { show_id } => vec![Out::Reply(Reply::Subscribed {
            show_id: *show_id,
            seq: 4,
        })],
        Request::Unsubscribe { show_id } => {
            vec![Out::Reply(Reply::Unsubscribed { show_id: *show_id })]
        }
        Request::GetSeatMap { .. } => vec![Out::Reply(Reply::SeatMap(seat_map(4)))],
        _ => vec![Out::Error(ErrorCode::NotFound)],
    }
}

pub fn welcome(authenticated: bool) -> Reply {
    Reply::Welcome {
        node_id: 1,
        node_role: NodeRole::Standalone,
        leader: None,
        lamport: 1_000,
        role: if authenticated {
            Role::BoxOffice
        } else {
            Role::Guest
        },
        terminal_id: authenticated.then_some(3),
        server_time_ms: 1_700_000_000_000,
        hold_ttl_ms: 600_000,
    }
}

pub fn hold_info(show_id: u64) -> HoldInfo {
    HoldInfo {
        hold_id: 11,
        show_id,
        seats: vec![0, 1],
        labels: vec!["A1".into(), "A2".into()],
        expires_at_ms: 1_700_000_600_000,
        total: Money {
            amount_minor: 2_400,
            currency: "EUR".into(),
        },
    }
}

/// A four-seat show (id 7) at sequence `seq`, all free.
pub fn seat_map(seq: u64) -> SeatMap {
    let seats: Vec<Seat> = (0..4u16)
        .map(|i| Seat {
            id: u32::from(i),
            row: "A".into(),
            label: format!("A{}", i + 1),
            category: Category::Standard,
            x: i,
            y: 0,
        })
        .collect();
    SeatMap {
        summary: ShowSummary {
            show: Show {
                id: 7,
                movie_id: 1,
                screen_id: 1,
                starts_at_ms: 1_700_003_600_000,
                currency: "EUR".into(),
                prices: vec![],
            },
            movie_title: "Metropolis".into(),
            theater_id: 1,
            theater_name: "Odeon".into(),
            city_id: 1,
            screen_name: "1".into(),
            seats_free: 4,
            seats_total: 4,
        },
        states: vec![SeatState::Free; seats.len()],
        seats,
        seq,
    }
}

/// A client configuration with short limits for tests.
pub fn quick_config() -> cinebook_client::ClientConfig {
    cinebook_client::ClientConfig {
        token: Some("test-token".into()),
        call_timeout_ms: 5_000,
        connect_timeout_ms: 1_000,
        backoff_initial_ms: 5,
        backoff_max_ms: 50,
        ..cinebook_client::ClientConfig::default()
    }
}
