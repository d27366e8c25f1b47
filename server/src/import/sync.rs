//! Scheduled sync (`cinebook-server --sync-from URL --sync-every 15m`): the running node imports
//! from the URL with the import's rules and, when something changed, installs the new catalog
//! (`Node::install_catalog`) so that it is served without a restart.

use std::sync::Arc;
use std::time::Duration;

use super::{import_from, ImportError, Options, Report};
use crate::node::{Catalog, Node};

/// Shortest sync interval accepted.
pub const SYNC_EVERY_MIN: Duration = Duration::from_secs(1);

/// Syncs once: imports `from` into the node's store and, when it changed the catalog, installs
/// the catalog on the node.
pub async fn sync_once(node: &Node, from: &str) -> Result<Report, ImportError> {
    let report = import_from(node.store.as_ref(), from, Options::default()).await?;
    if report.applied {
        let data = node.store.load_catalog().await?;
        node.install_catalog(Catalog::build(data));
    }
    Ok(report)
}

/// Syncs now and then every `every` until the node shuts down. Failures are logged and retried
/// at the next tick; they never stop the node.
pub fn spawn(node: Arc<Node>, from: String, every: Duration) -> tokio::task::JoinHandle<()> {
    let every = every.max(SYNC_EVERY_MIN);
    tokio::spawn(async move {
        loop {
            match sync_once(&node, &from).await {
                Ok(report) => {
                    for line in &report.flagged {
                        tracing::warn!(from = %from, flagged = %line, "sync: held back for the operator");
                    }
                    if report.applied {
                        tracing::info!(from = %from, report = %report, "sync: catalog updated");
                    } else {
                        tracing::debug!(from = %from, "sync: no changes");
                    }
                }
                Err(error) => {
                    tracing::warn!(from = %from, %error, "sync failed; nothing was changed")
                }
            }
            tokio::select! {
                _ = node.shutdown.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    })
}
