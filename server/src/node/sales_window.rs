//! The node's side of the sales window: the closing time for a caller, from the catalog's start
//! time, the caller's role and `box_office_late_min`. The comparison with the clock is the state
//! machine's ([`crate::domain::sales_close_at_ms`]).

use cinebook_protocol::types::{Role, ShowId};

use super::Node;

/// When `role`'s sales window for `show_id` closes. A show missing from the catalog snapshot
/// (removed meanwhile) is closed.
pub fn close_at_ms(node: &Node, role: Role, show_id: ShowId) -> u64 {
    node.catalog().shows.get(&show_id).map_or(0, |show| {
        crate::domain::sales_close_at_ms(show.starts_at_ms, role, node.config.box_office_late_min)
    })
}
