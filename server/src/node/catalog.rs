//! The in-memory catalog snapshot: every read of cities, theaters, movies, shows and layouts is
//! answered from here, never from the database. A full load builds it ([`Catalog::build`], at
//! start, after an import and on a follower told of a change); an admin upsert changes one item
//! in it ([`Catalog::apply`]), in place when no reader holds the snapshot, so that writing N
//! shows costs O(N log N) in all, not O(N²) (docs/ARCHITECTURE.md, "Catalog at scale").

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cinebook_protocol::types::{
    City, CityId, Movie, MovieId, Screen, ScreenId, Show, ShowFilter, ShowId, Theater, TheaterId,
};

use crate::domain::{DomainError, Layout};
use crate::store::CatalogData;

/// One catalog item written by an admin upsert, applied to the snapshot without a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogChange {
    /// A city.
    City(City),
    /// A theater.
    Theater(Theater),
    /// A screen and its layout.
    Screen(Screen),
    /// A movie.
    Movie(Movie),
    /// A show.
    Show(Show),
}

/// A view of the catalog; readers hold an `Arc` of it, writers change a copy (or the only one).
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// Cities by id.
    pub cities: BTreeMap<CityId, City>,
    /// Theaters by id.
    pub theaters: BTreeMap<TheaterId, Theater>,
    /// Screens by id, with their layouts.
    pub screens: HashMap<ScreenId, (Screen, Arc<Layout>)>,
    /// Movies by id.
    pub movies: BTreeMap<MovieId, Movie>,
    /// Shows by id.
    pub shows: BTreeMap<ShowId, Show>,
}

impl Catalog {
    /// Builds the snapshot, checking every screen layout. A screen whose layout is invalid is
    /// skipped with a warning, and so are its shows: one bad row must not stop a node.
    pub fn build(data: CatalogData) -> Self {
        Self::build_reusing(data, &Catalog::default())
    }

    /// As [`Catalog::build`], keeping `previous`'s layout of every screen whose seats did not
    /// change: one layout per screen stays shared by all its shows across reloads.
    pub fn build_reusing(data: CatalogData, previous: &Catalog) -> Self {
        let mut screens = HashMap::new();
        for screen in data.screens {
            match Layout::new(&screen) {
                Ok(layout) => {
                    let layout = previous.shared_layout(screen.id, layout);
                    screens.insert(screen.id, (screen, layout));
                }
                Err(e) => {
                    tracing::warn!(screen_id = screen.id, error = %e, "screen skipped: invalid layout")
                }
            }
        }
        let shows = data
            .shows
            .into_iter()
            .filter(|s| {
                let ok = screens.contains_key(&s.screen_id);
                if !ok {
                    tracing::warn!(
                        show_id = s.id,
                        screen_id = s.screen_id,
                        "show skipped: unknown screen"
                    );
                }
                ok
            })
            .map(|s| (s.id, s))
            .collect();
        Self {
            cities: data.cities.into_iter().map(|c| (c.id, c)).collect(),
            theaters: data.theaters.into_iter().map(|t| (t.id, t)).collect(),
            screens,
            movies: data.movies.into_iter().map(|m| (m.id, m)).collect(),
            shows,
        }
    }

    /// `layout` as an `Arc`: this catalog's own one of `screen_id` when it has the same seats.
    fn shared_layout(&self, screen_id: ScreenId, layout: Layout) -> Arc<Layout> {
        match self.screens.get(&screen_id) {
            Some((_, old)) if old.seats() == layout.seats() => old.clone(),
            _ => Arc::new(layout),
        }
    }

    /// Applies one upserted item, as [`Catalog::build`] would have loaded it: a screen with an
    /// invalid layout and a show on an unknown screen are left out (with a warning). Returns
    /// whether the item is in the catalog now.
    pub fn apply(&mut self, change: CatalogChange) -> bool {
        match change {
            CatalogChange::City(city) => {
                self.cities.insert(city.id, city);
            }
            CatalogChange::Theater(theater) => {
                self.theaters.insert(theater.id, theater);
            }
            CatalogChange::Movie(movie) => {
                self.movies.insert(movie.id, movie);
            }
            CatalogChange::Screen(screen) => match Layout::new(&screen) {
                Ok(layout) => {
                    let layout = self.shared_layout(screen.id, layout);
                    self.screens.insert(screen.id, (screen, layout));
                }
                Err(e) => {
                    tracing::warn!(screen_id = screen.id, error = %e, "screen skipped: invalid layout");
                    return false;
                }
            },
            CatalogChange::Show(show) => {
                if !self.screens.contains_key(&show.screen_id) {
                    tracing::warn!(
                        show_id = show.id,
                        screen_id = show.screen_id,
                        "show skipped: unknown screen"
                    );
                    return false;
                }
                self.shows.insert(show.id, show);
            }
        }
        true
    }

    /// The layout of a screen.
    pub fn layout(&self, screen_id: ScreenId) -> Result<Arc<Layout>, DomainError> {
        self.screens
            .get(&screen_id)
            .map(|(_, l)| l.clone())
            .ok_or_else(|| {
                DomainError::InvalidArgument(format!("screen {screen_id} does not exist"))
            })
    }

    /// Theater of a show's screen.
    pub fn theater_of(&self, show: &Show) -> Option<&Theater> {
        let (screen, _) = self.screens.get(&show.screen_id)?;
        self.theaters.get(&screen.theater_id)
    }

    /// Shows matching a filter, by start time.
    pub fn filter_shows(&self, filter: &ShowFilter) -> Vec<&Show> {
        let mut shows: Vec<&Show> = self
            .shows
            .values()
            .filter(|s| filter.movie_id.is_none_or(|m| s.movie_id == m))
            .filter(|s| filter.from_ms.is_none_or(|t| s.starts_at_ms >= t))
            .filter(|s| filter.to_ms.is_none_or(|t| s.starts_at_ms < t))
            .filter(|s| {
                let theater = self.theater_of(s);
                filter
                    .theater_id
                    .is_none_or(|t| theater.is_some_and(|th| th.id == t))
                    && filter
                        .city_id
                        .is_none_or(|c| theater.is_some_and(|th| th.city_id == c))
            })
            .collect();
        shows.sort_by_key(|s| (s.starts_at_ms, s.id));
        shows
    }

    /// Movies with a show in a city (all movies without a city).
    pub fn movies_in(&self, city_id: Option<CityId>) -> Vec<Movie> {
        match city_id {
            None => self.movies.values().cloned().collect(),
            Some(city) => {
                let filter = ShowFilter {
                    city_id: Some(city),
                    ..ShowFilter::default()
                };
                let playing: std::collections::BTreeSet<MovieId> = self
                    .filter_shows(&filter)
                    .iter()
                    .map(|s| s.movie_id)
                    .collect();
                playing
                    .iter()
                    .filter_map(|id| self.movies.get(id).cloned())
                    .collect()
            }
        }
    }
}
