//! Reading an import document from a file or over HTTP(S) (ureq with rustls).

use std::io::Read;
use std::time::Duration;

use super::format::DOCUMENT_MAX_BYTES;
use super::ImportError;

/// Longest time one download may take, connecting included.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether `from` names a URL rather than a file.
pub fn is_url(from: &str) -> bool {
    let lower = from.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The bytes of `from`: a file, or the body of a `GET` of an `http://` or `https://` URL (a
/// status other than 2xx is an error). At most [`DOCUMENT_MAX_BYTES`].
pub async fn read(from: &str) -> Result<Vec<u8>, ImportError> {
    let from = from.to_owned();
    tokio::task::spawn_blocking(move || {
        if is_url(&from) {
            download(&from)
        } else {
            read_file(&from)
        }
    })
    .await
    .map_err(|e| ImportError::Fetch(format!("the reading task failed: {e}")))?
}

fn too_large(what: &str) -> ImportError {
    ImportError::Fetch(format!(
        "{what} is larger than {DOCUMENT_MAX_BYTES} bytes, the most an import reads"
    ))
}

fn read_file(path: &str) -> Result<Vec<u8>, ImportError> {
    let file = std::fs::File::open(path).map_err(|e| ImportError::Fetch(format!("{path}: {e}")))?;
    let mut bytes = Vec::new();
    file.take(DOCUMENT_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ImportError::Fetch(format!("{path}: {e}")))?;
    if bytes.len() as u64 > DOCUMENT_MAX_BYTES {
        return Err(too_large(path));
    }
    Ok(bytes)
}

fn download(url: &str) -> Result<Vec<u8>, ImportError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(DOWNLOAD_TIMEOUT))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| ImportError::Fetch(format!("GET {url}: {e}")))?;
    let bytes = response
        .body_mut()
        .with_config()
        .limit(DOCUMENT_MAX_BYTES + 1)
        .read_to_vec()
        .map_err(|e| ImportError::Fetch(format!("GET {url}: reading the body: {e}")))?;
    if bytes.len() as u64 > DOCUMENT_MAX_BYTES {
        return Err(too_large(url));
    }
    Ok(bytes)
}
