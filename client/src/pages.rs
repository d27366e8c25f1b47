//! Paged lists: [`Client::list_page`] asks for one page (`ListPage`); the `list_*` methods walk
//! every page and return the whole list, so a list of any length works within `frame_max_bytes`.

use cinebook_protocol::page::{Page, PageItems, PageRequest, PagedList};
use cinebook_protocol::types::{
    Booking, City, CityId, Movie, ShowFilter, ShowId, ShowSummary, Terminal, Theater,
};
use cinebook_protocol::{Reply, Request};

use crate::{Client, Error, Result};

/// Items asked for per page by the `list_*` methods (a node may send fewer).
pub const LIST_PAGE_ITEMS: u32 = 500;

/// Most pages one `list_*` call walks (`list_pages_max`): 10,000 pages of up to
/// [`LIST_PAGE_ITEMS`] items. A node that kept answering would be a bug; this bounds the walk.
pub const LIST_PAGES_MAX: usize = 10_000;

fn unexpected(request: &'static str, got: impl std::fmt::Debug) -> Error {
    Error::UnexpectedReply {
        request,
        got: format!("{got:?}"),
    }
}

macro_rules! walk {
    ($client:expr, $list:expr, $name:literal, $variant:ident) => {{
        let list = $list;
        let mut all = Vec::new();
        let mut after = None;
        for _ in 0..LIST_PAGES_MAX {
            let page = $client
                .list_page(list.clone(), after.take(), LIST_PAGE_ITEMS)
                .await?;
            match page.items {
                PageItems::$variant(items) => all.extend(items),
                other => return Err(unexpected($name, other)),
            }
            match page.next {
                None => return Ok(all),
                Some(next) => after = Some(next),
            }
        }
        Err(unexpected(
            $name,
            format!("more than list_pages_max = {LIST_PAGES_MAX} pages"),
        ))
    }};
}

impl Client {
    /// One page of a list: at most `limit` items after the cursor `after` (a previous page's
    /// `next`; `None` for the first page). `next` is `None` on the last page.
    pub async fn list_page(
        &self,
        list: PagedList,
        after: Option<String>,
        limit: u32,
    ) -> Result<Page> {
        let reply = self
            .request(Request::ListPage(PageRequest { list, after, limit }))
            .await?;
        match reply {
            Reply::Page(page) => Ok(page),
            other => Err(unexpected("list_page", other)),
        }
    }

    /// One page of the shows matching `filter`, by start time: the shows and the next cursor.
    pub async fn list_shows_page(
        &self,
        filter: ShowFilter,
        after: Option<String>,
        limit: u32,
    ) -> Result<(Vec<ShowSummary>, Option<String>)> {
        let page = self
            .list_page(PagedList::Shows(filter), after, limit)
            .await?;
        match page.items {
            PageItems::Shows(shows) => Ok((shows, page.next)),
            other => Err(unexpected("list_shows", other)),
        }
    }

    /// All cities (walking every page).
    pub async fn list_cities(&self) -> Result<Vec<City>> {
        walk!(self, PagedList::Cities, "list_cities", Cities)
    }

    /// Theaters, optionally of one city (walking every page).
    pub async fn list_theaters(&self, city_id: Option<CityId>) -> Result<Vec<Theater>> {
        walk!(
            self,
            PagedList::Theaters { city_id },
            "list_theaters",
            Theaters
        )
    }

    /// Movies, optionally only those playing in one city (walking every page).
    pub async fn list_movies(&self, city_id: Option<CityId>) -> Result<Vec<Movie>> {
        walk!(self, PagedList::Movies { city_id }, "list_movies", Movies)
    }

    /// Shows matching `filter` (`ShowFilter::default()` matches all), by start time, walking
    /// every page.
    pub async fn list_shows(&self, filter: ShowFilter) -> Result<Vec<ShowSummary>> {
        walk!(self, PagedList::Shows(filter), "list_shows", Shows)
    }

    /// Box office: every booking of a show (walking every page).
    pub async fn list_bookings(&self, show_id: ShowId) -> Result<Vec<Booking>> {
        walk!(
            self,
            PagedList::Bookings { show_id },
            "list_bookings",
            Bookings
        )
    }

    /// Admin: every terminal (walking every page).
    pub async fn list_terminals(&self) -> Result<Vec<Terminal>> {
        walk!(self, PagedList::Terminals, "list_terminals", Terminals)
    }
}
