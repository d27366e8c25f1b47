//! `ListPage`: one page of a list, after a cursor, at most `list_page_max_items` items and never
//! more bytes than fit a frame; and the check that makes an unpaged list too large for a frame
//! answer `PageRequired` instead of failing to encode (docs/PROTOCOL.md, "Paged lists").
//!
//! Every list is walked in the order of a key that never changes for an item, and a cursor is
//! the key of the page's last item: the next page starts strictly after it, so items added or
//! removed meanwhile never shift the others (no item present for the whole walk is skipped or
//! listed twice). Cursors are text with a one-letter list tag, opaque to clients.

use std::sync::Arc;

use cinebook_protocol::page::{
    encoded_bytes, Page, PageItems, PageRequest, PagedList, PAGE_CURSOR_MAX_BYTES,
    PAGE_FRAME_RESERVE_BYTES,
};
use cinebook_protocol::types::{Booking, ShowFilter};
use cinebook_protocol::{ErrorBody, ErrorCode, Reply};
use serde::Serialize;

use super::handlers::summary;
use super::Node;

/// A list item's sort key, written into and read back from a cursor.
trait CursorKey: Ord + Sized {
    /// The cursor's list tag.
    const TAG: char;
    fn encode(&self) -> String;
    fn decode(fields: &str) -> Option<Self>;
}

/// Catalog items and terminals: by id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ById<const TAG: char>(u64);

impl<const T: char> CursorKey for ById<T> {
    const TAG: char = T;
    fn encode(&self) -> String {
        self.0.to_string()
    }
    fn decode(fields: &str) -> Option<Self> {
        fields.parse().ok().map(ById)
    }
}

/// Shows: by start time, then id (the order `ListShows` answers in).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ShowKey(u64, u64);

impl CursorKey for ShowKey {
    const TAG: char = 's';
    fn encode(&self) -> String {
        format!("{}.{}", self.0, self.1)
    }
    fn decode(fields: &str) -> Option<Self> {
        let (at, id) = fields.split_once('.')?;
        Some(ShowKey(at.parse().ok()?, id.parse().ok()?))
    }
}

/// Bookings: by `(lamport, node_id, code)`, unique and fixed at the sale.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct BookingKey(u64, u32, String);

impl BookingKey {
    fn of(booking: &Booking) -> Self {
        BookingKey(booking.lamport, booking.node_id, booking.code.clone())
    }
}

impl CursorKey for BookingKey {
    const TAG: char = 'b';
    fn encode(&self) -> String {
        format!("{}.{}.{}", self.0, self.1, self.2)
    }
    fn decode(fields: &str) -> Option<Self> {
        let mut parts = fields.splitn(3, '.');
        let lamport = parts.next()?.parse().ok()?;
        let node_id = parts.next()?.parse().ok()?;
        Some(BookingKey(lamport, node_id, parts.next()?.to_owned()))
    }
}

/// The audit trail: by position. It only grows at its end (Lamport order), so a position
/// names the same entry for the whole walk.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Position(u64);

impl CursorKey for Position {
    const TAG: char = 'a';
    fn encode(&self) -> String {
        self.0.to_string()
    }
    fn decode(fields: &str) -> Option<Self> {
        fields.parse().ok().map(Position)
    }
}

fn invalid(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidArgument, message)
}

/// The cursor's key, if any; a cursor of another list or not made by a node is refused.
fn after<K: CursorKey>(cursor: Option<&str>) -> Result<Option<K>, ErrorBody> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let mut chars = cursor.chars();
    let key = match (chars.next(), chars.next()) {
        (Some(tag), Some(':')) if tag == K::TAG => K::decode(chars.as_str()),
        _ => None,
    };
    key.map(Some)
        .ok_or_else(|| invalid("`after` is not a cursor of this list: pass a page's `next`"))
}

/// How much one page may hold.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    items_max: usize,
    bytes_max: usize,
}

impl Bounds {
    fn of(node: &Node, limit: u32) -> Result<Self, ErrorBody> {
        if limit == 0 {
            return Err(invalid("a page's limit is at least 1 item"));
        }
        let items_max = limit.min(node.config.list_page_max_items.max(1)) as usize;
        let bytes_max = node
            .config
            .frame_max_bytes
            .saturating_sub(PAGE_FRAME_RESERVE_BYTES);
        Ok(Self {
            items_max,
            bytes_max,
        })
    }
}

/// Takes items past `after` from `keyed` (in key order) until the page is full; `next` is the
/// last item's cursor when more remain. Items are built lazily: only a page's worth (and one
/// more, to know whether more remain) is ever made.
fn fill<K: CursorKey, T: Serialize>(
    keyed: impl Iterator<Item = (K, T)>,
    bounds: Bounds,
) -> Result<(Vec<T>, Option<String>), ErrorBody> {
    let mut items = Vec::new();
    let mut bytes = 0usize;
    let mut last: Option<K> = None;
    for (key, item) in keyed {
        debug_assert!(
            last.as_ref().is_none_or(|l| *l < key),
            "list not in key order"
        );
        let size = encoded_bytes(&item);
        if items.len() == bounds.items_max || bytes.saturating_add(size) > bounds.bytes_max {
            if items.is_empty() {
                return Err(ErrorBody::new(
                    ErrorCode::Internal,
                    "a single list item is larger than frame_max_bytes",
                ));
            }
            let next = last.map(|k| format!("{}:{}", K::TAG, k.encode()));
            debug_assert!(next
                .as_ref()
                .is_none_or(|c| c.len() <= PAGE_CURSOR_MAX_BYTES));
            return Ok((items, next));
        }
        bytes += size;
        items.push(item);
        last = Some(key);
    }
    Ok((items, None))
}

/// Keeps the items strictly after the cursor.
fn past<K: Ord>(after: &Option<K>, key: &K) -> bool {
    after.as_ref().is_none_or(|a| key > a)
}

/// Answers a `ListPage`. The caller's role was checked against the list (`auth::allowed`).
pub async fn list_page(node: &Arc<Node>, request: PageRequest) -> Result<Reply, ErrorBody> {
    let bounds = Bounds::of(node, request.limit)?;
    let cursor = request.after.as_deref();
    let (items, next) = match request.list {
        PagedList::Cities => {
            let catalog = node.catalog();
            let after = after::<ById<'c'>>(cursor)?;
            let keyed = catalog.cities.range(after.as_ref().map_or(0, |a| a.0)..);
            let keyed = keyed.map(|(id, c)| (ById::<'c'>(*id), c.clone()));
            let (v, next) = fill(keyed.filter(|(k, _)| past(&after, k)), bounds)?;
            (PageItems::Cities(v), next)
        }
        PagedList::Theaters { city_id } => {
            let catalog = node.catalog();
            let after = after::<ById<'t'>>(cursor)?;
            let keyed = catalog
                .theaters
                .values()
                .filter(|t| city_id.is_none_or(|c| t.city_id == c))
                .map(|t| (ById::<'t'>(t.id), t))
                .filter(|(k, _)| past(&after, k))
                .map(|(k, t)| (k, t.clone()));
            let (v, next) = fill(keyed, bounds)?;
            (PageItems::Theaters(v), next)
        }
        PagedList::Movies { city_id } => {
            let after = after::<ById<'m'>>(cursor)?;
            let keyed = node
                .catalog()
                .movies_in(city_id)
                .into_iter()
                .map(|m| (ById::<'m'>(m.id), m))
                .filter(|(k, _)| past(&after, k));
            let (v, next) = fill(keyed, bounds)?;
            (PageItems::Movies(v), next)
        }
        PagedList::Shows(filter) => shows(node, &filter, cursor, bounds)?,
        PagedList::Bookings { show_id } => {
            let after = after::<BookingKey>(cursor)?;
            let slot = node
                .show(show_id)
                .ok_or_else(|| ErrorBody::new(ErrorCode::NotFound, "show not found"))?;
            let mut bookings: Vec<(BookingKey, Booking)> = slot
                .read()
                .bookings()
                .map(|b| (BookingKey::of(b), b))
                .filter(|(k, _)| past(&after, k))
                .map(|(k, b)| (k, b.clone()))
                .collect();
            bookings.sort_by(|a, b| a.0.cmp(&b.0));
            let (v, next) = fill(bookings.into_iter(), bounds)?;
            (PageItems::Bookings(v), next)
        }
        PagedList::Terminals => {
            let after = after::<ById<'r'>>(cursor)?;
            let mut all = node.store_call(node.store.list_terminals()).await?;
            all.sort_by_key(|t| t.id);
            let keyed = all
                .iter()
                .map(|t| (ById::<'r'>(t.id), t))
                .filter(|(k, _)| past(&after, k))
                .map(|(k, t)| (k, t.view()));
            let (v, next) = fill(keyed, bounds)?;
            (PageItems::Terminals(v), next)
        }
        PagedList::AuditTrail { show_id } => {
            let after = after::<Position>(cursor)?;
            if node.show(show_id).is_none() {
                return Err(ErrorBody::new(ErrorCode::NotFound, "show not found"));
            }
            let trail = node.store_call(node.store.audit_trail(show_id)).await?;
            let keyed = trail
                .into_iter()
                .enumerate()
                .map(|(i, e)| (Position(i as u64), e))
                .filter(|(k, _)| past(&after, k));
            let (v, next) = fill(keyed, bounds)?;
            (PageItems::AuditTrail(v), next)
        }
    };
    Ok(Reply::Page(Page { items, next }))
}

fn shows(
    node: &Node,
    filter: &ShowFilter,
    cursor: Option<&str>,
    bounds: Bounds,
) -> Result<(PageItems, Option<String>), ErrorBody> {
    let after = after::<ShowKey>(cursor)?;
    let catalog = node.catalog();
    let keyed = catalog
        .filter_shows(filter)
        .into_iter()
        .map(|s| (ShowKey(s.starts_at_ms, s.id), s.id))
        .filter(|(k, _)| past(&after, k))
        .filter_map(|(k, id)| summary(node, &catalog, id).map(|s| (k, s)));
    let (v, next) = fill(keyed, bounds)?;
    Ok((PageItems::Shows(v), next))
}

/// An unpaged list reply, or `PageRequired` when it would not fit a frame.
pub fn unpaged(node: &Node, reply: Reply) -> Result<Reply, ErrorBody> {
    let max = node
        .config
        .frame_max_bytes
        .saturating_sub(PAGE_FRAME_RESERVE_BYTES);
    if encoded_bytes(&reply) <= max {
        return Ok(reply);
    }
    let list_page_max_items = node.config.list_page_max_items;
    Err(ErrorBody::new(
        ErrorCode::PageRequired {
            list_page_max_items,
        },
        format!(
            "this list does not fit in frame_max_bytes = {}: ask for it by pages (ListPage, at \
             most list_page_max_items = {list_page_max_items} items a page)",
            node.config.frame_max_bytes
        ),
    ))
}
