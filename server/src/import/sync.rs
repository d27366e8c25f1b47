//! Scheduled sync (`cinebook-server --sync-from URL --sync-every 15m`): the running node imports
//! from the URL with the import's rules, through the same serialised write path as admin writes
//! (`Node::write_catalog`): planned and applied while no other catalog write runs, layout
//! changes of shows with held, sold or blocked seats kept out and flagged, and, when something
//! changed, the catalog reloaded, installed (served without a restart) and announced to
//! followers (`CatalogChanged`).

use std::sync::Arc;
use std::time::Duration;

use super::{import_document_with, parse_document, source, ImportError, Options, Report};
use crate::node::catalog_write::Written;
use crate::node::{layout_change, Node};

/// Shortest sync interval accepted.
pub const SYNC_EVERY_MIN: Duration = Duration::from_secs(1);

/// Syncs once: imports `from` into the node's store through `Node::write_catalog` and, when it
/// changed the catalog, installs it on the node and tells followers.
pub async fn sync_once(node: &Node, from: &str) -> Result<Report, ImportError> {
    // Fetched and validated outside the lock: only planning and writing are serialised.
    let doc = parse_document(&source::read(from).await?)?;
    let import = import_document_with(node.store.as_ref(), &doc, Options::default(), |plan| {
        layout_change::hold_back(node, plan)
    });
    node.write_catalog(import, |report| match report.applied {
        true => Written::Anything,
        false => Written::Nothing,
    })
    .await
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
                    // With its causes, once each (`a: b`).
                    let error = format!("{error:#}");
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::sync_once;
    use crate::config::Config;
    use crate::node::Node;
    use crate::store::memory::MemoryStore;
    use crate::store::Store;

    const V1: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/catalog-v1.json"
    );

    #[tokio::test]
    async fn a_sync_waits_for_an_admin_write_in_progress_and_installs_after_it() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let config = Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            workers: 1,
            ..Config::default()
        };
        let (node, background) = Node::start(config, store).await.expect("node");
        // An admin write holds the catalog lock (write, reload, install, notify).
        let admin = node.catalog_writes.lock().await;
        let sync = tokio::spawn({
            let node = node.clone();
            async move { sync_once(&node, V1).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!sync.is_finished(), "the sync waits for the admin write");
        let stored = node.store.load_catalog().await.expect("catalog");
        assert!(stored.shows.is_empty(), "and writes nothing meanwhile");
        drop(admin);
        let report = tokio::time::timeout(Duration::from_secs(10), sync)
            .await
            .expect("the sync finishes")
            .expect("no panic")
            .expect("sync");
        assert!(report.applied);
        assert_eq!(
            node.catalog().shows.len(),
            3,
            "installed after the admin write"
        );
        node.stop_background(background).await;
    }
}
