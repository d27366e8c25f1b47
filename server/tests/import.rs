//! `cinebook-server import` over the embedded store: from files, from a local HTTP server on
//! 127.0.0.1 port 0, seat maps from CSV, the sample cinema of a first start, the scheduled sync
//! of a running node, and the binary's command line.

mod import_support;

use std::process::Command;
use std::sync::Arc;

use cinebook_protocol::types::{Category, PaymentMethod, ShowId};
use cinebook_server::import::{self, sample, seatmap, sync, ImportError, Options, Report};
use cinebook_server::store::sqlite::{SqliteLimits, SqliteStore};
use cinebook_server::store::{ExternalKind, SaleOutcome, Store};
use cinebook_server::testing::sample_sale;
use cinebook_server::{Config, Server};
use import_support::{fixture, fixture_path, Fixtures};

async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open_dir(dir.path(), SqliteLimits::default())
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    (dir, store)
}

async fn import_file(
    store: &SqliteStore,
    name: &str,
    dry_run: bool,
) -> Result<Report, ImportError> {
    let options = Options {
        dry_run,
        progress: false,
    };
    import::import_from(store, &fixture_path(name), options).await
}

async fn show_id(store: &SqliteStore, ext: &str) -> ShowId {
    store
        .load_external_ids()
        .await
        .expect("ids")
        .into_iter()
        .find(|e| e.kind == ExternalKind::Show && e.external_id == ext)
        .unwrap_or_else(|| panic!("show {ext} is not mapped"))
        .internal_id
}

/// Sells seat `seat` of show `show` (a store-level sale, as the node's writer would commit it).
async fn sell(store: &SqliteStore, code: &str, show: ShowId, seat: u32) {
    let mut sale = sample_sale(code, 1, &[seat], PaymentMethod::Cash, 1_000);
    sale.booking.show_id = show;
    assert_eq!(
        store.commit_sales(&[sale]).await,
        vec![SaleOutcome::Committed]
    );
}

#[tokio::test]
async fn a_second_import_changes_nothing() {
    let (_dir, store) = fresh().await;
    let first = import_file(&store, "catalog-v1.json", false)
        .await
        .expect("first");
    assert!(first.applied);
    assert_eq!(
        (
            first.cities.new,
            first.theaters.new,
            first.screens.new,
            first.movies.new,
            first.shows.new
        ),
        (1, 1, 1, 2, 3)
    );
    let catalog = store.load_catalog().await.expect("catalog");
    assert_eq!(catalog.screens[0].seats.len(), 22);
    assert_eq!(catalog.screens[0].seats[0].category, Category::Wheelchair);
    let ids = store.load_external_ids().await.expect("ids");

    let second = import_file(&store, "catalog-v1.json", false)
        .await
        .expect("second");
    assert!(!second.has_changes());
    assert!(!second.applied);
    assert_eq!(second.shows.unchanged, 3);
    assert!(second.to_string().ends_with("no changes"), "{second}");
    assert_eq!(store.load_catalog().await.expect("catalog"), catalog);
    assert_eq!(
        store.load_external_ids().await.expect("ids"),
        ids,
        "ids are stable"
    );
}

#[tokio::test]
async fn malformed_input_names_its_line_and_writes_nothing() {
    let (_dir, store) = fresh().await;
    let error = import_file(&store, "malformed.json", false)
        .await
        .expect_err("malformed");
    let text = error.to_string();
    assert!(text.contains("line 7 "), "{text}");
    assert!(text.contains("nothing was changed"), "{text}");
    assert!(store
        .load_catalog()
        .await
        .expect("catalog")
        .cities
        .is_empty());
}

#[tokio::test]
async fn a_dangling_reference_rejects_the_whole_document() {
    let (_dir, store) = fresh().await;
    let error = import_file(&store, "dangling.json", false)
        .await
        .expect_err("dangling");
    assert!(
        error
            .to_string()
            .contains("shows[0].screen: unknown screen \"sc-missing\""),
        "{error}"
    );
    // The city, theater and movie of the same document were not written either.
    let catalog = store.load_catalog().await.expect("catalog");
    assert!(catalog.cities.is_empty() && catalog.movies.is_empty());
    assert!(store.load_external_ids().await.expect("ids").is_empty());
}

#[tokio::test]
async fn a_dry_run_reports_and_writes_nothing() {
    let (_dir, store) = fresh().await;
    let report = import_file(&store, "catalog-v1.json", true)
        .await
        .expect("dry run");
    assert!(report.has_changes() && !report.applied);
    assert_eq!(report.shows.new, 3);
    assert!(report
        .details
        .iter()
        .any(|d| d.contains("\"Harbour Lights\"")));
    assert!(report.to_string().ends_with("dry run: nothing was written"));
    assert!(store
        .load_catalog()
        .await
        .expect("catalog")
        .shows
        .is_empty());
}

#[tokio::test]
async fn upstream_changes_apply_to_shows_without_sales() {
    let (_dir, store) = fresh().await;
    import_file(&store, "catalog-v1.json", false)
        .await
        .expect("v1");
    let s2 = show_id(&store, "s-2").await;
    let report = import_file(&store, "catalog-v2.json", false)
        .await
        .expect("v2");
    assert!(report.flagged.is_empty(), "{report}");
    assert_eq!(
        (
            report.shows.new,
            report.shows.changed,
            report.shows.unchanged,
            report.shows.removed
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(report.movies.changed, 1);
    let catalog = store.load_catalog().await.expect("catalog");
    assert!(catalog.shows.iter().all(|s| s.id != s2), "s-2 removed");
    assert_eq!(catalog.shows.len(), 3);
    assert_eq!(catalog.movies[0].title, "Harbour Lights (Director's Cut)");
    let again = import_file(&store, "catalog-v2.json", false)
        .await
        .expect("v2 again");
    assert!(!again.has_changes(), "{again}");
}

#[tokio::test]
async fn shows_with_sold_seats_are_flagged_not_changed_or_deleted() {
    let (_dir, store) = fresh().await;
    import_file(&store, "catalog-v1.json", false)
        .await
        .expect("v1");
    let (s1, s2) = (show_id(&store, "s-1").await, show_id(&store, "s-2").await);
    let before = store.load_catalog().await.expect("catalog");
    sell(&store, "SOLD1", s1, 3).await;
    sell(&store, "SOLD2", s2, 4).await;

    let report = import_file(&store, "catalog-v2.json", false)
        .await
        .expect("v2");
    assert_eq!(report.flagged.len(), 2, "{report}");
    assert!(
        report.flagged.iter().any(|f| f.contains("\"s-1\"")
            && f.contains("changed upstream")
            && f.contains("1 sold seats")),
        "{report}"
    );
    assert!(
        report
            .flagged
            .iter()
            .any(|f| f.contains("\"s-2\"") && f.contains("removed upstream") && f.contains("kept")),
        "{report}"
    );
    assert!(report.to_string().contains("FLAGGED"), "{report}");
    // The other changes went through: s-4 is new, the movie was renamed.
    assert_eq!((report.shows.new, report.shows.removed), (1, 0));
    let after = store.load_catalog().await.expect("catalog");
    let find =
        |c: &cinebook_server::store::CatalogData, id| c.shows.iter().find(|s| s.id == id).cloned();
    assert_eq!(find(&after, s1), find(&before, s1), "s-1 keeps its time");
    assert!(find(&after, s2).is_some(), "s-2 kept");
    // Flagged again on the next sync, and nothing else to do.
    let again = import_file(&store, "catalog-v2.json", false)
        .await
        .expect("again");
    assert_eq!(again.flagged.len(), 2);
    assert!(!again.has_changes());
}

#[tokio::test]
async fn documents_are_fetched_over_http() {
    let (_dir, store) = fresh().await;
    let http = Fixtures::start();
    http.serve("/v1/catalog.json", fixture("catalog-v1.json"));
    let options = Options::default();
    let report = import::import_from(&store, &http.url("/v1/catalog.json"), options)
        .await
        .expect("http import");
    assert_eq!(report.shows.new, 3);
    assert_eq!(http.hits(), vec!["/v1/catalog.json"]);
    match import::import_from(&store, &http.url("/missing.json"), options).await {
        Err(ImportError::Fetch(message)) => assert!(message.contains("404"), "{message}"),
        other => panic!("a 404: expected Fetch, got {other:?}"),
    }
}

#[tokio::test]
async fn a_running_node_serves_a_synced_catalog_without_restart() {
    let (_dir, store) = fresh().await;
    let store: Arc<dyn Store> = Arc::new(store);
    let http = Fixtures::start();
    http.serve("/catalog.json", fixture("catalog-v1.json"));
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        workers: 1,
        ..Config::default()
    };
    let server = Server::bind(config, store.clone()).await.expect("node");
    let node = server.node();
    assert!(node.catalog().shows.is_empty());

    let first = sync::sync_once(&node, &http.url("/catalog.json"))
        .await
        .expect("sync v1");
    assert!(first.applied);
    assert_eq!(node.catalog().shows.len(), 3);
    assert!(node
        .catalog()
        .movies
        .values()
        .any(|m| m.title == "Harbour Lights"));

    http.serve("/catalog.json", fixture("catalog-v2.json"));
    let second = sync::sync_once(&node, &http.url("/catalog.json"))
        .await
        .expect("sync v2");
    assert!(second.applied);
    let catalog = node.catalog();
    assert!(catalog
        .movies
        .values()
        .any(|m| m.title == "Harbour Lights (Director's Cut)"));
    assert_eq!(catalog.shows.len(), 3);
    let s4 = catalog
        .shows
        .values()
        .find(|s| s.prices.iter().any(|p| p.amount_minor == 1600))
        .expect("s-4 is served");
    assert!(
        node.show(s4.id).is_some(),
        "a seat map exists for the new show"
    );

    let third = sync::sync_once(&node, &http.url("/catalog.json"))
        .await
        .expect("sync again");
    assert!(!third.applied && !third.has_changes());

    // The scheduled task syncs at once and then on its interval; it stops with the node.
    http.serve("/catalog.json", fixture("catalog-v1.json"));
    let task = sync::spawn(
        node.clone(),
        http.url("/catalog.json"),
        std::time::Duration::from_secs(3600),
    );
    for _ in 0..100 {
        if node
            .catalog()
            .movies
            .values()
            .any(|m| m.title == "Harbour Lights")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(node
        .catalog()
        .movies
        .values()
        .any(|m| m.title == "Harbour Lights"));
    node.shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("the sync task stops on shutdown")
        .expect("no panic");
}

#[tokio::test]
async fn seat_maps_come_from_csv() {
    let (_dir, store) = fresh().await;
    import_file(&store, "catalog-v1.json", false)
        .await
        .expect("v1");
    let screen = store.load_catalog().await.expect("catalog").screens[0].id;
    let seats = seatmap::parse(&fixture("seatmap.csv")).expect("csv");
    assert_eq!(seats.len(), 16);
    let dry = seatmap::import_seatmap(&store, screen, seats.clone(), true)
        .await
        .expect("dry");
    assert_eq!(
        dry,
        seatmap::SeatmapOutcome::Replaced {
            before: 22,
            after: 16,
            applied: false
        }
    );
    assert_eq!(
        store.load_catalog().await.expect("catalog").screens[0]
            .seats
            .len(),
        22
    );
    let done = seatmap::import_seatmap(&store, screen, seats.clone(), false)
        .await
        .expect("apply");
    assert_eq!(
        done,
        seatmap::SeatmapOutcome::Replaced {
            before: 22,
            after: 16,
            applied: true
        }
    );
    let again = seatmap::import_seatmap(&store, screen, seats.clone(), false)
        .await
        .expect("again");
    assert_eq!(again, seatmap::SeatmapOutcome::Unchanged);
    assert_eq!(
        store.load_catalog().await.expect("catalog").screens[0].seats,
        seats
    );

    // Under sold seats the layout does not change.
    sell(&store, "CSV1", show_id(&store, "s-3").await, 5).await;
    let mut other = seats.clone();
    other.truncate(10);
    let refused = seatmap::import_seatmap(&store, screen, other, false)
        .await
        .expect_err("sold seats");
    assert!(refused.to_string().contains("sold seats"), "{refused}");
    assert_eq!(
        store.load_catalog().await.expect("catalog").screens[0].seats,
        seats
    );
    let unknown = seatmap::import_seatmap(&store, 999, seats, false)
        .await
        .expect_err("no screen");
    assert!(unknown.to_string().contains("--screen 999"), "{unknown}");
}

#[tokio::test]
async fn a_first_start_loads_the_sample_once() {
    let (dir, store) = fresh().await;
    let first = sample::first_run(&store, dir.path())
        .await
        .expect("first run")
        .expect("the store was empty");
    assert_eq!(first.report.screens.new, 5);
    assert_eq!(first.report.shows.new, 105);
    let token = std::fs::read_to_string(&first.token_file).expect("token file");
    let terminal = store
        .terminal_by_token(&cinebook_server::node::auth::token_sha256(token.trim()))
        .await
        .expect("lookup")
        .expect("the token authenticates");
    assert_eq!(terminal.role, cinebook_protocol::types::Role::BoxOffice);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&first.token_file)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let web_token = std::fs::read_to_string(&first.web_token_file).expect("web token file");
    assert_eq!(
        first.web_token_file,
        dir.path().join(sample::WEB_TOKEN_FILE)
    );
    let web = store
        .terminal_by_token(&cinebook_server::node::auth::token_sha256(web_token.trim()))
        .await
        .expect("lookup")
        .expect("the web token authenticates");
    assert_eq!(web.role, cinebook_protocol::types::Role::Web);
    assert!(sample::first_run(&store, dir.path())
        .await
        .expect("second")
        .is_none());
    assert_eq!(store.list_terminals().await.expect("terminals").len(), 2);
}

fn server_binary(args: &[&str], data_dir: &std::path::Path) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cinebook-server"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("CINEBOOK_DATABASE")
        .env("CINEBOOK_LOG", "warn")
        .output()
        .expect("run cinebook-server");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_import_command_line() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let v1 = fixture_path("catalog-v1.json");
    let (ok, out, err) = server_binary(&["import", "--from", &v1, "--dry-run"], dir.path());
    assert!(ok, "{out}{err}");
    assert!(out.contains("would write show \"s-1\""), "{out}");
    assert!(out.contains("dry run: nothing was written"), "{out}");
    let (ok, out, err) = server_binary(&["import", "--from", &v1], dir.path());
    assert!(ok, "{out}{err}");
    assert!(out.contains("shows     3 new"), "{out}");
    let (ok, out, _) = server_binary(&["import", "--from", &v1], dir.path());
    assert!(ok);
    assert!(out.trim_end().ends_with("no changes"), "{out}");
    let bad = fixture_path("malformed.json");
    let (ok, _, err) = server_binary(&["import", "--from", &bad], dir.path());
    assert!(!ok);
    assert!(err.contains("line 7"), "{err}");
    let csv = fixture_path("seatmap.csv");
    let (ok, out, err) = server_binary(&["import", "--seatmap", &csv, "--screen", "1"], dir.path());
    assert!(ok, "{out}{err}");
    assert!(out.contains("22 seats -> 16 seats"), "{out}");
    let (ok, _, err) = server_binary(&["import", "--seatmap", &csv], dir.path());
    assert!(!ok, "--seatmap needs --screen");
    assert!(err.contains("--screen"), "{err}");
}

/// catalog-v1.json with screen sc-1's first row one seat shorter.
fn v1_with_a_shorter_row() -> Vec<u8> {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&fixture("catalog-v1.json")).expect("fixture json");
    let seats = &mut doc["screens"][0]["rows"][0]["seats"];
    let n = seats.as_u64().expect("seats");
    *seats = serde_json::json!(n - 1);
    serde_json::to_vec(&doc).expect("json")
}

#[tokio::test]
async fn a_sync_never_changes_the_layout_under_a_blocked_seat_and_tells_followers() {
    use cinebook_server::domain::{Command, ShowInput};
    let (_dir, store) = fresh().await;
    let store: Arc<dyn Store> = Arc::new(store);
    let http = Fixtures::start();
    http.serve("/catalog.json", fixture("catalog-v1.json"));
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        workers: 1,
        ..Config::default()
    };
    let server = Server::bind(config, store.clone()).await.expect("node");
    let node = server.node();
    sync::sync_once(&node, &http.url("/catalog.json"))
        .await
        .expect("sync v1");
    let s1 = show_id_on(&node, "s-1").await;
    let seats = node.show(s1).expect("slot").read().layout().len();
    node.submit(
        node.show(s1).expect("slot"),
        ShowInput::Command(Command::Block {
            seats: vec![3],
            blocked: true,
        }),
    )
    .await
    .expect("queued")
    .expect("block");
    let mut changes = node.replication_subscribe();
    http.serve("/catalog.json", v1_with_a_shorter_row());
    let report = sync::sync_once(&node, &http.url("/catalog.json"))
        .await
        .expect("sync with a blocked seat");
    assert!(
        report.flagged.iter().any(|l| l.contains("layout kept")),
        "{report}"
    );
    let stored = store.load_catalog().await.expect("catalog");
    assert_eq!(
        stored.screens[0].seats.len(),
        seats,
        "the store kept the layout"
    );
    assert_eq!(node.show(s1).expect("slot").read().layout().len(), seats);

    // Unblocked, nobody has touched the screen's shows: the sync applies it, memory included,
    // and followers are told.
    node.submit(
        node.show(s1).expect("slot"),
        ShowInput::Command(Command::Block {
            seats: vec![3],
            blocked: false,
        }),
    )
    .await
    .expect("queued")
    .expect("unblock");
    let report = sync::sync_once(&node, &http.url("/catalog.json"))
        .await
        .expect("sync, untouched");
    assert!(report.applied && report.flagged.is_empty(), "{report}");
    assert_eq!(
        node.show(s1).expect("slot").read().layout().len(),
        seats - 1
    );
    let told = tokio::time::timeout(std::time::Duration::from_secs(1), changes.recv()).await;
    assert!(
        matches!(
            told.as_ref().map(|r| r.as_ref().map(|item| &**item)),
            Ok(Ok(
                cinebook_server::cluster::replication::ReplicationItem::CatalogChanged
            ))
        ),
        "followers get CatalogChanged: {told:?}"
    );
}

async fn show_id_on(node: &cinebook_server::node::Node, ext: &str) -> ShowId {
    node.store
        .load_external_ids()
        .await
        .expect("ids")
        .into_iter()
        .find(|e| e.kind == ExternalKind::Show && e.external_id == ext)
        .unwrap_or_else(|| panic!("show {ext} is not mapped"))
        .internal_id
}

/// `import --dry-run` writes nothing: not the data directory, not a file in an existing one;
/// a failure is printed once, without a backtrace or Rust's `Error:` form.
#[test]
fn a_dry_run_on_the_command_line_creates_nothing_and_errors_print_once() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("never-created");
    let v1 = fixture_path("catalog-v1.json");
    let (ok, out, err) = server_binary(&["import", "--from", &v1, "--dry-run"], &data);
    assert!(ok, "{out}{err}");
    assert!(out.contains("dry run: nothing was written"), "{out}");
    assert!(!data.exists(), "the dry run created {}", data.display());

    // On an existing store: the files stay byte for byte as they were.
    let (ok, out, err) = server_binary(&["import", "--from", &v1], &data);
    assert!(ok, "{out}{err}");
    let db = data.join(cinebook_server::store::sqlite::DATABASE_FILE);
    let before = std::fs::read(&db).expect("store file");
    let listing = |d: &std::path::Path| {
        let mut names: Vec<_> = std::fs::read_dir(d)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        names
    };
    let files_before = listing(&data);
    let v2 = fixture_path("catalog-v2.json");
    let (ok, out, err) = server_binary(&["import", "--from", &v2, "--dry-run"], &data);
    assert!(ok, "{out}{err}");
    assert_eq!(std::fs::read(&db).expect("store file"), before);
    assert_eq!(listing(&data), files_before);

    let bad = fixture_path("malformed.json");
    let (ok, _, err) = server_binary(&["import", "--from", &bad], &data);
    assert!(!ok);
    assert_eq!(err.matches("line 7").count(), 1, "printed once: {err}");
    assert!(err.starts_with("cinebook-server: "), "{err}");
    assert!(
        !err.contains("Error:") && !err.contains("backtrace"),
        "{err}"
    );
}
