//! How a domain [`Error`] becomes an HTTP answer: JSON `{"error", "message", "field"}` with a fitting
//! 4xx status (500 only for faults, logged, with a message and no internals). Owns no rule.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;

/// The body of every error answer.
#[derive(Serialize, ToSchema, Debug)]
pub struct ErrorBody {
    /// Stable code naming the rule or the failure, e.g. `password_too_short`.
    pub error: String,
    /// Human text.
    pub message: String,
    /// The input field concerned, or null.
    pub field: Option<String>,
}

/// A domain error on its way out of an API handler.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::Store(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The message a user sees; faults are logged and summarised.
pub fn public_message(e: &Error) -> String {
    match e {
        Error::Store(_) | Error::Internal(_) => {
            tracing::error!(error = %e, "request failed");
            "an internal error occurred; the administrator can find details in the log".into()
        }
        other => other.to_string(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0.code() {
            "bad_request_body" => StatusCode::BAD_REQUEST,
            _ => status_of(&self.0),
        };
        let body = ErrorBody {
            error: self.0.code().to_owned(),
            message: public_message(&self.0),
            field: self.0.field().map(str::to_owned),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if let Error::Locked { until } = self.0 {
            let wait = until.saturating_sub(crate::time::now()).max(1);
            if let Ok(v) = wait.to_string().parse() {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// A request body that is not the JSON expected.
pub fn bad_body(message: impl Into<String>) -> ApiError {
    ApiError(Error::Invalid {
        code: "bad_request_body",
        field: None,
        message: message.into(),
    })
}
