//! `cinebook-server show cancel ID --reason …`: the operator's show cancellation, sent to the
//! running node as the admin request `CancelShow` (the node refunds through its own paths and
//! gateway, and writes the notices). Plain TCP; for a TLS port use the `cinebook` client.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cinebook_protocol::types::ShowCancellation;
use cinebook_protocol::{
    preface, Body, Envelope, FrameCodec, Incoming, Reply, Request, PROTOCOL_VERSION,
};
use clap::Subcommand;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// How long the node may take to cancel a show (every booking refunded, gateway included).
const CANCEL_SHOW_WAIT_MS: u64 = 300_000;
/// How long connecting and the hello may take.
const CONNECT_WAIT_MS: u64 = 10_000;

/// `cinebook-server show …`.
#[derive(Debug, Subcommand)]
pub enum ShowCommand {
    /// Cancel a show: refund every booking (through the gateway where paid that way) and
    /// notify every customer. Safe to repeat: nothing is refunded twice.
    Cancel {
        /// The show's id.
        id: u64,
        /// Why (recorded with each refund and told to customers).
        #[arg(long)]
        reason: String,
        /// The running node's client address.
        #[arg(long, env = "CINEBOOK_CONNECT", default_value = "127.0.0.1:7878")]
        connect: SocketAddr,
        /// An admin terminal's token.
        #[arg(long, env = "CINEBOOK_TOKEN", hide_env_values = true)]
        token: String,
    },
}

/// Runs a `show` command.
pub async fn show(command: ShowCommand) -> Result<()> {
    let ShowCommand::Cancel {
        id,
        reason,
        connect,
        token,
    } = command;
    let report = cancel_show(connect, &token, id, &reason).await?;
    println!(
        "show {}: {} booking(s) refunded, {} already closed, {} failed",
        report.show_id,
        report.refunded.len(),
        report.already_closed,
        report.failed.len()
    );
    for code in &report.refunded {
        println!("refunded\t{code}");
    }
    for code in &report.failed {
        println!("FAILED\t{code}");
    }
    if !report.failed.is_empty() {
        bail!("some refunds failed; run the same command again (nothing is refunded twice)");
    }
    Ok(())
}

async fn call(
    framed: &mut Framed<TcpStream, FrameCodec>,
    id: u64,
    request: Request,
    wait_ms: u64,
) -> Result<Reply> {
    framed
        .send(Envelope::request(id, id, request))
        .await
        .context("sending")?;
    let wait = Duration::from_millis(wait_ms);
    loop {
        let frame = tokio::time::timeout(wait, framed.next())
            .await
            .context("the node did not answer in time")?
            .context("the node closed the connection")?
            .context("reading")?;
        let Incoming::Envelope(envelope) = frame else {
            bail!("the node sent a frame that is not an envelope");
        };
        if envelope.request_id != id {
            continue;
        }
        match envelope.body {
            Body::Reply(reply) => return Ok(reply),
            Body::Error(e) => bail!("{:?}: {}", e.code, e.message),
            _ => continue,
        }
    }
}

async fn cancel_show(
    addr: SocketAddr,
    token: &str,
    show_id: u64,
    reason: &str,
) -> Result<ShowCancellation> {
    let connect = Duration::from_millis(CONNECT_WAIT_MS);
    let mut stream = tokio::time::timeout(connect, TcpStream::connect(addr))
        .await
        .context("connecting")?
        .with_context(|| format!("connecting to {addr}"))?;
    stream.write_all(&preface::encode(PROTOCOL_VERSION)).await?;
    let mut answer = [0u8; preface::PREFACE_LEN];
    tokio::time::timeout(connect, stream.read_exact(&mut answer))
        .await
        .context("the node sent no preface")??;
    let mut framed = Framed::new(stream, FrameCodec::new());
    let hello = Request::Hello {
        version: PROTOCOL_VERSION,
        client_name: "cinebook-server show cancel".into(),
        token: Some(token.to_owned()),
    };
    call(&mut framed, 1, hello, CONNECT_WAIT_MS).await?;
    let request = Request::CancelShow {
        show_id,
        reason: reason.to_owned(),
    };
    match call(&mut framed, 2, request, CANCEL_SHOW_WAIT_MS).await? {
        Reply::ShowCancelled(report) => Ok(report),
        other => bail!("unexpected answer: {other:?}"),
    }
}
