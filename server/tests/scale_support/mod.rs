//! A node on the in-memory store (behind the `Store` trait) answering requests straight through
//! `handlers::handle`, and a small catalog builder: enough for the paging and incremental
//! catalog tests, which need thousands of catalog writes fast.
#![allow(dead_code)]

use std::sync::Arc;

use cinebook_protocol::types::{
    Category, City, Movie, Price, Role, Screen, Seat, Show, ShowId, Theater,
};
use cinebook_protocol::{ErrorBody, Reply, Request};
use cinebook_server::node::handlers::{handle, Caller};
use cinebook_server::node::{Background, Node};
use cinebook_server::store::memory::MemoryStore;
use cinebook_server::store::Store;
use cinebook_server::Config;

pub const CITY: u64 = 1;
pub const THEATER: u64 = 10;
pub const MOVIE: u64 = 100;
/// Show starts: far in the future, one minute apart.
pub const FIRST_START_MS: u64 = 4_000_000_000_000;

pub struct Scale {
    pub node: Arc<Node>,
    pub store: Arc<MemoryStore>,
    background: Option<Background>,
}

pub fn caller(role: Role) -> Caller {
    Caller {
        role,
        terminal_id: 1,
        peer_node_id: None,
    }
}

pub fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        workers: 1,
        ..Config::default()
    }
}

impl Scale {
    pub async fn start(config: Config) -> Scale {
        let store = Arc::new(MemoryStore::new());
        let dyn_store: Arc<dyn Store> = store.clone();
        let (node, background) = Node::start(config, dyn_store).await.expect("node");
        Scale {
            node,
            store,
            background: Some(background),
        }
    }

    pub async fn call(&self, role: Role, request: Request) -> Result<Reply, ErrorBody> {
        handle(&self.node, &caller(role), request).await
    }

    pub async fn admin(&self, request: Request) {
        let name = request.name();
        match self.call(Role::Admin, request).await {
            Ok(Reply::Done) => {}
            other => panic!("{name}: {other:?}"),
        }
    }

    /// A city, theater and movie, and one screen of `seats` seats with id `screen_id`.
    pub async fn base(&self, screen_id: u64, seats: u32) {
        self.admin(Request::UpsertCity(City {
            id: CITY,
            name: "Scale".into(),
        }))
        .await;
        self.admin(Request::UpsertTheater(Theater {
            id: THEATER,
            city_id: CITY,
            name: "Scale Hall".into(),
        }))
        .await;
        self.admin(Request::UpsertMovie(Movie {
            id: MOVIE,
            title: "Long Feature".into(),
            runtime_min: 120,
            rating: "PG".into(),
        }))
        .await;
        self.admin(Request::UpsertScreen(screen(
            screen_id,
            seats,
            Category::Standard,
        )))
        .await;
    }

    pub async fn stop(mut self) {
        if let Some(background) = self.background.take() {
            self.node.stop_background(background).await;
        }
    }
}

/// A screen of `seats` seats in rows of 10.
pub fn screen(id: u64, seats: u32, category: Category) -> Screen {
    Screen {
        id,
        theater_id: THEATER,
        name: format!("screen {id}"),
        seats: (0..seats)
            .map(|i| Seat {
                id: i,
                row: format!("R{}", i / 10),
                label: format!("R{}-{}", i / 10, i % 10 + 1),
                category,
                x: (i % 10) as u16,
                y: (i / 10) as u16,
            })
            .collect(),
    }
}

/// Show `id` on `screen_id`, starting `minute` minutes after [`FIRST_START_MS`].
pub fn show(id: ShowId, screen_id: u64, minute: u64, price_minor: i64) -> Show {
    Show {
        id,
        movie_id: MOVIE,
        screen_id,
        starts_at_ms: FIRST_START_MS + minute * 60_000,
        currency: "EUR".into(),
        prices: Category::ALL
            .iter()
            .map(|&category| Price {
                category,
                amount_minor: price_minor,
            })
            .collect(),
    }
}
