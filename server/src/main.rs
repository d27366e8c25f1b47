//! `cinebook-server`: run a node, apply migrations, or manage terminals.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use cinebook_protocol::types::Role;
use cinebook_server::cluster::{parse_peers, BullyTimeouts, ClusterConfig};
use cinebook_server::node::auth;
use cinebook_server::store::mysql::{MysqlLimits, MysqlStore};
use cinebook_server::store::Store;
use cinebook_server::{Config, Server};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// A CineBook node: sells cinema seats over the CineBook binary protocol.
#[derive(Debug, Parser)]
#[command(name = "cinebook-server", version, about)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply the database migrations and exit.
    Migrate {
        /// MySQL URL, such as mysql://user:pass@host:3306/cinebook.
        #[arg(long, env = "CINEBOOK_DATABASE")]
        database: String,
    },
    /// Manage terminals.
    #[command(subcommand)]
    Terminal(TerminalCommand),
}

#[derive(Debug, Subcommand)]
enum TerminalCommand {
    /// Create a terminal and print its token (shown once; only its hash is stored).
    Add {
        /// Terminal name, such as "box-office-1".
        #[arg(long)]
        name: String,
        /// Role: kiosk, box-office, admin or node.
        #[arg(long)]
        role: String,
        /// MySQL URL.
        #[arg(long, env = "CINEBOOK_DATABASE")]
        database: String,
    },
    /// List terminals.
    List {
        /// MySQL URL.
        #[arg(long, env = "CINEBOOK_DATABASE")]
        database: String,
    },
    /// Revoke a terminal's token.
    Revoke {
        /// Terminal id.
        #[arg(long)]
        id: u64,
        /// MySQL URL.
        #[arg(long, env = "CINEBOOK_DATABASE")]
        database: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Address to listen on for clients.
    #[arg(long, env = "CINEBOOK_LISTEN", default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// MySQL URL (MariaDB works too).
    #[arg(long, env = "CINEBOOK_DATABASE")]
    database: Option<String>,
    /// Worker threads applying writes (default: one per core).
    #[arg(long, env = "CINEBOOK_WORKERS")]
    workers: Option<usize>,
    /// Connections admitted at once.
    #[arg(long, env = "CINEBOOK_MAX_CONNECTIONS", default_value_t = 10_000)]
    max_connections: usize,
    /// How long a hold lives, e.g. 10m, 90s, 500ms.
    #[arg(long, env = "CINEBOOK_HOLD_TTL", default_value = "10m", value_parser = parse_duration_ms)]
    hold_ttl: u64,
    /// Largest frame payload in bytes.
    #[arg(long, env = "CINEBOOK_FRAME_MAX_BYTES", default_value_t = cinebook_protocol::FRAME_MAX_BYTES_DEFAULT)]
    frame_max_bytes: usize,
    /// Log format.
    #[arg(long, env = "CINEBOOK_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// This node's id.
    #[arg(long, env = "CINEBOOK_NODE_ID", default_value_t = 1)]
    node_id: u32,
    /// Sales committed in one transaction at most.
    #[arg(long, env = "CINEBOOK_WRITER_BATCH_MAX", default_value_t = 512)]
    writer_batch_max: usize,
    /// Every node of the cluster, this one included: ID=HOST:PORT,... (their client addresses).
    /// Without it the node runs alone and leads itself.
    #[arg(long, env = "CINEBOOK_PEERS")]
    peers: Option<String>,
    /// The secret cluster nodes present to each other (required with --peers).
    #[arg(long, env = "CINEBOOK_CLUSTER_SECRET", hide_env_values = true)]
    cluster_secret: Option<String>,
    /// A leader silent for this long is replaced, e.g. 600ms.
    #[arg(long, env = "CINEBOOK_LEADER_TIMEOUT", default_value = "600ms", value_parser = parse_duration_ms)]
    leader_timeout: u64,
    /// How often the leader sends heartbeats, e.g. 100ms.
    #[arg(long, env = "CINEBOOK_HEARTBEAT_INTERVAL", default_value = "100ms", value_parser = parse_duration_ms)]
    heartbeat_interval: u64,
    /// How long a candidate waits for a higher node to answer, e.g. 300ms.
    #[arg(long, env = "CINEBOOK_ELECTION_TIMEOUT", default_value = "300ms", value_parser = parse_duration_ms)]
    election_timeout: u64,
}

fn cluster_config(args: &RunArgs) -> Result<Option<ClusterConfig>> {
    let Some(peers) = &args.peers else {
        return Ok(None);
    };
    let peers = parse_peers(peers).map_err(|e| anyhow::anyhow!("--peers: {e}"))?;
    if !peers.contains_key(&args.node_id) {
        bail!(
            "--peers must list this node (--node-id {}) with its client address",
            args.node_id
        );
    }
    let Some(secret) = args.cluster_secret.clone().filter(|s| s.len() >= 16) else {
        bail!("--cluster-secret (or CINEBOOK_CLUSTER_SECRET) of at least 16 characters is required with --peers");
    };
    let mut config = ClusterConfig::new(peers, secret);
    config.timeouts = BullyTimeouts {
        heartbeat_interval_ms: args.heartbeat_interval,
        leader_timeout_ms: args.leader_timeout,
        election_timeout_ms: args.election_timeout,
        coordinator_timeout_ms: args.leader_timeout + args.election_timeout,
    };
    if config.timeouts.heartbeat_interval_ms * 2 > config.timeouts.leader_timeout_ms {
        bail!("--heartbeat-interval must be at most half of --leader-timeout");
    }
    Ok(Some(config))
}

/// Parses `10m`, `90s`, `500ms`, `2h` or plain milliseconds.
fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 10m, 90s or 500ms"))?;
    let factor = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("unknown unit {unit:?}: use ms, s, m or h")),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too long"))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CINEBOOK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn open_store(url: &str) -> Result<Arc<MysqlStore>> {
    let store = MysqlStore::connect(url, MysqlLimits::default())
        .await
        .context("connecting to the database")?;
    Ok(Arc::new(store))
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(cli.run.log_format);
    match cli.command {
        None => run(cli.run).await,
        Some(Command::Migrate { database }) => {
            let store = open_store(&database).await?;
            store.migrate().await.context("applying migrations")?;
            println!("migrations applied");
            Ok(())
        }
        Some(Command::Terminal(command)) => terminal(command).await,
    }
}

async fn terminal(command: TerminalCommand) -> Result<()> {
    match command {
        TerminalCommand::Add {
            name,
            role,
            database,
        } => {
            let Some(role) = Role::parse(&role).filter(|r| *r != Role::Guest) else {
                bail!("unknown role {role:?}: use kiosk, box-office, admin or node");
            };
            let store = open_store(&database).await?;
            store.migrate().await?;
            let token = auth::new_token();
            let id = store
                .add_terminal(&name, role, &auth::token_sha256(&token))
                .await?;
            eprintln!(
                "terminal {id} ({name}, {}) created; the token is shown only once:",
                role.name()
            );
            println!("{token}");
        }
        TerminalCommand::List { database } => {
            let store = open_store(&database).await?;
            for t in store.list_terminals().await? {
                println!(
                    "{}\t{}\t{}{}",
                    t.id,
                    t.name,
                    t.role.name(),
                    if t.revoked { "\trevoked" } else { "" }
                );
            }
        }
        TerminalCommand::Revoke { id, database } => {
            let store = open_store(&database).await?;
            store.revoke_terminal(id).await?;
            println!("terminal {id} revoked");
        }
    }
    Ok(())
}

async fn run(args: RunArgs) -> Result<()> {
    let Some(database) = args.database.clone() else {
        bail!("--database (or CINEBOOK_DATABASE) is required: the embedded store is not built yet");
    };
    let defaults = Config::default();
    let mut config = Config {
        listen: args.listen,
        node_id: args.node_id,
        workers: args.workers.unwrap_or(defaults.workers),
        max_connections: args.max_connections,
        frame_max_bytes: args.frame_max_bytes,
        writer_batch_max: args.writer_batch_max,
        ..defaults
    };
    config.cluster = cluster_config(&args)?;
    config.hold.hold_ttl_ms = args.hold_ttl;
    config.hold.hold_lifetime_max_ms = config.hold.hold_lifetime_max_ms.max(args.hold_ttl);
    let store = open_store(&database).await?;
    let server = Server::bind(config, store)
        .await
        .context("starting the node")?;
    println!("cinebook-server listening on {}", server.local_addr());
    let shutdown = server.node().shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: shutting down");
        shutdown.cancel();
    });
    server.run().await;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("10m"), Ok(600_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("90s"), Ok(90_000));
        assert_eq!(parse_duration_ms("42"), Ok(42));
        assert!(parse_duration_ms("ten").is_err());
        assert!(parse_duration_ms("5d").is_err());
    }
}
