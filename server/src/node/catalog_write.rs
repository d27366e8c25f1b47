//! The one path of every catalog write on a running node: admin upserts and the scheduled sync.
//!
//! Writes are serialised with the install that follows them (`Node::catalog_writes`): with two
//! in flight, the reload that read the catalog first could be installed last and drop the
//! other's change from the snapshot (commit 700adbf). After a write that changed something the
//! node installs the change (an admin upsert: that one item, [`super::catalog_install`]; an
//! import: a reload of the whole catalog) and tells followers (`CatalogChanged`). Checks that depend on the in-memory shows (layout changes,
//! [`super::layout_change`]) run inside `write`, under the same lock.

use std::future::Future;
use std::time::Duration;

use cinebook_protocol::ErrorBody;

use super::catalog::CatalogChange;
use super::{store_error, Catalog, Node};
use crate::store::StoreError;

/// A store failure as a wire error (for admin writes through [`Node::write_catalog`]).
impl From<StoreError> for ErrorBody {
    fn from(e: StoreError) -> Self {
        store_error(e)
    }
}

/// What a catalog write changed, so that the node installs just that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Nothing: nothing to install, nobody to tell.
    Nothing,
    /// One item (an admin upsert): applied to the snapshot without a reload.
    Item(CatalogChange),
    /// Anything (an import): the catalog is reloaded from the store.
    Anything,
}

impl Node {
    /// Runs `write` alone among catalog writes; then installs what `changed` says it changed
    /// (one item in place, or a reload from the store within `store_timeout_ms`) and notifies
    /// followers, still under the lock. `write` is a future, so it starts only once the lock is
    /// held.
    pub async fn write_catalog<T, E: From<StoreError>>(
        &self,
        write: impl Future<Output = Result<T, E>>,
        changed: impl FnOnce(&T) -> Written,
    ) -> Result<T, E> {
        let _serial = self.catalog_writes.lock().await;
        let done = write.await?;
        match changed(&done) {
            Written::Nothing => {}
            Written::Item(change) => {
                self.install_change(change);
                self.catalog_changed();
            }
            Written::Anything => self.reload_under_lock().await?,
        }
        Ok(done)
    }

    /// Reloads the whole catalog from the store and installs it; the caller holds the lock.
    async fn reload_under_lock(&self) -> Result<(), StoreError> {
        {
            let limit = Duration::from_millis(self.config.store_timeout_ms);
            let data = tokio::time::timeout(limit, self.store.load_catalog())
                .await
                .map_err(|_| {
                    StoreError::Unavailable(format!(
                        "reloading the catalog took longer than store_timeout_ms = {}",
                        self.config.store_timeout_ms
                    ))
                })??;
            self.install_catalog(Catalog::build_reusing(data, &self.catalog()));
            self.catalog_changed();
        }
        Ok(())
    }
}
