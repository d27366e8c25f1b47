//! One REST call: send, read a bounded body, map every failure to a [`GatewayError`].

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::wire::ErrorBody;
use crate::GatewayError;

/// Ids go into URL paths: only Razorpay's id alphabet, and not too long.
pub(crate) const ID_MAX_CHARS: usize = 64;

pub(crate) fn check_id(id: &str) -> Result<(), GatewayError> {
    let fine = !id.is_empty()
        && id.len() <= ID_MAX_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if fine {
        Ok(())
    } else {
        Err(GatewayError::NotFound(format!("id {id:?}")))
    }
}

#[derive(Debug)]
pub(crate) struct Http {
    pub(crate) client: reqwest::Client,
    pub(crate) base_url: String,
    pub(crate) key_id: String,
    pub(crate) key_secret: String,
    pub(crate) response_max_bytes: usize,
}

impl Http {
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, GatewayError> {
        self.call::<(), T>(Method::GET, path, None).await
    }

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, GatewayError> {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, GatewayError> {
        let url = format!("{}{}", self.base_url, path);
        let mut request = self
            .client
            .request(method, url)
            .basic_auth(&self.key_id, Some(&self.key_secret));
        if let Some(body) = body {
            let json = serde_json::to_vec(body)
                .map_err(|error| GatewayError::Malformed(format!("request: {error}")))?;
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json);
        }
        let response = request.send().await.map_err(send_error)?;
        let status = response.status();
        let bytes = read_bounded(response, self.response_max_bytes).await?;
        if status.is_success() {
            serde_json::from_slice(&bytes)
                .map_err(|error| GatewayError::Malformed(format!("answer: {error}")))
        } else {
            Err(status_error(status, &bytes))
        }
    }
}

/// Connect failures happened before anything was sent; everything else after sending may have
/// reached the gateway.
fn send_error(error: reqwest::Error) -> GatewayError {
    if error.is_connect() {
        GatewayError::Unreachable(error.to_string())
    } else if error.is_builder() {
        GatewayError::Unreachable(format!("bad request URL: {error}"))
    } else {
        GatewayError::Timeout
    }
}

async fn read_bounded(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, GatewayError> {
    if response
        .content_length()
        .is_some_and(|length| length > max_bytes as u64)
    {
        return Err(too_long(max_bytes));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(send_error)? {
        if bytes.len() + chunk.len() > max_bytes {
            return Err(too_long(max_bytes));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn too_long(max_bytes: usize) -> GatewayError {
    GatewayError::Malformed(format!("answer longer than {max_bytes} bytes"))
}

/// Razorpay answers 400 with this for an id it does not know.
const UNKNOWN_ID_DESCRIPTION: &str = "does not exist";

pub(crate) fn status_error(status: StatusCode, body: &[u8]) -> GatewayError {
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let code = detail.as_ref().map_or("", |d| d.code.as_str()).to_owned();
    let description = detail.map_or_else(
        || String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        |d| d.description,
    );
    match status.as_u16() {
        401 => GatewayError::Unauthorized,
        404 => GatewayError::NotFound(description),
        400 if description.contains(UNKNOWN_ID_DESCRIPTION) => GatewayError::NotFound(description),
        // A proxy gave up waiting for the gateway: the call may have taken effect.
        504 => GatewayError::Timeout,
        400..=499 => GatewayError::Rejected { code, description },
        500..=599 => GatewayError::Unavailable {
            status: status.as_u16(),
            description,
        },
        other => GatewayError::Malformed(format!("unexpected HTTP status {other}")),
    }
}
