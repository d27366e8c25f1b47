//! The node's ticket-signing key file: 64 hex digits of an Ed25519 seed, mode 0600, made on
//! first start (`ticket-signing.key` in the data directory, or `--ticket-key FILE`). Every node
//! of a cluster needs the same file: tickets signed by one are checked by all.

use std::path::Path;

use cinebook_protocol::ticket::{TicketSigner, SIGNING_SEED_BYTES};

/// The key file's name inside the data directory.
pub const TICKET_KEY_FILE: &str = "ticket-signing.key";

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TicketKeyError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// Not 64 hex digits.
    #[error("{path}: not a ticket key (64 hex digits expected)")]
    Malformed {
        /// The file.
        path: String,
    },
}

/// The signer in `path`; with `create`, a new random key is written there first if the file
/// does not exist. Returns whether it was created.
pub fn load_or_create(path: &Path, create: bool) -> Result<(TicketSigner, bool), TicketKeyError> {
    let io = |source| TicketKeyError::Io {
        path: path.display().to_string(),
        source,
    };
    if !path.exists() && create {
        // Written whole to a private temporary file, then linked into place, which fails if
        // the file exists: nodes starting together on one shared file end with one key.
        let seed: [u8; SIGNING_SEED_BYTES] = rand::random();
        let temporary =
            path.with_extension(format!("tmp-{}", hex::encode(rand::random::<[u8; 8]>())));
        crate::import::sample::write_secret(&temporary, &hex::encode(seed)).map_err(io)?;
        let linked = std::fs::hard_link(&temporary, path);
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => return Ok((TicketSigner::from_seed(&seed), true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let seed: [u8; SIGNING_SEED_BYTES] = hex::decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| TicketKeyError::Malformed {
            path: path.display().to_string(),
        })?;
    Ok((TicketSigner::from_seed(&seed), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sub").join(TICKET_KEY_FILE);
        assert!(load_or_create(&path, false).is_err());
        let (first, created) = load_or_create(&path, true).expect("create");
        assert!(created);
        let (again, created) = load_or_create(&path, true).expect("read");
        assert!(!created);
        assert_eq!(first.verifier(), again.verifier());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Two makers at once end with one key.
        let shared = dir.path().join("shared.key");
        let makers: Vec<_> = (0..4)
            .map(|_| {
                let shared = shared.clone();
                std::thread::spawn(move || load_or_create(&shared, true).expect("make").0)
            })
            .collect();
        let keys: Vec<_> = makers
            .into_iter()
            .map(|m| m.join().expect("thread").verifier())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
        std::fs::write(&path, "not hex").expect("write");
        assert!(matches!(
            load_or_create(&path, true),
            Err(TicketKeyError::Malformed { .. })
        ));
    }
}
