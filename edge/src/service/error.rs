//! Errors of the service: [`ServiceError`] for starting and running it, [`ApiError`] for one
//! request (an HTTP status and a JSON body `{"error": "..."}` naming the field and the value).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::config::ConfigError;
use crate::error::EdgeError;
use crate::store::StoreError;

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The configuration was refused.
    #[error("service configuration: {0}")]
    Config(#[from] ConfigError),
    /// The store failed while loading the gallery.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The store holds another model's templates.
    #[error("the store holds templates of model {store}, but the runtime is model {runtime}")]
    ModelMismatch {
        /// The store's model id (hex).
        store: String,
        /// The runtime's model id (hex).
        runtime: String,
    },
    /// The index could not be built for the runtime, or a stored template does not fit it.
    #[error("loading the index: {reason}")]
    Index {
        /// The index's reason (with the subject, when one template failed).
        reason: String,
    },
    /// Binding, accepting or the async runtime failed.
    #[error("{action} {addr}: {source}")]
    Io {
        /// What was being done (`"binding"`, `"serving on"`...).
        action: &'static str,
        /// The address.
        addr: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// A refused or failed request: its status and the message of its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status (4xx for the client's mistakes, 5xx for the server's).
    pub status: StatusCode,
    /// What was wrong, naming the field and the value.
    pub message: String,
    /// Seconds for `Retry-After` (only on `503`).
    pub retry_after_s: Option<u32>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// `400 Bad Request`: malformed JSON or a field out of range.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// `404 Not Found`: an unknown subject or route.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// `422 Unprocessable Entity`: an image that cannot be decoded or is over the pixel limit.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// `500 Internal Server Error`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// `503 Service Unavailable` with `Retry-After: retry_after_s`.
    pub fn busy(message: impl Into<String>, retry_after_s: u32) -> Self {
        Self {
            retry_after_s: Some(retry_after_s),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }

    /// The status for a store error: a duplicate is `409`, a template of another model `400`,
    /// anything else (I/O, a corrupt or tampered row) `500`.
    pub fn from_store(e: StoreError) -> Self {
        let status = match &e {
            StoreError::Duplicate { .. } => StatusCode::CONFLICT,
            StoreError::ModelMismatch { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, format!("store: {e}"))
    }

    /// The status for an error decoding or encoding the image named `what` (e.g. `images[1]`,
    /// which the error's message names): `422` for the image's own fault (not an image, corrupt,
    /// over the pixel limit, too small to resize, no face the alignment can use), `500` for the
    /// model's.
    pub fn from_image(what: &str, e: EdgeError) -> Self {
        match e {
            e @ (EdgeError::Image { .. }
            | EdgeError::Resize { .. }
            | EdgeError::Align { .. }
            | EdgeError::NotAnImage { .. }
            | EdgeError::TooManyPixels { .. }) => Self::unprocessable(e.to_string()),
            e => Self::internal(format!("encoding {what}: {e}")),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message });
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}
