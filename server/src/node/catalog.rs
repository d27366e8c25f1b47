//! The in-memory catalog snapshot: every read of cities, theaters, movies, shows and layouts is
//! answered from here, never from the database. Replaced as a whole on every change.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cinebook_protocol::types::{
    City, CityId, Movie, MovieId, Screen, ScreenId, Show, ShowFilter, ShowId, Theater, TheaterId,
};

use crate::domain::{DomainError, Layout};
use crate::store::CatalogData;

/// An immutable view of the catalog.
#[derive(Debug, Default)]
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
        let mut screens = HashMap::new();
        for screen in data.screens {
            match Layout::new(&screen) {
                Ok(layout) => {
                    screens.insert(screen.id, (screen, Arc::new(layout)));
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
