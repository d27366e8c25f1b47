//! Three real `cinebook-server` processes (so they can be SIGKILLed and SIGSTOPped), a fault
//! proxy on every link between two nodes, and one in front of MySQL.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cinebook_client::{Client, ClientConfig};
use cinebook_protocol::types::{NodeRole, SeatState};
use cinebook_server::testing::MysqlProxy;

/// The cluster secret of the run.
const SECRET: &str = "chaos-cluster-secret-0123456789abc";

/// Node ids.
pub const NODES: [u32; 3] = [1, 2, 3];

/// A node's process state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// Running.
    Up,
    /// SIGSTOPped.
    Paused,
    /// Killed, not restarted yet.
    Down,
}

struct NodeProc {
    addr: SocketAddr,
    peers: String,
    child: Option<Child>,
    life: Life,
}

/// The cluster under test.
pub struct Cluster {
    nodes: BTreeMap<u32, NodeProc>,
    /// `links[(from, to)]`: the proxy `from` dials to reach `to`.
    links: BTreeMap<(u32, u32), MysqlProxy>,
    /// MySQL as the nodes reach it.
    pub mysql: MysqlProxy,
    /// The MariaDB of the run's own (`--private-mysql`), which the nemesis pauses and kills.
    pub private_mysql: Option<super::private_mysql::PrivateMysql>,
    db_url: String,
    hold_ttl_ms: u64,
    logs: std::path::PathBuf,
}

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr")
}

impl Cluster {
    /// Starts the proxies and the three nodes. `db_url` is the database through `mysql`.
    pub async fn start(mysql: MysqlProxy, db_url: String, hold_ttl_ms: u64) -> Cluster {
        let addrs: BTreeMap<u32, SocketAddr> = NODES.iter().map(|id| (*id, free_addr())).collect();
        let mut links = BTreeMap::new();
        for from in NODES {
            for to in NODES.iter().copied().filter(|to| *to != from) {
                links.insert(
                    (from, to),
                    MysqlProxy::start_to(addrs[&to].to_string()).await,
                );
            }
        }
        let logs = std::env::temp_dir().join(format!("cinebook-chaos-{}", std::process::id()));
        std::fs::create_dir_all(&logs).expect("log dir");
        let mut nodes = BTreeMap::new();
        for id in NODES {
            let peers = NODES
                .iter()
                .map(|p| {
                    let addr = if *p == id {
                        addrs[p]
                    } else {
                        links[&(id, *p)].addr()
                    };
                    format!("{p}={addr}")
                })
                .collect::<Vec<_>>()
                .join(",");
            nodes.insert(
                id,
                NodeProc {
                    addr: addrs[&id],
                    peers,
                    child: None,
                    life: Life::Down,
                },
            );
        }
        let mut cluster = Cluster {
            nodes,
            links,
            mysql,
            private_mysql: None,
            db_url,
            hold_ttl_ms,
            logs,
        };
        for id in NODES {
            cluster.restart(id);
        }
        cluster
    }

    /// Every node's client address.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.values().map(|n| n.addr.to_string()).collect()
    }

    /// Where the nodes' logs are.
    pub fn log_dir(&self) -> &std::path::Path {
        &self.logs
    }

    /// A node's state.
    pub fn life(&self, id: u32) -> Life {
        self.nodes.get(&id).map_or(Life::Down, |n| n.life)
    }

    /// Starts (or restarts) a node that is down.
    pub fn restart(&mut self, id: u32) {
        let (db, ttl, logs) = (self.db_url.clone(), self.hold_ttl_ms, self.logs.clone());
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if node.life != Life::Down {
            return;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logs.join(format!("node{id}.log")))
            .expect("node log");
        let child = Command::new(env!("CARGO_BIN_EXE_cinebook-server"))
            .args(["--database", &db, "--listen", &node.addr.to_string()])
            .args(["--node-id", &id.to_string(), "--peers", &node.peers])
            .args(["--hold-ttl", &format!("{ttl}ms"), "--no-sample"])
            .env("CINEBOOK_CLUSTER_SECRET", SECRET)
            .env("CINEBOOK_LOG", "info")
            .env("CINEBOOK_LOG_FORMAT", "json")
            .env("CINEBOOK_WORKERS", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start cinebook-server");
        node.child = Some(child);
        node.life = Life::Up;
    }

    /// SIGKILL.
    pub fn kill(&mut self, id: u32) {
        if let Some(node) = self.nodes.get_mut(&id) {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            node.life = Life::Down;
        }
    }

    fn signal(&mut self, id: u32, signal: &str, life: Life) {
        if let Some(node) = self.nodes.get_mut(&id) {
            if let Some(child) = &node.child {
                let status = Command::new("kill")
                    .args([signal, &child.id().to_string()])
                    .status();
                if status.is_ok_and(|s| s.success()) {
                    node.life = life;
                }
            }
        }
    }

    /// SIGSTOP.
    pub fn pause(&mut self, id: u32) {
        self.signal(id, "-STOP", Life::Paused);
    }

    /// SIGCONT.
    pub fn resume(&mut self, id: u32) {
        if self.life(id) == Life::Paused {
            self.signal(id, "-CONT", Life::Up);
        }
    }

    /// Cuts every link between `id` and the other nodes (both directions).
    pub fn isolate(&self, id: u32) {
        for ((from, to), proxy) in &self.links {
            if *from == id || *to == id {
                proxy.cut();
            }
        }
    }

    /// Restores every link.
    pub fn heal_links(&self) {
        for proxy in self.links.values() {
            proxy.restore();
        }
    }

    /// Heals everything: links, MySQL, paused and killed nodes.
    pub fn heal_all(&mut self) {
        self.heal_links();
        self.mysql.resume();
        self.mysql.restore();
        if let Some(server) = &mut self.private_mysql {
            server.heal();
            server.wait_up();
        }
        for id in NODES {
            self.resume(id);
            self.restart(id);
        }
    }

    /// The role a running node reports (None: down, paused or not answering).
    pub async fn role(&self, id: u32) -> Option<NodeRole> {
        let node = self.nodes.get(&id)?;
        if node.life != Life::Up {
            return None;
        }
        let config = ClientConfig {
            call_timeout_ms: 300,
            connect_timeout_ms: 300,
            attempts_max: 1,
            ..ClientConfig::default()
        };
        let client = Client::connect([node.addr.to_string()], config)
            .await
            .ok()?;
        client.welcome().map(|w| w.node_role)
    }

    /// The leader among the running nodes, if exactly one says so.
    pub async fn leader(&self) -> Option<u32> {
        let mut leaders = Vec::new();
        for id in NODES {
            if self.role(id).await == Some(NodeRole::Leader) {
                leaders.push(id);
            }
        }
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Waits until one running node leads and every other running node follows it.
    pub async fn settle(&self, within: Duration) -> Option<u32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(leader) = self.leader().await {
                return Some(leader);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// A node's seat map of `show_id`.
    pub async fn seat_map(&self, id: u32, show_id: u64) -> Option<Vec<SeatState>> {
        let node = self.nodes.get(&id)?;
        let config = ClientConfig {
            call_timeout_ms: 2_000,
            ..ClientConfig::default()
        };
        let client = Client::connect([node.addr.to_string()], config)
            .await
            .ok()?;
        client.seat_map(show_id).await.ok().map(|m| m.states)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for id in NODES {
            self.resume(id);
            self.kill(id);
        }
    }
}
