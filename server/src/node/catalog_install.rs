//! Installing one catalog change without reloading the catalog: the snapshot gets the item
//! ([`Catalog::apply`]) and only the shows it touches are created or brought in line (a new
//! show gets its slot; a show's new prices or screen, a screen's new layout reach its shows
//! through [`layout_change::install`], which keeps the layout of a show with held, sold or
//! blocked seats). The result is what a full reload would have installed; the
//! `catalog_incremental` test compares the two.
//!
//! Runs under `Node::catalog_writes` like every catalog install, so a change and the install
//! of another never interleave (docs/ARCHITECTURE.md, "Catalog at scale").

use std::sync::Arc;

use cinebook_protocol::types::{ScreenId, Show, ShowId};

use super::catalog::CatalogChange;
use super::{layout_change, Catalog, Node, ShowSlot};
use crate::domain::{Layout, Pricing, ShowState};

impl Node {
    /// A fresh slot for `show`: every seat free.
    pub(crate) fn new_slot(
        &self,
        show: &Show,
        layout: Arc<Layout>,
        pricing: Pricing,
    ) -> Arc<ShowSlot> {
        let state = ShowState::new(show.id, layout, pricing, self.config.hold);
        Arc::new(ShowSlot::new(
            state,
            self.config.push_buffer_max,
            self.backlog_events_max(),
        ))
    }

    /// Installs one upserted item: O(log n) for a city, theater, movie or show (plus a copy of
    /// the snapshot while a reader holds it), O(shows on the screen) for a screen.
    pub fn install_change(&self, change: CatalogChange) {
        let touched = match &change {
            CatalogChange::Show(show) => Touched::Show(show.id),
            CatalogChange::Screen(screen) => Touched::Screen(screen.id),
            _ => Touched::Nothing,
        };
        let catalog = {
            let mut current = self.catalog.write();
            Arc::make_mut(&mut current).apply(change);
            current.clone()
        };
        match touched {
            Touched::Nothing => {}
            Touched::Show(show_id) => self.install_show(&catalog, show_id),
            Touched::Screen(screen_id) => {
                let on_screen: Vec<ShowId> = catalog
                    .shows
                    .values()
                    .filter(|s| s.screen_id == screen_id)
                    .map(|s| s.id)
                    .collect();
                for show_id in on_screen {
                    self.install_show(&catalog, show_id);
                }
            }
        }
    }

    /// Creates or updates one show's slot as `install_catalog` does for every show.
    fn install_show(&self, catalog: &Catalog, show_id: ShowId) {
        let Some(show) = catalog.shows.get(&show_id) else {
            return;
        };
        let Ok(pricing) = Pricing::new(show) else {
            tracing::warn!(show_id, "show skipped: invalid prices");
            return;
        };
        let mut shows = self.shows.write();
        if let Some(slot) = shows.get(&show_id) {
            let slot = slot.clone();
            drop(shows);
            layout_change::install(self, &slot, catalog, show, pricing);
            return;
        }
        let Ok(layout) = catalog.layout(show.screen_id) else {
            return;
        };
        shows.insert(show_id, self.new_slot(show, layout, pricing));
    }
}

/// Which shows a change may touch.
enum Touched {
    Nothing,
    Show(ShowId),
    Screen(ScreenId),
}
