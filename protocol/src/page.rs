//! Paged lists: `ListPage` asks for one page of a list, `Page` answers it (docs/PROTOCOL.md,
//! "Paged lists").
//!
//! A list is ordered by a key that never changes for an item (shows by `(starts_at_ms, id)`,
//! catalog items and terminals by id, bookings by `(lamport, node_id, code)`, the audit trail by
//! position). A page holds at most `limit` items (capped by the node's `list_page_max_items`, and
//! cut earlier so that its frame stays within `frame_max_bytes`) that come strictly after the
//! cursor; `next` is the cursor of its last item, `None` on the last page. Cursors are opaque
//! text: a client echoes them and never builds one. An item added or removed while a client
//! pages never shifts the others: every item present for the whole walk is listed exactly once.

use serde::{Deserialize, Serialize};

use crate::cluster::AuditEntry;
use crate::types::{
    Booking, City, CityId, Movie, ShowFilter, ShowId, ShowSummary, Terminal, Theater,
};

/// Most bytes of a cursor a node accepts (`page_cursor_max_bytes`).
pub const PAGE_CURSOR_MAX_BYTES: usize = 128;

/// Which list a `ListPage` asks for, with that list's filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PagedList {
    /// (0) Cities, by id (as `ListCities`).
    Cities,
    /// (1) Theaters, optionally of one city, by id (as `ListTheaters`).
    Theaters {
        /// City filter.
        city_id: Option<CityId>,
    },
    /// (2) Movies, optionally only those playing in one city, by id (as `ListMovies`).
    Movies {
        /// City filter.
        city_id: Option<CityId>,
    },
    /// (3) Shows matching a filter, by `(starts_at_ms, id)` (as `ListShows`).
    Shows(ShowFilter),
    /// (4) A show's bookings, by `(lamport, node_id, code)` (as `ListBookings`).
    Bookings {
        /// The show.
        show_id: ShowId,
    },
    /// (5) Admin: terminals, by id (as `ListTerminals`).
    Terminals,
    /// (6) Admin: a show's audit trail, in `(lamport, node_id)` order (as `AuditTrail`).
    AuditTrail {
        /// The show.
        show_id: ShowId,
    },
}

impl PagedList {
    /// The unpaged request's name, for authorisation, logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            PagedList::Cities => "list_cities",
            PagedList::Theaters { .. } => "list_theaters",
            PagedList::Movies { .. } => "list_movies",
            PagedList::Shows(_) => "list_shows",
            PagedList::Bookings { .. } => "list_bookings",
            PagedList::Terminals => "list_terminals",
            PagedList::AuditTrail { .. } => "audit_trail",
        }
    }
}

/// One page's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// The list.
    pub list: PagedList,
    /// The previous page's `next`; `None` for the first page.
    pub after: Option<String>,
    /// Most items wanted, at least 1; a node caps it at its `list_page_max_items`.
    pub limit: u32,
}

/// A page's items; the variant matches the request's [`PagedList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageItems {
    /// (0) Cities.
    Cities(Vec<City>),
    /// (1) Theaters.
    Theaters(Vec<Theater>),
    /// (2) Movies.
    Movies(Vec<Movie>),
    /// (3) Shows.
    Shows(Vec<ShowSummary>),
    /// (4) Bookings.
    Bookings(Vec<Booking>),
    /// (5) Terminals.
    Terminals(Vec<Terminal>),
    /// (6) Audit entries.
    AuditTrail(Vec<AuditEntry>),
}

impl PageItems {
    /// Items on the page.
    pub fn len(&self) -> usize {
        match self {
            PageItems::Cities(v) => v.len(),
            PageItems::Theaters(v) => v.len(),
            PageItems::Movies(v) => v.len(),
            PageItems::Shows(v) => v.len(),
            PageItems::Bookings(v) => v.len(),
            PageItems::Terminals(v) => v.len(),
            PageItems::AuditTrail(v) => v.len(),
        }
    }

    /// Whether the page is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The items, in the list's order.
    pub items: PageItems,
    /// The cursor for the next page; `None` when this is the last.
    pub next: Option<String>,
}

/// Bytes a frame of a page needs besides its items: the envelope, the variant tags, the item
/// count and the `next` cursor (at most [`PAGE_CURSOR_MAX_BYTES`]). A node fills a page with
/// items up to `frame_max_bytes` minus this.
pub const PAGE_FRAME_RESERVE_BYTES: usize = 512;

/// Bytes `value` takes on the wire (postcard), or `usize::MAX` if it cannot be encoded.
pub fn encoded_bytes<T: Serialize + ?Sized>(value: &T) -> usize {
    postcard::experimental::serialized_size(value).unwrap_or(usize::MAX)
}
