//! The one path of every catalog write on a running node: admin upserts and the scheduled sync.
//!
//! Writes are serialised with the reload and install that follow them (`Node::catalog_writes`):
//! with two in flight, the reload that read the catalog first could be installed last and drop
//! the other's change from the snapshot (commit 700adbf). After a write that changed something
//! the node reloads the catalog, installs it (new shows, prices, layouts of untouched shows) and
//! tells followers (`CatalogChanged`). Checks that depend on the in-memory shows (layout changes,
//! [`super::layout_change`]) run inside `write`, under the same lock.

use std::future::Future;
use std::time::Duration;

use cinebook_protocol::ErrorBody;

use super::{store_error, Catalog, Node};
use crate::store::StoreError;

/// A store failure as a wire error (for admin writes through [`Node::write_catalog`]).
impl From<StoreError> for ErrorBody {
    fn from(e: StoreError) -> Self {
        store_error(e)
    }
}

impl Node {
    /// Runs `write` alone among catalog writes; if `changed` says it changed the catalog,
    /// reloads the catalog from the store (within `store_timeout_ms`), installs it and notifies
    /// followers, still under the lock. `write` is a future, so it starts only once the lock is
    /// held.
    pub async fn write_catalog<T, E: From<StoreError>>(
        &self,
        write: impl Future<Output = Result<T, E>>,
        changed: impl FnOnce(&T) -> bool,
    ) -> Result<T, E> {
        let _serial = self.catalog_writes.lock().await;
        let done = write.await?;
        if changed(&done) {
            let limit = Duration::from_millis(self.config.store_timeout_ms);
            let data = tokio::time::timeout(limit, self.store.load_catalog())
                .await
                .map_err(|_| {
                    StoreError::Unavailable(format!(
                        "reloading the catalog took longer than store_timeout_ms = {}",
                        self.config.store_timeout_ms
                    ))
                })??;
            self.install_catalog(Catalog::build(data));
            self.catalog_changed();
        }
        Ok(done)
    }
}
