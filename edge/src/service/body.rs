//! The request-body limit, answered so that clients can read it.
//!
//! What: a middleware that answers `413 Payload Too Large` to a request whose `Content-Length`
//! is over [`ServiceConfig::max_body_bytes`](super::ServiceConfig::max_body_bytes) without
//! buffering it: the body is read and dropped frame by frame (at most [`DRAIN_MAX_BYTES`], for at
//! most [`DRAIN_TIMEOUT`]) before the answer goes out. Answering first and closing makes the
//! client's write of the rest fail with a broken pipe, so a camera integrator sees a network error
//! instead of the 413 that says what to change. A body without `Content-Length` (chunked) is
//! limited by the JSON extractor instead (`DefaultBodyLimit`).
//!
//! When not: bodies over [`DRAIN_MAX_BYTES`] are not drained; the connection is closed after the
//! 413 (the client may then see a reset).

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::Shared;

/// The most bytes of an over-limit body read (and dropped) before answering `413`: 64 MiB.
pub const DRAIN_MAX_BYTES: u64 = 64 << 20;

/// The longest an over-limit body is drained before answering `413`.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// `413` naming the limit, in bytes.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body over the limit of {limit} bytes"),
    )
}

/// The declared body length, when the request states one that parses.
fn content_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads and drops up to `max` bytes of `body` for at most [`DRAIN_TIMEOUT`]; stops at its end
/// or on an error.
pub(super) async fn discard(body: Body, max: u64) {
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain(body, max)).await;
}

/// Reads and drops up to `max` bytes of `body`; stops at its end or on an error.
async fn drain(mut body: Body, max: u64) {
    let mut seen = 0u64;
    while seen <= max {
        match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    seen += data.len() as u64;
                }
            }
            Some(Err(_)) | None => return,
        }
    }
}

/// Middleware: `413` for a declared length over the limit, after draining the body (bounded).
pub async fn limit_body(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let limit = state.config.max_body_bytes;
    match content_length(&req) {
        Some(n) if n > limit as u64 => {
            if n <= DRAIN_MAX_BYTES {
                discard(req.into_body(), n).await;
            }
            too_large(limit).into_response()
        }
        _ => next.run(req).await,
    }
}
