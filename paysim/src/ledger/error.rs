//! A refusal in Razorpay's shape: an HTTP status and `{"error":{"code","description"}}`.

use cinebook_gateway::razorpay::wire::ErrorBody;

/// A refused request: what the REST API answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {description}")]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// `BAD_REQUEST_ERROR`, `SERVER_ERROR`, …
    pub code: &'static str,
    /// What went wrong.
    pub description: String,
    /// The request field at fault.
    pub field: Option<&'static str>,
}

impl ApiError {
    /// A 400 `BAD_REQUEST_ERROR`.
    pub fn bad_request(description: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: "BAD_REQUEST_ERROR",
            description: description.into(),
            field: None,
        }
    }

    /// A 400 about one field.
    pub fn bad_field(field: &'static str, description: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field),
            ..ApiError::bad_request(description)
        }
    }

    /// Razorpay's answer for an id it does not know (a 400, not a 404).
    pub fn unknown_id() -> ApiError {
        ApiError::bad_request("The id provided does not exist")
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        let mut body = ErrorBody::new(self.code, &self.description);
        body.error.field = self.field.map(str::to_owned);
        body
    }
}
