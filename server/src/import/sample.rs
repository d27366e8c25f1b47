//! The sample cinema of a first start: `deploy/sample-cinema.json`, embedded in the binary so
//! that the server finds it from any directory. The file is an import document (docs/IMPORT.md)
//! whose shows are not listed but generated from a per-day `schedule`, relative to the day the
//! store is first started: `days` days from today, each screen playing its `times`, its
//! `movies` in rotation.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Duration as Days, Local, NaiveDate, NaiveTime, TimeZone};
use cinebook_protocol::types::Role;
use serde::Deserialize;

use super::format::{
    parse_json, validate, Document, Invalid, RawCity, RawDocument, RawMovie, RawScreen, RawShow,
    RawTheater,
};
use super::{import_document, ImportError, Options, Report};
use crate::node::auth;
use crate::store::Store;

/// The sample catalog as shipped (`deploy/sample-cinema.json`).
pub const SAMPLE_JSON: &str = include_str!("../../../deploy/sample-cinema.json");

/// Most days a schedule may span.
pub const SCHEDULE_DAYS_MAX: u16 = 62;

/// The token file written on a first start, inside the data directory.
pub const TOKEN_FILE: &str = "box-office.token";

/// Name of the box-office terminal created on a first start.
pub const TERMINAL_NAME: &str = "box-office-1";

/// The web terminal's token file written on a first start, inside the data directory; where
/// `cinebook-web` looks for its token by default.
pub const WEB_TOKEN_FILE: &str = "web.token";

/// Name of the web terminal (role `web`) created on a first start.
pub const WEB_TERMINAL_NAME: &str = "web-1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSample {
    version: u32,
    source: String,
    cities: Vec<RawCity>,
    theaters: Vec<RawTheater>,
    screens: Vec<RawScreen>,
    movies: Vec<RawMovie>,
    schedule: RawSchedule,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    days: u16,
    screens: Vec<ScreenSchedule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScreenSchedule {
    screen: String,
    currency: String,
    prices: BTreeMap<String, i64>,
    times: Vec<String>,
    movies: Vec<String>,
}

/// The sample (or any document in its format) with shows for `days` days from `today`, at the
/// local times of this machine's time zone.
pub fn schedule_document(json: &str, today: NaiveDate) -> Result<Document, Invalid> {
    let raw: RawSample = parse_json(json.as_bytes())?;
    let mut problems = Vec::new();
    if raw.schedule.days == 0 || raw.schedule.days > SCHEDULE_DAYS_MAX {
        problems.push(format!(
            "schedule.days: {} is not between 1 and {SCHEDULE_DAYS_MAX}",
            raw.schedule.days
        ));
    }
    let mut shows = Vec::new();
    for (i, screen) in raw.schedule.screens.iter().enumerate() {
        if screen.movies.is_empty() {
            problems.push(format!("schedule.screens[{i}].movies: must not be empty"));
            continue;
        }
        let mut times = Vec::new();
        for (j, time) in screen.times.iter().enumerate() {
            match NaiveTime::parse_from_str(time, "%H:%M") {
                Ok(t) => times.push(t),
                Err(e) => problems.push(format!(
                    "schedule.screens[{i}].times[{j}]: {time:?} is not a time like 20:15 ({e})"
                )),
            }
        }
        for day in 0..raw.schedule.days.min(SCHEDULE_DAYS_MAX) {
            let date = today + Days::days(i64::from(day));
            for (slot, time) in times.iter().enumerate() {
                // A local time that does not exist (a DST gap) is skipped.
                let Some(start) = Local.from_local_datetime(&date.and_time(*time)).earliest()
                else {
                    continue;
                };
                let movie = &screen.movies[(usize::from(day) + slot) % screen.movies.len()];
                shows.push(RawShow {
                    id: format!("{}-{}-{}", screen.screen, date, time.format("%H%M")),
                    movie: movie.clone(),
                    screen: screen.screen.clone(),
                    starts_at: start.to_rfc3339(),
                    currency: screen.currency.clone(),
                    prices: screen.prices.clone(),
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(Invalid(problems));
    }
    validate(RawDocument {
        version: raw.version,
        source: raw.source,
        cities: raw.cities,
        theaters: raw.theaters,
        screens: raw.screens,
        movies: raw.movies,
        shows,
    })
}

/// What a first start set up.
#[derive(Debug, Clone)]
pub struct FirstRun {
    /// The import of the sample.
    pub report: Report,
    /// The box-office terminal's id.
    pub terminal_id: u64,
    /// Where its token was written (mode 0600).
    pub token_file: PathBuf,
    /// Where the web terminal's token was written (mode 0600).
    pub web_token_file: PathBuf,
}

/// Whether the store has no catalog and no terminals: a first start.
pub async fn store_is_empty(store: &dyn Store) -> Result<bool, ImportError> {
    let catalog = store.load_catalog().await?;
    let empty_catalog = catalog.cities.is_empty()
        && catalog.theaters.is_empty()
        && catalog.screens.is_empty()
        && catalog.movies.is_empty()
        && catalog.shows.is_empty();
    Ok(empty_catalog && store.list_terminals().await?.is_empty())
}

/// On an empty store: loads the sample cinema with a week of shows from today, creates a
/// box-office terminal and writes its token to `data_dir/box-office.token` (mode 0600).
/// Returns `None` (and changes nothing) when the store is not empty.
pub async fn first_run(
    store: &dyn Store,
    data_dir: &Path,
) -> Result<Option<FirstRun>, ImportError> {
    if !store_is_empty(store).await? {
        return Ok(None);
    }
    let doc = schedule_document(SAMPLE_JSON, Local::now().date_naive())?;
    let report = import_document(store, &doc, Options::default()).await?;
    let token = auth::new_token();
    let terminal_id = store
        .add_terminal(TERMINAL_NAME, Role::BoxOffice, &auth::token_sha256(&token))
        .await?;
    let token_file = data_dir.join(TOKEN_FILE);
    write_secret(&token_file, &token)
        .map_err(|e| ImportError::Fetch(format!("writing {}: {e}", token_file.display())))?;
    let web_token = auth::new_token();
    store
        .add_terminal(
            WEB_TERMINAL_NAME,
            Role::Web,
            &auth::token_sha256(&web_token),
        )
        .await?;
    let web_token_file = data_dir.join(WEB_TOKEN_FILE);
    write_secret(&web_token_file, &web_token)
        .map_err(|e| ImportError::Fetch(format!("writing {}: {e}", web_token_file.display())))?;
    Ok(Some(FirstRun {
        report,
        terminal_id,
        token_file,
        web_token_file,
    }))
}

/// Writes `secret` and a newline to `path`, readable and writable by the owner only.
pub fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: make sure.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(file, "{secret}")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use cinebook_protocol::types::Category;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).expect("date")
    }

    #[test]
    fn the_sample_is_a_realistic_cinema() {
        let doc = schedule_document(SAMPLE_JSON, today()).expect("the sample validates");
        assert_eq!(doc.cities.len(), 2);
        assert_eq!(doc.theaters.len(), 3);
        assert_eq!(doc.screens.len(), 5);
        assert_eq!(doc.movies.len(), 6);
        for screen in &doc.screens {
            let mut lengths = BTreeSet::new();
            let mut rows: BTreeMap<&str, usize> = BTreeMap::new();
            for seat in &screen.seats {
                *rows.entry(seat.row.as_str()).or_default() += 1;
            }
            lengths.extend(rows.values().copied());
            assert!(
                lengths.len() > 1,
                "{}: rows of different lengths",
                screen.ext
            );
            let categories: HashSet<Category> = screen.seats.iter().map(|s| s.category).collect();
            assert!(categories.contains(&Category::Wheelchair), "{}", screen.ext);
            assert!(categories.contains(&Category::Companion), "{}", screen.ext);
        }
        let all: HashSet<Category> = doc
            .screens
            .iter()
            .flat_map(|s| s.seats.iter().map(|x| x.category))
            .collect();
        assert!(all.contains(&Category::Premium) && all.contains(&Category::Recliner));
        // 3 + 3 + 4 + 2 + 3 shows a day for a week.
        assert_eq!(doc.shows.len(), 15 * 7);
        let days: BTreeSet<String> = doc
            .shows
            .iter()
            .filter_map(|s| {
                s.ext
                    .get(s.ext.len() - 15..s.ext.len() - 5)
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(days.len(), 7, "{days:?}");
        assert!(doc.shows.iter().all(|s| !s.prices.is_empty()));
        let movies: HashSet<&str> = doc.shows.iter().map(|s| s.movie.as_str()).collect();
        assert_eq!(movies.len(), 6, "every movie plays");
    }

    #[test]
    fn the_schedule_is_relative_to_today() {
        let a = schedule_document(SAMPLE_JSON, today()).expect("a");
        let b = schedule_document(SAMPLE_JSON, today() + Days::days(1)).expect("b");
        let first = |d: &Document| d.shows.iter().map(|s| s.starts_at_ms).min().unwrap_or(0);
        let shift = first(&b) - first(&a);
        // One day later, give or take a DST change.
        assert!((82_800_000..=90_000_000).contains(&shift), "{shift}");
    }

    #[test]
    fn a_bad_schedule_time_is_named() {
        let broken = SAMPLE_JSON.replacen("\"14:00\"", "\"2pm\"", 1);
        let error = schedule_document(&broken, today()).expect_err("bad time");
        assert!(
            error.to_string().contains("schedule.screens[0].times[0]"),
            "{error}"
        );
    }

    #[test]
    fn secrets_are_written_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("t.token");
        write_secret(&path, "abc").expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "abc\n");
    }
}
