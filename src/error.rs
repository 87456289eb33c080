//! The error every domain function returns: a stable code, a human message and the field it is
//! about. The web layer maps it to a status and JSON (or a message on the page); this module knows
//! nothing of HTTP beyond naming the kind of failure.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke a rule. `code` names the rule, `field` the input.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        field: Option<&'static str>,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with current state (duplicate, already set up…).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Not signed in, or the credentials are wrong. Same text for every cause.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but not allowed to do this.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// Too many failed attempts; `until` is unix seconds.
    #[error("too many failed attempts; try again after {}", crate::time::rfc3339(*until))]
    Locked { until: u64 },
    /// A device the request needs (a serial reader) is missing, silent or gave no answer in time.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    #[error("payload too large: {0}")]
    TooLarge(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            code,
            field: Some(field),
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Error::Unavailable {
            code,
            message: message.into(),
        }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Error::Forbidden {
            code,
            message: message.into(),
        }
    }
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { code, .. } | Error::Conflict { code, .. } => code,
            Error::Forbidden { code, .. } | Error::Unavailable { code, .. } => code,
            Error::NotFound(_) => "not_found",
            Error::Unauthorized(_) => "unauthorized",
            Error::Locked { .. } => "locked",
            Error::TooLarge(_) => "too_large",
            Error::Store(_) | Error::Internal(_) => "internal",
        }
    }
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Invalid { field, .. } => *field,
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
