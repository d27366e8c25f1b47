//! Layout changes of shows: refused while a show has held, sold or blocked seats (or any
//! booking), applied at once to a show nobody has touched.
//!
//! A booking names seats by their index in the screen's layout; recovery replays every booking
//! onto the layout in the store. A layout that changed under bookings would put them on other
//! seats or fail the replay, so every catalog write path checks here before it writes: admin
//! `UpsertScreen`/`UpsertShow` ([`check_screen`], [`check_show`]) and the scheduled sync
//! ([`hold_back`], which keeps such rows out of the import and flags them). After the write,
//! `Node::install_catalog` calls [`install`], which rebuilds an untouched show on its new layout.

use std::sync::Arc;

use cinebook_protocol::types::{Screen, Show, ShowId};
use cinebook_protocol::{ErrorBody, ErrorCode};

use super::{Catalog, Node, ShowSlot};
use crate::domain::{Layout, Pricing, ShowInput};
use crate::import::Plan;

/// Whether two layouts have the same seats (ids, labels, rows, categories and positions).
pub fn same_seats(a: &Layout, b: &Layout) -> bool {
    a.seats() == b.seats()
}

fn locked(node: &Node, show_id: ShowId) -> bool {
    node.show(show_id)
        .is_some_and(|slot| slot.read().layout_locked())
}

fn conflict(show_id: ShowId, what: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Conflict,
        format!("show {show_id} has held, sold or blocked seats or bookings; {what}"),
    )
}

/// An upsert of `screen` that changes its seats is refused while a show on it is locked.
pub fn check_screen(node: &Node, screen: &Screen) -> Result<(), ErrorBody> {
    let layout = Layout::new(screen)
        .map_err(|e| ErrorBody::new(ErrorCode::InvalidArgument, e.to_string()))?;
    let catalog = node.catalog();
    for show in catalog.shows.values().filter(|s| s.screen_id == screen.id) {
        let Some(slot) = node.show(show.id) else {
            continue;
        };
        let state = slot.read();
        if !same_seats(state.layout(), &layout) && state.layout_locked() {
            return Err(conflict(show.id, "the layout of its screen cannot change"));
        }
    }
    Ok(())
}

/// An upsert of `show` that moves it to another screen is refused while it is locked.
pub fn check_show(node: &Node, show: &Show) -> Result<(), ErrorBody> {
    let moved = node
        .catalog()
        .shows
        .get(&show.id)
        .is_some_and(|existing| existing.screen_id != show.screen_id);
    if moved && locked(node, show.id) {
        return Err(conflict(show.id, "it cannot move to another screen"));
    }
    Ok(())
}

/// Keeps out of an import's plan every screen and show whose change [`check_screen`] or
/// [`check_show`] refuses, and lists each in the report's `flagged` lines.
pub fn hold_back(node: &Node, plan: &mut Plan) {
    let Plan { changes, report } = plan;
    changes
        .screens
        .retain(|screen| match check_screen(node, screen) {
            Ok(()) => true,
            Err(e) => {
                report.flagged.push(format!(
                    "screen {} ({:?}): upstream changed its layout; {}; layout kept",
                    screen.id, screen.name, e.message
                ));
                report.screens.changed = report.screens.changed.saturating_sub(1);
                report.screens.unchanged += 1;
                false
            }
        });
    changes.shows.retain(|show| match check_show(node, show) {
        Ok(()) => true,
        Err(e) => {
            report.flagged.push(format!(
                "show {}: upstream moved it to screen {}; {}; not changed",
                show.id, show.screen_id, e.message
            ));
            report.shows.changed = report.shows.changed.saturating_sub(1);
            report.shows.unchanged += 1;
            false
        }
    });
}

/// Brings an existing show in line with the catalog being installed: new prices, and the new
/// layout if its seats changed and the show is untouched. A locked show keeps its layout (the
/// checks above refused that write; reaching here means a hold raced the write) and is logged.
pub fn install(
    node: &Node,
    slot: &Arc<ShowSlot>,
    catalog: &Catalog,
    show: &Show,
    pricing: Pricing,
) {
    if let Err(e) = node.apply_input(slot, ShowInput::Pricing(pricing)) {
        tracing::error!(show_id = show.id, error = %e, "new prices not applied");
    }
    let Ok(layout) = catalog.layout(show.screen_id) else {
        return;
    };
    if same_seats(slot.read().layout(), &layout) {
        return;
    }
    if let Err(e) = node.apply_input(slot, ShowInput::Relayout(layout)) {
        tracing::error!(show_id = show.id, error = %e, "layout change not applied in memory");
    }
}
