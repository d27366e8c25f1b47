//! [`ScratchCopy`]: a private copy of an embedded store for a dry run, so that
//! `import --dry-run` writes nothing where the real store lives: no directory, no file, no
//! migration, no permission change.

use std::path::{Path, PathBuf};

use super::sqlite::DATABASE_FILE;

/// The files of an embedded store (the database and its write-ahead log).
const STORE_FILE_SUFFIXES: [&str; 2] = ["", "-wal"];

/// A temporary directory holding a copy of the store in `data_dir` (or nothing, if there is no
/// store there yet). Removed when dropped.
#[derive(Debug)]
pub struct ScratchCopy {
    dir: PathBuf,
}

impl ScratchCopy {
    /// Copies the store files of `data_dir`, if any, into a new directory under the system's
    /// temporary directory. `data_dir` is only read.
    pub fn of(data_dir: &Path) -> std::io::Result<ScratchCopy> {
        let dir = std::env::temp_dir().join(format!(
            "cinebook-dry-run-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir(&dir)?;
        let copy = ScratchCopy { dir };
        for suffix in STORE_FILE_SUFFIXES {
            let name = format!("{DATABASE_FILE}{suffix}");
            let source = data_dir.join(&name);
            if source.is_file() {
                std::fs::copy(&source, copy.dir.join(&name))?;
            }
        }
        Ok(copy)
    }

    /// The directory to open the copy from.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for ScratchCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_store_files_only_and_cleans_up() {
        let data =
            std::env::temp_dir().join(format!("cinebook-scratch-test-{}", std::process::id()));
        std::fs::create_dir_all(&data).expect("data dir");
        std::fs::write(data.join(DATABASE_FILE), b"db").expect("db");
        std::fs::write(data.join("box-office.token"), b"secret").expect("token");
        let copy = ScratchCopy::of(&data).expect("copy");
        assert_eq!(
            std::fs::read(copy.path().join(DATABASE_FILE)).expect("copied"),
            b"db"
        );
        assert!(!copy.path().join("box-office.token").exists());
        let dir = copy.path().to_owned();
        drop(copy);
        assert!(!dir.exists());

        let missing = data.join("never-created");
        let empty = ScratchCopy::of(&missing).expect("copy of nothing");
        assert!(!missing.exists(), "the data directory must not be created");
        drop(empty);
        std::fs::remove_dir_all(&data).expect("cleanup");
    }
}
