//! Catalog import: `cinebook-server import`, the scheduled sync (`--sync-from`), the sample
//! cinema of a first start, and seat maps from CSV. docs/IMPORT.md is the format.
//!
//! Every import follows the same rules:
//! - **All or nothing.** The document is parsed and validated completely first (a problem names
//!   its line or field), then planned against the store (references resolved through the
//!   `external_ids` mapping), then written by one [`Store::apply_catalog`] transaction.
//! - **Idempotent.** Upstream ids map to internal ids stably; a row already as upstream has it
//!   is left alone, so a second import of the same data reports "no changes".
//! - **Sold seats are never lost silently.** A show with sold seats that upstream changed or
//!   removed, and a screen layout that would change under sold seats, are held back and listed
//!   as flagged ([`Report::flagged`]) for the operator.

pub mod format;
pub mod plan;
pub mod sample;
pub mod seatmap;
pub mod source;
pub mod sync;

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub use format::{Document, Invalid};
pub use plan::{Current, Plan, Report};

use crate::store::{Store, StoreError};

/// Imports with at least this many catalog items (cities, theaters, screens, movies and shows)
/// get a progress bar on an interactive terminal.
pub const PROGRESS_MIN_ITEMS: usize = 1_000;

/// Why an import failed. Nothing was written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input is malformed or inconsistent. Transparent: printed with its causes (`{:#}`)
    /// the problems appear once, not twice.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The input could not be read or downloaded.
    #[error("cannot read the input: {0}")]
    Fetch(String),
    /// The store failed; the transaction was rolled back. (The cause is the source, not part
    /// of this message, so `{:#}` prints it once.)
    #[error("store")]
    Store(#[from] StoreError),
}

/// How to run an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Plan and report, write nothing.
    pub dry_run: bool,
    /// Show a progress bar (on stderr, only when it is a terminal) for large imports.
    pub progress: bool,
}

fn bar(items: usize, options: Options, message: &'static str) -> Option<ProgressBar> {
    if !options.progress || items < PROGRESS_MIN_ITEMS {
        return None;
    }
    let bar = ProgressBar::new(u64::try_from(items).unwrap_or(u64::MAX));
    if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    Some(bar)
}

/// Parses and validates a document (JSON bytes).
pub fn parse_document(bytes: &[u8]) -> Result<Document, Invalid> {
    format::validate(format::parse_json(bytes)?)
}

/// Imports a validated document: plans it against the store and, unless it is a dry run or
/// there is nothing to change, applies it in one transaction.
pub async fn import_document(
    store: &dyn Store,
    doc: &Document,
    options: Options,
) -> Result<Report, ImportError> {
    import_document_with(store, doc, options, |_| {}).await
}

/// [`import_document`], with `hold_back` taking rows out of the plan (and flagging them in its
/// report) just before it is applied: a running node keeps out layout changes of shows whose
/// seats are held, sold or blocked in memory (`node::layout_change::hold_back`).
pub async fn import_document_with(
    store: &dyn Store,
    doc: &Document,
    options: Options,
    hold_back: impl FnOnce(&mut Plan),
) -> Result<Report, ImportError> {
    let current = Current::load(store).await?;
    let progress = bar(doc.items(), options, "planning");
    let planned = plan::plan(doc, &current, progress.as_ref());
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    let mut planned = planned?;
    hold_back(&mut planned);
    let Plan {
        changes,
        mut report,
    } = planned;
    if options.dry_run || changes.is_empty() {
        return Ok(report);
    }
    let spinner = progress.map(|_| {
        let spinner = ProgressBar::new_spinner();
        spinner.set_message("writing in one transaction");
        spinner.enable_steady_tick(Duration::from_millis(100));
        spinner
    });
    let applied = store.apply_catalog(&changes).await;
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    applied?;
    report.applied = report.has_changes();
    Ok(report)
}

/// Reads `from` (a file path or an `http://` / `https://` URL), validates it and imports it.
pub async fn import_from(
    store: &dyn Store,
    from: &str,
    options: Options,
) -> Result<Report, ImportError> {
    let bytes = source::read(from).await?;
    let doc = parse_document(&bytes)?;
    import_document(store, &doc, options).await
}
