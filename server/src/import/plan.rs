//! The plan of an import: which rows of a validated document are new, changed, unchanged or
//! removed upstream, with internal ids resolved through the `external_ids` mapping, and which
//! changes are held back because a show already sold seats.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use cinebook_protocol::types::{BookingStatus, City, Movie, Screen, Show, ShowId, Theater};
use indicatif::ProgressBar;

use super::format::{Document, Invalid, Problems};
use crate::store::{CatalogChanges, CatalogData, ExternalId, ExternalKind, Store, StoreError};

/// What the store holds now, as far as an import needs it.
#[derive(Debug, Clone, Default)]
pub struct Current {
    /// The catalog.
    pub catalog: CatalogData,
    /// Every external id mapping.
    pub external_ids: Vec<ExternalId>,
    /// Per show: bookings of any status, and seats sold on live (confirmed or admitted) ones.
    pub sales: HashMap<ShowId, Sales>,
}

/// Bookings of one show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sales {
    /// Bookings of any status (a show with any booking is never deleted).
    pub bookings: usize,
    /// Seats of confirmed or admitted bookings.
    pub sold_seats: usize,
}

impl Current {
    /// Reads the catalog, the mapping and the bookings from the store.
    pub async fn load(store: &dyn Store) -> Result<Current, StoreError> {
        let catalog = store.load_catalog().await?;
        let external_ids = store.load_external_ids().await?;
        let mut sales: HashMap<ShowId, Sales> = HashMap::new();
        for stored in store.load_bookings().await? {
            let entry = sales.entry(stored.booking.show_id).or_default();
            entry.bookings += 1;
            if matches!(
                stored.booking.status,
                BookingStatus::Confirmed | BookingStatus::Admitted
            ) {
                entry.sold_seats += stored.booking.seats.len();
            }
        }
        Ok(Current {
            catalog,
            external_ids,
            sales,
        })
    }

    fn sales(&self, show_id: ShowId) -> Sales {
        self.sales.get(&show_id).copied().unwrap_or_default()
    }
}

/// New, changed, unchanged and removed rows of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Created.
    pub new: usize,
    /// Updated.
    pub changed: usize,
    /// Already as upstream has them.
    pub unchanged: usize,
    /// Deleted because upstream no longer has them (shows only).
    pub removed: usize,
}

impl Tally {
    fn touched(&self) -> usize {
        self.new + self.changed + self.removed
    }
}

/// What an import did or would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The upstream's name.
    pub source: String,
    /// Cities.
    pub cities: Tally,
    /// Theaters.
    pub theaters: Tally,
    /// Screens.
    pub screens: Tally,
    /// Movies.
    pub movies: Tally,
    /// Shows.
    pub shows: Tally,
    /// Changes held back for the operator: a show with sold seats that upstream changed or
    /// removed, a screen layout that would change under sold seats. Each line names the row.
    pub flagged: Vec<String>,
    /// One line per change (for `--dry-run` and the log).
    pub details: Vec<String>,
    /// Whether the changes were written (false for a dry run or when there was nothing to do).
    pub applied: bool,
}

impl Report {
    /// Whether anything would change or changed.
    pub fn has_changes(&self) -> bool {
        [
            self.cities,
            self.theaters,
            self.screens,
            self.movies,
            self.shows,
        ]
        .iter()
        .any(|t| t.touched() > 0)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "source {:?}:", self.source)?;
        for (name, t) in [
            ("cities", self.cities),
            ("theaters", self.theaters),
            ("screens", self.screens),
            ("movies", self.movies),
            ("shows", self.shows),
        ] {
            write!(
                f,
                "  {name:<9} {} new, {} changed, {} unchanged",
                t.new, t.changed, t.unchanged
            )?;
            if name == "shows" {
                write!(f, ", {} removed", t.removed)?;
            }
            writeln!(f)?;
        }
        if !self.flagged.is_empty() {
            writeln!(
                f,
                "FLAGGED for the operator ({}): held back, not applied:",
                self.flagged.len()
            )?;
            for line in &self.flagged {
                writeln!(f, "  ! {line}")?;
            }
        }
        if !self.has_changes() {
            write!(f, "no changes")
        } else if self.applied {
            write!(f, "applied in one transaction")
        } else {
            write!(f, "dry run: nothing was written")
        }
    }
}

/// The changes to apply and the report.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// For [`Store::apply_catalog`].
    pub changes: CatalogChanges,
    /// What it does.
    pub report: Report,
}

/// Local time of `ms`, for messages.
pub fn local_time(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

struct Ids<'a> {
    source: &'a str,
    mapped: HashMap<(ExternalKind, &'a str), u64>,
    next: HashMap<ExternalKind, u64>,
    created: Vec<ExternalId>,
}

impl<'a> Ids<'a> {
    fn new(source: &'a str, current: &'a Current) -> Self {
        let mut next: HashMap<ExternalKind, u64> = HashMap::new();
        let mut bump = |kind, id: u64| {
            let n = next.entry(kind).or_insert(1);
            *n = (*n).max(id.saturating_add(1));
        };
        let c = &current.catalog;
        c.cities.iter().for_each(|x| bump(ExternalKind::City, x.id));
        c.theaters
            .iter()
            .for_each(|x| bump(ExternalKind::Theater, x.id));
        c.screens
            .iter()
            .for_each(|x| bump(ExternalKind::Screen, x.id));
        c.movies
            .iter()
            .for_each(|x| bump(ExternalKind::Movie, x.id));
        c.shows.iter().for_each(|x| bump(ExternalKind::Show, x.id));
        for id in &current.external_ids {
            bump(id.kind, id.internal_id);
        }
        let mapped = current
            .external_ids
            .iter()
            .filter(|e| e.source == source)
            .map(|e| ((e.kind, e.external_id.as_str()), e.internal_id))
            .collect();
        Ids {
            source,
            mapped,
            next,
            created: Vec::new(),
        }
    }

    /// The internal id of a row of the document, allocating one for a new external id.
    fn resolve(&mut self, kind: ExternalKind, ext: &'a str) -> u64 {
        if let Some(id) = self.mapped.get(&(kind, ext)) {
            return *id;
        }
        let next = self.next.entry(kind).or_insert(1);
        let id = *next;
        *next += 1;
        self.mapped.insert((kind, ext), id);
        self.created.push(ExternalId {
            source: self.source.to_owned(),
            kind,
            external_id: ext.to_owned(),
            internal_id: id,
        });
        id
    }

    fn lookup(&self, kind: ExternalKind, ext: &str) -> Option<u64> {
        self.mapped.get(&(kind, ext)).copied()
    }
}

fn by_id<T, F: Fn(&T) -> u64>(items: &[T], id: F) -> HashMap<u64, &T> {
    items.iter().map(|x| (id(x), x)).collect()
}

/// Compares `target` with the stored row and records it in `out` and `tally`.
fn diff<T: PartialEq + Clone>(
    target: T,
    current: Option<&&T>,
    tally: &mut Tally,
    out: &mut Vec<T>,
) -> Option<bool> {
    match current {
        Some(stored) if **stored == target => {
            tally.unchanged += 1;
            None
        }
        Some(_) => {
            tally.changed += 1;
            out.push(target);
            Some(false)
        }
        None => {
            tally.new += 1;
            out.push(target);
            Some(true)
        }
    }
}

fn show_differences(old: &Show, new: &Show, catalog: &CatalogData) -> String {
    let mut parts = Vec::new();
    if old.starts_at_ms != new.starts_at_ms {
        parts.push(format!(
            "start {} -> {}",
            local_time(old.starts_at_ms),
            local_time(new.starts_at_ms)
        ));
    }
    if old.movie_id != new.movie_id {
        let title = |id| {
            catalog
                .movies
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.title.clone())
                .unwrap_or_else(|| format!("movie {id}"))
        };
        parts.push(format!(
            "movie {:?} -> {:?}",
            title(old.movie_id),
            title(new.movie_id)
        ));
    }
    if old.screen_id != new.screen_id {
        parts.push(format!("screen {} -> {}", old.screen_id, new.screen_id));
    }
    if old.currency != new.currency || old.prices != new.prices {
        parts.push("prices".to_owned());
    }
    parts.join(", ")
}

/// Plans the import of `doc` against `current`. `Err` when a reference cannot be resolved:
/// nothing is applied then either.
pub fn plan(
    doc: &Document,
    current: &Current,
    progress: Option<&ProgressBar>,
) -> Result<Plan, Invalid> {
    let mut p = Problems::default();
    let mut ids = Ids::new(&doc.source, current);
    let mut changes = CatalogChanges::default();
    let mut report = Report {
        source: doc.source.clone(),
        ..Report::default()
    };
    let catalog = &current.catalog;
    let cities = by_id(&catalog.cities, |c| c.id);
    let theaters = by_id(&catalog.theaters, |c| c.id);
    let screens = by_id(&catalog.screens, |c| c.id);
    let movies = by_id(&catalog.movies, |c| c.id);
    let shows = by_id(&catalog.shows, |c| c.id);
    let tick = || {
        if let Some(bar) = progress {
            bar.inc(1);
        }
    };

    // Internal ids of every row of the document first, so that references resolve in any order.
    for c in &doc.cities {
        ids.resolve(ExternalKind::City, &c.ext);
    }
    for t in &doc.theaters {
        ids.resolve(ExternalKind::Theater, &t.ext);
    }
    for s in &doc.screens {
        ids.resolve(ExternalKind::Screen, &s.ext);
    }
    for m in &doc.movies {
        ids.resolve(ExternalKind::Movie, &m.ext);
    }
    for s in &doc.shows {
        ids.resolve(ExternalKind::Show, &s.ext);
    }
    let in_doc = |kind: ExternalKind| -> HashSet<&str> {
        match kind {
            ExternalKind::City => doc.cities.iter().map(|x| x.ext.as_str()).collect(),
            ExternalKind::Theater => doc.theaters.iter().map(|x| x.ext.as_str()).collect(),
            ExternalKind::Screen => doc.screens.iter().map(|x| x.ext.as_str()).collect(),
            ExternalKind::Movie => doc.movies.iter().map(|x| x.ext.as_str()).collect(),
            ExternalKind::Show => doc.shows.iter().map(|x| x.ext.as_str()).collect(),
        }
    };
    let doc_cities = in_doc(ExternalKind::City);
    let doc_theaters = in_doc(ExternalKind::Theater);
    let doc_screens = in_doc(ExternalKind::Screen);
    let doc_movies = in_doc(ExternalKind::Movie);
    let doc_shows = in_doc(ExternalKind::Show);
    // A reference resolves to a row of the document, or to a row imported earlier from the same
    // source that still exists.
    let reference = |p: &mut Problems,
                     field: String,
                     kind: ExternalKind,
                     ext: &str,
                     in_doc: &HashSet<&str>,
                     exists: &dyn Fn(u64) -> bool|
     -> u64 {
        match ids.lookup(kind, ext) {
            Some(id) if in_doc.contains(ext) || exists(id) => id,
            _ => {
                p.add(format!(
                    "{field}: unknown {} {ext:?} (not in this document, and not imported \
                     earlier from source {:?})",
                    kind.name(),
                    doc.source
                ));
                0
            }
        }
    };

    let mut theater_rows = Vec::new();
    for (i, t) in doc.theaters.iter().enumerate() {
        let city_id = reference(
            &mut p,
            format!("theaters[{i}].city"),
            ExternalKind::City,
            &t.city,
            &doc_cities,
            &|id| cities.contains_key(&id),
        );
        theater_rows.push((t, city_id));
    }
    let mut screen_rows = Vec::new();
    for (i, s) in doc.screens.iter().enumerate() {
        let theater_id = reference(
            &mut p,
            format!("screens[{i}].theater"),
            ExternalKind::Theater,
            &s.theater,
            &doc_theaters,
            &|id| theaters.contains_key(&id),
        );
        screen_rows.push((s, theater_id));
    }
    let mut show_rows = Vec::new();
    for (i, s) in doc.shows.iter().enumerate() {
        let movie_id = reference(
            &mut p,
            format!("shows[{i}].movie"),
            ExternalKind::Movie,
            &s.movie,
            &doc_movies,
            &|id| movies.contains_key(&id),
        );
        let screen_id = reference(
            &mut p,
            format!("shows[{i}].screen"),
            ExternalKind::Screen,
            &s.screen,
            &doc_screens,
            &|id| screens.contains_key(&id),
        );
        show_rows.push((s, movie_id, screen_id));
    }
    let resolved: HashMap<(ExternalKind, String), u64> = ids
        .mapped
        .iter()
        .map(|((k, e), id)| ((*k, (*e).to_owned()), *id))
        .collect();
    let id_of = |kind, ext: &str| resolved.get(&(kind, ext.to_owned())).copied().unwrap_or(0);
    let created = std::mem::take(&mut ids.created);
    p.finish(())?;

    for c in &doc.cities {
        let row = City {
            id: id_of(ExternalKind::City, &c.ext),
            name: c.name.clone(),
        };
        if diff(
            row,
            cities.get(&id_of(ExternalKind::City, &c.ext)),
            &mut report.cities,
            &mut changes.cities,
        )
        .is_some()
        {
            report
                .details
                .push(format!("city {:?} {:?}", c.ext, c.name));
        }
        tick();
    }
    for (t, city_id) in theater_rows {
        let id = id_of(ExternalKind::Theater, &t.ext);
        let row = Theater {
            id,
            city_id,
            name: t.name.clone(),
        };
        if diff(
            row,
            theaters.get(&id),
            &mut report.theaters,
            &mut changes.theaters,
        )
        .is_some()
        {
            report
                .details
                .push(format!("theater {:?} {:?}", t.ext, t.name));
        }
        tick();
    }
    // Screens whose shows sold seats keep their layout.
    let mut sold_on_screen: HashMap<u64, usize> = HashMap::new();
    for show in &catalog.shows {
        *sold_on_screen.entry(show.screen_id).or_default() += current.sales(show.id).sold_seats;
    }
    for (s, theater_id) in screen_rows {
        let id = id_of(ExternalKind::Screen, &s.ext);
        let row = Screen {
            id,
            theater_id,
            name: s.name.clone(),
            seats: s.seats.clone(),
        };
        let sold = sold_on_screen.get(&id).copied().unwrap_or(0);
        match screens.get(&id) {
            Some(stored) if stored.seats != row.seats && sold > 0 => {
                report.flagged.push(format!(
                    "screen {:?} (id {id}, {:?}): upstream changed its layout, but its shows \
                     have {sold} sold seats; layout kept",
                    s.ext, s.name
                ));
                report.screens.unchanged += 1;
            }
            stored => {
                if diff(row, stored, &mut report.screens, &mut changes.screens).is_some() {
                    report.details.push(format!(
                        "screen {:?} {:?} ({} seats)",
                        s.ext,
                        s.name,
                        s.seats.len()
                    ));
                }
            }
        }
        tick();
    }
    for m in &doc.movies {
        let id = id_of(ExternalKind::Movie, &m.ext);
        let row = Movie {
            id,
            title: m.title.clone(),
            runtime_min: m.runtime_min,
            rating: m.rating.clone(),
        };
        if diff(
            row,
            movies.get(&id),
            &mut report.movies,
            &mut changes.movies,
        )
        .is_some()
        {
            report
                .details
                .push(format!("movie {:?} {:?}", m.ext, m.title));
        }
        tick();
    }
    let mut new_titles: BTreeMap<u64, String> = catalog
        .movies
        .iter()
        .map(|m| (m.id, m.title.clone()))
        .collect();
    for m in &changes.movies {
        new_titles.insert(m.id, m.title.clone());
    }
    for (s, movie_id, screen_id) in show_rows {
        let id = id_of(ExternalKind::Show, &s.ext);
        let row = Show {
            id,
            movie_id,
            screen_id,
            starts_at_ms: s.starts_at_ms,
            currency: s.currency.clone(),
            prices: s.prices.clone(),
        };
        let sales = current.sales(id);
        let title = new_titles.get(&movie_id).cloned().unwrap_or_default();
        match shows.get(&id) {
            Some(stored) if **stored != row && sales.sold_seats > 0 => {
                report.flagged.push(format!(
                    "show {:?} (id {id}, {title:?} at {}): changed upstream ({}), but it has \
                     {} sold seats; not changed",
                    s.ext,
                    local_time(stored.starts_at_ms),
                    show_differences(stored, &row, catalog),
                    sales.sold_seats
                ));
                report.shows.unchanged += 1;
            }
            stored => {
                if diff(row, stored, &mut report.shows, &mut changes.shows).is_some() {
                    report.details.push(format!(
                        "show {:?} {title:?} at {}",
                        s.ext,
                        local_time(s.starts_at_ms)
                    ));
                }
            }
        }
        tick();
    }
    // Shows this source imported earlier and no longer lists.
    for mapping in current
        .external_ids
        .iter()
        .filter(|e| e.source == doc.source && e.kind == ExternalKind::Show)
        .filter(|e| !doc_shows.contains(e.external_id.as_str()))
    {
        let id = mapping.internal_id;
        let sales = current.sales(id);
        match shows.get(&id) {
            Some(stored) if sales.bookings > 0 => {
                let title = new_titles
                    .get(&stored.movie_id)
                    .cloned()
                    .unwrap_or_default();
                report.flagged.push(format!(
                    "show {:?} (id {id}, {title:?} at {}): removed upstream, but it has {} \
                     sold seats ({} bookings); kept",
                    mapping.external_id,
                    local_time(stored.starts_at_ms),
                    sales.sold_seats,
                    sales.bookings
                ));
            }
            Some(stored) => {
                report.shows.removed += 1;
                report.details.push(format!(
                    "remove show {:?} (id {id}) at {}",
                    mapping.external_id,
                    local_time(stored.starts_at_ms)
                ));
                changes.removed_shows.push(id);
            }
            None => changes.removed_shows.push(id),
        }
    }
    // Mappings of rows that are written; a mapping whose row is held back is still recorded.
    changes.external_ids = created;
    Ok(Plan { changes, report })
}
