//! Bearer-token authentication: every route except `GET /health` requires
//! `Authorization: Bearer TOKEN` when the service has a token.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::Shared;

/// Whether `a == b`, in time that depends only on the lengths (not on where they differ).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // A read the optimizer cannot see through, so the fold is not cut short.
    std::hint::black_box(diff) == 0
}

/// Why `header` (the `Authorization` value, if any) does not carry `token`, or `None` when it
/// does.
pub fn refusal(header: Option<&[u8]>, token: &str) -> Option<&'static str> {
    let Some(value) = header else {
        return Some("missing Authorization header (expected `Bearer TOKEN`)");
    };
    let Some(given) = value.strip_prefix(b"Bearer ") else {
        return Some("Authorization header is not `Bearer TOKEN`");
    };
    if constant_time_eq(given, token.as_bytes()) {
        None
    } else {
        Some("wrong bearer token")
    }
}

/// Middleware: `401` with `WWW-Authenticate: Bearer` unless the request carries the token
/// (no check without a token, nor on `/health`). The body of a refused request is read, up to
/// the size limit, and dropped.
pub async fn require_token(State(state): State<Shared>, req: Request, next: Next) -> Response {
    if let Some(token) = state.config.token.as_deref() {
        if req.uri().path() != "/health" {
            let given = req
                .headers()
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes());
            if let Some(why) = refusal(given, token) {
                // Read (and drop) the body up to the size limit first: answering before the
                // client has sent it makes the client's write fail with a broken pipe instead
                // of showing the 401.
                let limit = state.config.max_body_bytes as u64;
                super::body::discard(req.into_body(), limit).await;
                return ApiError::new(StatusCode::UNAUTHORIZED, why).into_response();
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_tokens() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
        let t = "0123456789abcdef";
        assert_eq!(refusal(Some(b"Bearer 0123456789abcdef"), t), None);
        assert_eq!(
            refusal(Some(b"Bearer 0123456789abcdeF"), t),
            Some("wrong bearer token")
        );
        assert!(refusal(Some(b"Basic 0123456789abcdef"), t)
            .unwrap()
            .contains("not `Bearer"));
        assert!(refusal(None, t).unwrap().contains("missing"));
    }
}
