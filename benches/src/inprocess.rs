//! A CineBook node started by the tool itself: its own tokio runtime on its own thread (so that
//! it competes for the CPU like a separate process would, not inside the load generator's
//! runtime), over a fresh MySQL database that is dropped when the node stops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use cinebook_client::types::Role;
use cinebook_server::node::auth;
use cinebook_server::store::mysql::{MysqlLimits, MysqlStore};
use cinebook_server::store::Store;
use cinebook_server::{Config, Server};
use mysql_async::prelude::Queryable;
use tokio::sync::oneshot;

use crate::mysql_baseline::with_database;

/// Runtime threads of the in-process node (the machine has two cores).
pub const NODE_RUNTIME_THREADS: usize = 2;
/// Longest wait for the node to start.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running in-process node.
#[derive(Debug)]
pub struct InProcessNode {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its database's URL.
    pub database_url: String,
    /// An admin terminal's token.
    pub token: String,
    server_url: String,
    database: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn admin(server_url: &str) -> Result<mysql_async::Conn> {
    let url = with_database(server_url, "")?;
    let opts = mysql_async::Opts::from_url(&url).with_context(|| format!("invalid URL {url:?}"))?;
    mysql_async::Conn::new(opts)
        .await
        .with_context(|| format!("connecting to MySQL at {url}"))
}

impl InProcessNode {
    /// Creates database `cinebook_load_<pid>_<ms>` on the server of `mysql_url`, starts a node over
    /// it on 127.0.0.1 (a free port) with the default configuration, and creates an admin
    /// terminal.
    pub async fn start(mysql_url: &str) -> Result<InProcessNode> {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let database = format!("cinebook_load_{}_{stamp}", std::process::id());
        let mut conn = admin(mysql_url).await?;
        conn.query_drop(format!(
            "CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await
        .context("creating the in-process node's database")?;
        let _ = conn.disconnect().await;
        let database_url = with_database(mysql_url, &database)?;
        let token = auth::new_token();
        let (ready_tx, ready_rx) = oneshot::channel::<Result<SocketAddr>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (url, hash) = (database_url.clone(), auth::token_sha256(&token));
        let thread = std::thread::Builder::new()
            .name("cinebook-node".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(NODE_RUNTIME_THREADS)
                    .thread_name("cinebook-node-rt")
                    .enable_all()
                    .build();
                let runtime = match runtime {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow!("no runtime for the node: {e}")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let started = async {
                        let store = MysqlStore::connect(&url, MysqlLimits::default())
                            .await
                            .context("connecting the node's store")?;
                        store.migrate().await.context("migrating")?;
                        store
                            .add_terminal("cinebook-load admin", Role::Admin, &hash)
                            .await
                            .context("creating the admin terminal")?;
                        let config = Config {
                            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                            ..Config::default()
                        };
                        let server = Server::bind(config, Arc::new(store))
                            .await
                            .context("starting the node")?;
                        anyhow::Ok(server.spawn())
                    };
                    match started.await {
                        Ok(running) => {
                            let _ = ready_tx.send(Ok(running.addr));
                            let _ = stop_rx.await;
                            running.stop().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .context("starting the node's thread")?;
        let mut node = InProcessNode {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url,
            token,
            server_url: mysql_url.to_string(),
            database,
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        match tokio::time::timeout(START_TIMEOUT, ready_rx).await {
            Ok(Ok(Ok(addr))) => {
                node.addr = addr;
                Ok(node)
            }
            Ok(Ok(Err(e))) => {
                node.stop().await;
                Err(e)
            }
            Ok(Err(_)) => {
                node.stop().await;
                Err(anyhow!("the node's thread ended before it started"))
            }
            Err(_) => {
                node.stop().await;
                Err(anyhow!("the node did not start within {START_TIMEOUT:?}"))
            }
        }
    }

    /// Stops the node gracefully and drops its database.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        match admin(&self.server_url).await {
            Ok(mut conn) => {
                let dropped = conn
                    .query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.database))
                    .await;
                if let Err(e) = dropped {
                    eprintln!("warning: could not drop database {}: {e}", self.database);
                }
                let _ = conn.disconnect().await;
            }
            Err(e) => eprintln!("warning: could not drop database {}: {e}", self.database),
        }
    }
}
