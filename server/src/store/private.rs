//! The embedded store's directory and files are private to the node's user: the directory
//! 0700, its files 0600 (the database holds token hashes and sales; the directory also holds the
//! first start's box-office token). An existing directory or file open to others is tightened,
//! with a warning.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in it.
pub const FILE_MODE: u32 = 0o600;

/// Tightens `path` to `mode` if group or others have any access.
fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & 0o077 != 0 {
        tracing::warn!(path = %path.display(), from = format!("{current:o}"), to = format!("{mode:o}"), "store file was open to other users: tightened");
        std::fs::set_permissions(path, Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Creates `dir` (0700) or tightens it and every file in it; then makes sure the database file
/// `file` exists with mode 0600 before SQLite opens it (SQLite gives its -wal and -shm files
/// the database file's mode).
pub fn prepare(dir: &Path, file: &Path) -> io::Result<()> {
    if dir.exists() {
        tighten(dir, DIR_MODE)?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                tighten(&entry.path(), FILE_MODE)?;
            }
        }
    } else {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(file)?;
    tighten(file, FILE_MODE)
}

/// Creates `dir` and its missing parents 0700, or tightens an existing one (the notification
/// spool: `.eml` files and SMS logs hold customers' addresses and tickets).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    if dir.exists() {
        return tighten(dir, DIR_MODE);
    }
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Opens `path` for appending, created 0600 when missing.
pub fn append_private(path: &Path) -> io::Result<std::fs::File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Writes `bytes` to a new or truncated `path`, created 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_and_existing_paths_end_private() {
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = parent.path().join("data");
        let file = dir.join("db");
        prepare(&dir, &file).expect("prepare");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&file)), (DIR_MODE, FILE_MODE));
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).expect("chmod");
        prepare(&dir, &file).expect("prepare again");
        assert_eq!((mode(&dir), mode(&file)), (DIR_MODE, FILE_MODE));
    }
}
