//! `cinebook-server`: run a node, import a catalog, apply migrations, or manage terminals.
//!
//! Every command works on MySQL when `--database` (or `CINEBOOK_DATABASE`) names one, and on
//! the embedded SQLite store in `--data-dir` (default `./cinebook-data`) otherwise.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cinebook_protocol::types::Role;
use cinebook_server::cluster::{parse_peers, BullyTimeouts, ClusterConfig};
use cinebook_server::import::{self, seatmap, Options};
use cinebook_server::node::auth;
use cinebook_server::store::mysql::{MysqlLimits, MysqlStore};
use cinebook_server::store::scratch::ScratchCopy;
use cinebook_server::store::sqlite::{SqliteLimits, SqliteStore};
use cinebook_server::store::Store;
use cinebook_server::{Config, Server};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

mod notify_cli;
mod payments_cli;
mod show_cli;

/// Where the embedded store lives unless `--data-dir` says otherwise.
const DEFAULT_DATA_DIR: &str = "./cinebook-data";

/// Which store a command works on.
#[derive(Debug, Clone, Args)]
struct StoreArgs {
    /// MySQL URL, such as mysql://user:pass@host:3306/cinebook (MariaDB works too). Without it
    /// the embedded SQLite store in --data-dir is used.
    #[arg(long, env = "CINEBOOK_DATABASE")]
    database: Option<String>,
    /// Directory of the embedded store (and of the box-office token of a first start).
    #[arg(long, env = "CINEBOOK_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
}

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
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Import a catalog (docs/IMPORT.md) from a URL or a file, or a seat layout from CSV.
    #[command(group(ArgGroup::new("input").required(true).args(["from", "seatmap", "sample"])))]
    Import {
        /// JSON document: an http:// or https:// URL, or a file.
        #[arg(long, value_name = "URL|FILE")]
        from: Option<String>,
        /// The sample cinema of a first start (deploy/sample-cinema.json, built in), with a
        /// week of shows from today. Running it again adds the days that are new.
        #[arg(long)]
        sample: bool,
        /// Seat layout CSV (columns row,label,category,x,y) for the screen given by --screen.
        #[arg(long, value_name = "FILE.csv", requires = "screen")]
        seatmap: Option<PathBuf>,
        /// Internal id of the screen whose seats --seatmap replaces.
        #[arg(long, value_name = "ID", requires = "seatmap")]
        screen: Option<u64>,
        /// Print what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Manage terminals.
    #[command(subcommand)]
    Terminal(TerminalCommand),
    /// Operator actions on shows (sent to the running node).
    #[command(subcommand)]
    Show(show_cli::ShowCommand),
    /// Notifications: run the RabbitMQ consumer (--amqp), or read and replay dead letters.
    Notify {
        #[command(flatten)]
        notify: notify_cli::NotifyArgs,
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        action: Option<notify_cli::NotifyAction>,
    },
    /// Print the ticket-verification public key (for door scanners that check tickets
    /// offline); makes the signing key first if there is none yet.
    TicketKey {
        #[command(flatten)]
        key: TicketKeyArgs,
        /// Directory whose ticket-signing.key is used unless --ticket-key is given.
        #[arg(long, env = "CINEBOOK_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

/// Where the ticket-signing key lives.
#[derive(Debug, Clone, Args)]
struct TicketKeyArgs {
    /// The ticket-signing key file (64 hex digits, mode 0600), made on first start if missing.
    /// Default: ticket-signing.key in --data-dir. Every node of a cluster needs the same file.
    #[arg(long, env = "CINEBOOK_TICKET_KEY", value_name = "FILE")]
    ticket_key: Option<PathBuf>,
}

impl TicketKeyArgs {
    fn path(&self, data_dir: &Path) -> PathBuf {
        self.ticket_key
            .clone()
            .unwrap_or_else(|| data_dir.join(cinebook_server::node::ticket_key::TICKET_KEY_FILE))
    }

    fn load(&self, data_dir: &Path) -> Result<cinebook_protocol::ticket::TicketSigner> {
        let path = self.path(data_dir);
        let (signer, created) = cinebook_server::node::ticket_key::load_or_create(&path, true)?;
        if created {
            println!(
                "ticket-signing key created in {} (mode 0600; copy it to every node of a cluster)",
                path.display()
            );
        }
        Ok(signer)
    }
}

#[derive(Debug, Subcommand)]
enum TerminalCommand {
    /// Create a terminal and print its token (shown once; only its hash is stored).
    Add {
        /// Terminal name, such as "box-office-1".
        #[arg(long)]
        name: String,
        /// Role: kiosk, box-office, admin, web or door (nodes authenticate with the cluster secret).
        #[arg(long)]
        role: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List terminals.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a terminal's token.
    Revoke {
        /// Terminal id.
        #[arg(long)]
        id: u64,
        #[command(flatten)]
        store: StoreArgs,
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
    #[command(flatten)]
    store: StoreArgs,
    /// On a first start of the embedded store, do not load the sample cinema and do not create
    /// the box-office terminal.
    #[arg(long, env = "CINEBOOK_NO_SAMPLE")]
    no_sample: bool,
    /// Import the catalog from this URL (or file) at start and then every --sync-every, with
    /// the rules of `import`; the node serves the new catalog without a restart.
    #[arg(long, env = "CINEBOOK_SYNC_FROM", value_name = "URL")]
    sync_from: Option<String>,
    /// How often --sync-from is fetched, e.g. 15m, 1h, 90s.
    #[arg(long, env = "CINEBOOK_SYNC_EVERY", default_value = "15m", value_parser = parse_duration_ms)]
    sync_every: u64,
    /// Worker threads applying writes (default: one per core).
    #[arg(long, env = "CINEBOOK_WORKERS")]
    workers: Option<usize>,
    /// Connections admitted at once.
    #[arg(long, env = "CINEBOOK_MAX_CONNECTIONS", default_value_t = 10_000)]
    max_connections: usize,
    /// Guest (tokenless) connections admitted at once; keep it below --max-connections (the
    /// difference is reserved for terminals and peers).
    #[arg(long, env = "CINEBOOK_GUEST_CONNECTIONS_MAX", default_value_t = cinebook_server::ConnectionLimits::default().guest_connections_max)]
    guest_connections_max: usize,
    /// Guest read requests building their replies at once across the node (the rest wait).
    #[arg(long, env = "CINEBOOK_GUEST_READS_RUNNING_MAX", default_value_t = cinebook_server::ConnectionLimits::default().guest_reads_running_max)]
    guest_reads_running_max: usize,
    /// Most items in one page of a list (ListPage); a larger limit is capped to it.
    #[arg(long, env = "CINEBOOK_LIST_PAGE_MAX_ITEMS", default_value_t = cinebook_server::config::LIST_PAGE_MAX_ITEMS_DEFAULT)]
    list_page_max_items: u32,
    /// Connections from one source address at once.
    #[arg(long, env = "CINEBOOK_CONNECTIONS_PER_ADDRESS_MAX", default_value_t = cinebook_server::ConnectionLimits::default().connections_per_address_max)]
    connections_per_address_max: usize,
    /// Encoded bytes queued to one connection before it is no longer read.
    #[arg(long, env = "CINEBOOK_OUTBOUND_QUEUE_MAX_BYTES", default_value_t = cinebook_server::ConnectionLimits::default().outbound_queue_max_bytes)]
    outbound_queue_max_bytes: usize,
    /// How far ahead of the node a client's Lamport time may be.
    #[arg(long, env = "CINEBOOK_LAMPORT_SKEW_MAX", default_value_t = cinebook_server::ConnectionLimits::default().lamport_skew_max)]
    lamport_skew_max: u64,
    /// How long a hold lives, e.g. 10m, 90s, 500ms.
    #[arg(long, env = "CINEBOOK_HOLD_TTL", default_value = "10m", value_parser = parse_duration_ms)]
    hold_ttl: u64,
    /// Minutes after a show's start during which the box office (and admins) may still sell it;
    /// kiosks and the web stop at the start.
    #[arg(long, env = "CINEBOOK_BOX_OFFICE_LATE_MIN", default_value_t = cinebook_server::domain::BOX_OFFICE_LATE_MIN_DEFAULT)]
    box_office_late_min: u64,
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
    /// A leader silent for this long is replaced, e.g. 400ms.
    #[arg(long, env = "CINEBOOK_LEADER_TIMEOUT", default_value = "400ms", value_parser = parse_duration_ms)]
    leader_timeout: u64,
    /// How often the leader sends heartbeats, e.g. 100ms.
    #[arg(long, env = "CINEBOOK_HEARTBEAT_INTERVAL", default_value = "100ms", value_parser = parse_duration_ms)]
    heartbeat_interval: u64,
    /// How long a candidate waits for a higher node to answer, e.g. 300ms.
    #[arg(long, env = "CINEBOOK_ELECTION_TIMEOUT", default_value = "300ms", value_parser = parse_duration_ms)]
    election_timeout: u64,
    /// The leader grants holds only while a follower acknowledged its stream within this long;
    /// must be shorter than --leader-timeout, e.g. 300ms.
    #[arg(long, env = "CINEBOOK_LEADER_LEASE", default_value = "300ms", value_parser = parse_duration_ms)]
    leader_lease: u64,
    /// Serve Prometheus metrics (/metrics) and health checks (/healthz, /readyz) over HTTP on
    /// this address, e.g. 0.0.0.0:9100. Off without it.
    #[arg(long, env = "CINEBOOK_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Serve the client port over TLS with this certificate chain (PEM, leaf first); needs
    /// --tls-key. Peers then talk to this node over TLS too.
    #[arg(
        long,
        env = "CINEBOOK_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(
        long,
        env = "CINEBOOK_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// With --tls-cert in a cluster: the CA certificate(s) (PEM) the peers' certificates chain
    /// to, checked against the host of each --peers address. Default: --tls-cert itself (every
    /// node shares one certificate, or the file holds the CA too).
    #[arg(
        long,
        env = "CINEBOOK_TLS_CA",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_ca: Option<PathBuf>,
    #[command(flatten)]
    payments: payments_cli::GatewayArgs,
    #[command(flatten)]
    ticket_key: TicketKeyArgs,
    #[command(flatten)]
    notify: notify_cli::NotifyArgs,
}

fn cluster_config(args: &RunArgs) -> Result<Option<ClusterConfig>> {
    let Some(peers) = &args.peers else {
        return Ok(None);
    };
    if args.store.database.is_none() {
        bail!("a cluster needs the shared MySQL store: give --database with --peers");
    }
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
    // The lease must end before the followers can elect another leader, and outlast a heartbeat.
    if args.leader_lease >= args.leader_timeout || args.leader_lease <= args.heartbeat_interval {
        bail!("--leader-lease must be longer than --heartbeat-interval and shorter than --leader-timeout");
    }
    config.leader_lease_ms = args.leader_lease;
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

/// Log lines queued for stderr at most; beyond it new lines are dropped (and counted by the
/// writer), never waited for.
const LOG_LINES_QUEUED_MAX: usize = 65_536;

/// Logs go to stderr through a dedicated writer thread: a reader of the node's output that stops
/// reading (a full pipe, a paused `tee`, a dead one) must not stop the node. Lines beyond
/// [`LOG_LINES_QUEUED_MAX`] are dropped instead. Colour only when stderr is a terminal (and
/// `NO_COLOR` is not set). Keep the guard until exit: dropping it flushes what is queued, for at
/// most about a second.
fn init_logging(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CINEBOOK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_LINES_QUEUED_MAX)
        .lossy(true)
        .thread_name("cinebook-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    guard
}

/// Opens the store the arguments name and applies its migrations.
async fn open_store(args: &StoreArgs) -> Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match &args.database {
        Some(url) => Arc::new(
            MysqlStore::connect(url, MysqlLimits::default())
                .await
                .context("connecting to the database")?,
        ),
        None => Arc::new(
            SqliteStore::open_dir(&args.data_dir, SqliteLimits::default())
                .await
                .with_context(|| {
                    format!("opening the embedded store in {}", args.data_dir.display())
                })?,
        ),
    };
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

fn describe(args: &StoreArgs) -> String {
    match &args.database {
        Some(_) => "MySQL (--database)".to_owned(),
        None => format!(
            "the embedded SQLite store in {}",
            args.data_dir
                .join(cinebook_server::store::sqlite::DATABASE_FILE)
                .display()
        ),
    }
}

/// The exit status of a command that failed.
const FAILURE_EXIT_CODE: u8 = 1;

/// Runs the command; a failure is printed once, as one line with its causes (`a: b: c`), never
/// with a backtrace or Rust's `Error: …` debug form.
fn main() -> std::process::ExitCode {
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
        .and_then(|runtime| runtime.block_on(start()));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "cinebook-server: {error:#}");
            std::process::ExitCode::from(FAILURE_EXIT_CODE)
        }
    }
}

async fn start() -> Result<()> {
    let cli = Cli::parse();
    let _log_flushed_at_exit = init_logging(cli.run.log_format);
    match cli.command {
        None => run(cli.run).await,
        Some(Command::Migrate { store }) => {
            open_store(&store).await?;
            println!("migrations applied to {}", describe(&store));
            Ok(())
        }
        Some(Command::Import {
            sample: true,
            dry_run,
            store,
            ..
        }) => import_sample(dry_run, &store).await,
        Some(Command::Import {
            from,
            seatmap,
            screen,
            dry_run,
            store,
            ..
        }) => import_command(from, seatmap, screen, dry_run, &store).await,
        Some(Command::Terminal(command)) => terminal(command).await,
        Some(Command::TicketKey { key, data_dir }) => {
            let verifier = key.load(&data_dir)?.verifier();
            println!("{}", verifier.to_hex());
            Ok(())
        }
        Some(Command::Show(command)) => show_cli::show(command).await,
        Some(Command::Notify {
            notify,
            store,
            action,
        }) => notify_cli::notify(&notify, action, open_store(&store), &store.data_dir).await,
    }
}

/// The store an import works on: the real one, or for a dry run on the embedded store a scratch
/// copy of it (MySQL dry runs write nothing by themselves: the import only reads there).
async fn import_store(
    dry_run: bool,
    args: &StoreArgs,
) -> Result<(Arc<dyn Store>, Option<ScratchCopy>)> {
    if !dry_run || args.database.is_some() {
        return Ok((open_store(args).await?, None));
    }
    let copy = ScratchCopy::of(&args.data_dir).with_context(|| {
        format!(
            "copying the embedded store in {} for the dry run",
            args.data_dir.display()
        )
    })?;
    let scratch = StoreArgs {
        database: None,
        data_dir: copy.path().to_owned(),
    };
    Ok((open_store(&scratch).await?, Some(copy)))
}

/// `import --sample`: the built-in sample cinema, scheduled from today.
async fn import_sample(dry_run: bool, args: &StoreArgs) -> Result<()> {
    let (store, _scratch) = import_store(dry_run, args).await?;
    let today = chrono::Local::now().date_naive();
    let doc = import::sample::schedule_document(import::sample::SAMPLE_JSON, today)
        .map_err(|e| anyhow::anyhow!("the built-in sample cinema: {e}"))?;
    let options = Options {
        dry_run,
        progress: true,
    };
    let report = import::import_document(store.as_ref(), &doc, options).await?;
    println!("{report}");
    Ok(())
}

async fn import_command(
    from: Option<String>,
    seatmap: Option<PathBuf>,
    screen: Option<u64>,
    dry_run: bool,
    args: &StoreArgs,
) -> Result<()> {
    let (store, _scratch) = import_store(dry_run, args).await?;
    if let (Some(path), Some(screen_id)) = (seatmap, screen) {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let seats =
            seatmap::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let outcome = seatmap::import_seatmap(store.as_ref(), screen_id, seats, dry_run).await?;
        match outcome {
            seatmap::SeatmapOutcome::Unchanged => {
                println!("screen {screen_id}: the layout is already this one; no changes")
            }
            seatmap::SeatmapOutcome::Replaced {
                before,
                after,
                applied,
            } => println!(
                "screen {screen_id}: {before} seats -> {after} seats{}",
                if applied {
                    ", replaced in one transaction"
                } else {
                    " (dry run: nothing was written)"
                }
            ),
        }
        return Ok(());
    }
    let Some(from) = from else {
        bail!("give --from URL|FILE or --seatmap FILE.csv --screen ID");
    };
    let options = Options {
        dry_run,
        progress: true,
    };
    let report = import::import_from(store.as_ref(), &from, options).await?;
    if dry_run {
        for line in &report.details {
            println!("  would write {line}");
        }
    }
    println!("{report}");
    if report.applied && args.database.is_none() {
        eprintln!(
            "note: a cinebook-server already running on {} serves the new catalog after a \
             restart (or use --sync-from)",
            args.data_dir.display()
        );
    }
    Ok(())
}

async fn terminal(command: TerminalCommand) -> Result<()> {
    match command {
        TerminalCommand::Add { name, role, store } => {
            let Some(role) = Role::parse(&role).filter(|r| *r != Role::Guest) else {
                bail!("unknown role {role:?}: use kiosk, box-office or admin");
            };
            if let Err(e) = cinebook_server::cluster::peer_auth::check_terminal_role(role) {
                bail!("{}", e.message);
            }
            let store = open_store(&store).await?;
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
        TerminalCommand::List { store } => {
            let store = open_store(&store).await?;
            println!("{}", terminal_table(&store.list_terminals().await?));
        }
        TerminalCommand::Revoke { id, store } => {
            let store = open_store(&store).await?;
            store.revoke_terminal(id).await?;
            println!("terminal {id} revoked");
        }
    }
    Ok(())
}

/// `terminal list`: a header and one line per terminal, or a sentence when there are none.
fn terminal_table(terminals: &[cinebook_server::store::TerminalRecord]) -> String {
    if terminals.is_empty() {
        return "no terminals yet: add one with \
                `cinebook-server terminal add --name box-office-1 --role box-office`"
            .to_owned();
    }
    let mut lines = vec!["ID\tNAME\tROLE\tSTATUS".to_owned()];
    for t in terminals {
        let status = if t.revoked { "revoked" } else { "active" };
        lines.push(format!("{}\t{}\t{}\t{status}", t.id, t.name, t.role.name()));
    }
    lines.join("\n")
}

async fn run(args: RunArgs) -> Result<()> {
    let defaults = Config::default();
    let mut config = Config {
        listen: args.listen,
        node_id: args.node_id,
        workers: args.workers.unwrap_or(defaults.workers),
        max_connections: args.max_connections,
        frame_max_bytes: args.frame_max_bytes,
        list_page_max_items: args.list_page_max_items.max(1),
        writer_batch_max: args.writer_batch_max,
        box_office_late_min: args.box_office_late_min,
        ..defaults
    };
    config.limits.guest_connections_max = args.guest_connections_max;
    config.limits.guest_reads_running_max = args.guest_reads_running_max.max(1);
    config.limits.connections_per_address_max = args.connections_per_address_max;
    config.limits.outbound_queue_max_bytes = args.outbound_queue_max_bytes;
    config.limits.lamport_skew_max = args.lamport_skew_max;
    if config.limits.guest_connections_max >= config.max_connections {
        tracing::warn!(
            guest_connections_max = config.limits.guest_connections_max,
            max_connections = config.max_connections,
            "guests may take every connection: keep --guest-connections-max below --max-connections"
        );
    }
    config.cluster = cluster_config(&args)?;
    if let (Some(cert_path), Some(key_path)) = (args.tls_cert.clone(), args.tls_key.clone()) {
        if let Some(cluster) = &mut config.cluster {
            let ca = args.tls_ca.as_ref().unwrap_or(&cert_path);
            cluster.tls = Some(
                cinebook_server::net::tls::peer_connector(ca)
                    .with_context(|| format!("--tls-ca {}", ca.display()))?,
            );
        }
        config.tls = Some(cinebook_server::net::tls::TlsFiles {
            cert_path,
            key_path,
        });
    }
    config.hold.hold_ttl_ms = args.hold_ttl;
    config.hold.hold_lifetime_max_ms = config.hold.hold_lifetime_max_ms.max(args.hold_ttl);
    let store = open_store(&args.store).await?;
    println!("cinebook-server: storing in {}", describe(&args.store));
    if args.store.database.is_none() && !args.no_sample {
        first_run(store.as_ref(), &args.store.data_dir).await?;
    }
    let payments = payments_cli::setup(
        &args.payments,
        args.store.database.is_none(),
        args.metrics_listen,
    )
    .await?;
    config.payments = payments.as_ref().map(|p| p.config.clone());
    config.ticket_signer = Some(args.ticket_key.load(&args.store.data_dir)?);
    config.notify = args.notify.config(&args.store.data_dir)?;
    let server = Server::bind(config, store)
        .await
        .context("starting the node")?;
    println!("cinebook-server listening on {}", server.local_addr());
    // The simulator (if any) lives as long as the node.
    let _simulator = match payments {
        Some(setup) => {
            if let Some(listener) = setup.webhook_listener {
                let addr = listener.local_addr()?;
                tokio::spawn(cinebook_server::metrics::serve_http(
                    listener,
                    server.node(),
                ));
                println!("payment webhooks on http://{addr}/payments/webhook");
            }
            setup.simulator
        }
        None => None,
    };
    if let Some(addr) = args.metrics_listen {
        let (bound, _) = cinebook_server::metrics::spawn_http(addr, server.node())
            .await
            .with_context(|| format!("binding --metrics-listen {addr}"))?;
        println!("metrics on http://{bound}/metrics (health: /healthz, /readyz)");
    }
    if let Some(from) = args.sync_from {
        let every = Duration::from_millis(args.sync_every);
        println!(
            "syncing the catalog from {from} every {} s",
            every.as_secs()
        );
        import::sync::spawn(server.node(), from, every);
    }
    let shutdown = server.node().shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: shutting down");
        shutdown.cancel();
        // The handler replaced the default action: without this a second Ctrl-C or SIGTERM
        // during a slow shutdown would be ignored.
        wait_for_signal().await;
        tracing::warn!("second signal: exiting without waiting for the grace period");
        std::process::exit(SECOND_SIGNAL_EXIT_CODE);
    });
    server.run().await;
    Ok(())
}

/// On an empty embedded store: the sample cinema and a box-office terminal whose token is
/// written next to the database.
async fn first_run(store: &dyn Store, data_dir: &Path) -> Result<()> {
    let Some(first) = import::sample::first_run(store, data_dir)
        .await
        .context("loading the sample cinema")?
    else {
        return Ok(());
    };
    let r = &first.report;
    println!(
        "first start: loaded the sample cinema ({} cities, {} theaters, {} screens, {} movies, \
         {} shows over the next days)",
        r.cities.new, r.theaters.new, r.screens.new, r.movies.new, r.shows.new
    );
    println!(
        "box-office terminal {} created; its token is in {} (mode 0600).",
        first.terminal_id,
        first.token_file.display()
    );
    println!(
        "`cinebook` run from this directory finds it by itself; elsewhere pass --token-file {}",
        first.token_file.display()
    );
    println!(
        "web terminal created; its token is in {}: `cargo run -p cinebook-web` from this \
         directory finds it by itself.",
        first.web_token_file.display()
    );
    Ok(())
}

/// The exit code when a second signal cut a shutdown short (128 + SIGINT, as a shell reports it).
const SECOND_SIGNAL_EXIT_CODE: i32 = 130;

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
    use super::{parse_duration_ms, terminal_table};
    use cinebook_protocol::types::Role;
    use cinebook_server::store::TerminalRecord;

    #[test]
    fn terminal_list_has_a_header_and_says_when_there_are_none() {
        assert!(terminal_table(&[]).starts_with("no terminals yet"));
        let terminals = [
            TerminalRecord {
                id: 1,
                name: "box-office-1".into(),
                role: Role::BoxOffice,
                token_sha256: "00".into(),
                revoked: false,
            },
            TerminalRecord {
                id: 2,
                name: "kiosk-1".into(),
                role: Role::Kiosk,
                token_sha256: "11".into(),
                revoked: true,
            },
        ];
        let table = terminal_table(&terminals);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "ID\tNAME\tROLE\tSTATUS");
        assert!(lines[1].starts_with("1\tbox-office-1\t") && lines[1].ends_with("active"));
        assert!(lines[2].ends_with("\trevoked"));
        assert_eq!(lines.len(), 3);
    }

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
