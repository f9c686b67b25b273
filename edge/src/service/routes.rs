//! The HTTP routes: handlers that parse a JSON body, run the work on the encoder pool, and answer
//! JSON (or `{"error": "..."}` with a 4xx/5xx status).
//!
//! | route                      | answer                                   |
//! |----------------------------|------------------------------------------|
//! | `POST /v1/enroll`          | `201` [`EnrollResponse`]                 |
//! | `POST /v1/verify`          | `200` [`VerifyResponse`]                 |
//! | `POST /v1/identify`        | `200` [`IdentifyResponse`]               |
//! | `GET /v1/subjects`         | `200` [`SubjectsResponse`]               |
//! | `DELETE /v1/subjects/{id}` | `200` `{"subject", "revision"}`          |
//! | `GET /health`              | `200` `{"status": "ok", ...}` (no token) |
//! | `GET /metrics`             | `200` Prometheus text                    |

use std::path::Path;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use siamedge_format::{Embedding, Template, MAX_LABEL_LEN, MAX_TEMPLATE_EMBEDDINGS};

use super::api::*;
use super::auth::require_token;
use super::body::limit_body;
use super::error::ApiError;
use super::image::decode_base64;
use super::queue::Full;
use super::state::{Shared, State as AppState};
use crate::store::Put;

/// The router over `state`: routes, body limit, authentication and metrics.
pub fn router(state: Shared) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/v1/enroll", post(enroll))
        .route("/v1/verify", post(verify))
        .route("/v1/identify", post(identify))
        .route("/v1/subjects", get(subjects))
        .route("/v1/subjects/{id}", axum::routing::delete(delete_subject))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(|req: Request| async move {
            ApiError::not_found(format!("no route {} {}", req.method(), req.uri().path()))
        })
        .method_not_allowed_fallback(|req: Request| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "method {} not allowed on {}",
                    req.method(),
                    req.uri().path()
                ),
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), limit_body))
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The metrics label of a request path: the route pattern, or `other` (bounded cardinality).
fn route_label(path: &str) -> &'static str {
    match path {
        "/v1/enroll" => "/v1/enroll",
        "/v1/verify" => "/v1/verify",
        "/v1/identify" => "/v1/identify",
        "/v1/subjects" => "/v1/subjects",
        "/health" => "/health",
        "/metrics" => "/metrics",
        p if p.starts_with("/v1/subjects/") => "/v1/subjects/{id}",
        _ => "other",
    }
}

/// Middleware: counts every answer by route and status, with its latency.
async fn observe(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let route = route_label(req.uri().path());
    let start = Instant::now();
    let r = next.run(req).await;
    state
        .metrics
        .observe(route, r.status().as_u16(), start.elapsed());
    r
}

/// The JSON body `T`: `413` over the size limit, `400` naming the field when malformed.
fn parse<T: DeserializeOwned>(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            super::body::too_large(state.config.max_body_bytes)
        } else {
            ApiError::new(rej.status(), format!("request body: {}", rej.body_text()))
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("JSON body: {e}")))
}

/// Runs `job` on the encoder pool: `503` with `Retry-After` when the pool is full.
async fn on_pool<T: Send + 'static>(
    state: &Shared,
    job: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let s = state.clone();
    match state.pool.run(move || job(&s)).await {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => Err(ApiError::internal(format!("worker panicked: {panic}"))),
        Err(Full) => Err(ApiError::busy(
            format!(
                "encoder queue full ({} workers busy, {} waiting); retry later",
                state.config.workers, state.config.queue
            ),
            state.config.retry_after_s,
        )),
    }
}

/// Decodes and embeds the base64 image `what` (blocking): grey for a model file, RGB for a
/// pipeline ([`crate::Runtime::embed_encoded`]: the pixel limit is checked on the header before
/// any pixel is decoded).
fn embed(state: &AppState, what: &str, text: &str) -> Result<Embedding, ApiError> {
    let bytes = decode_base64(what, text)?;
    state
        .runtime
        .embed_encoded(&bytes, Path::new(what), state.config.max_pixels)
        .map_err(|e| ApiError::from_image(what, e))
}

async fn enroll(
    State(state): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: EnrollRequest = parse(&state, body)?;
    let n = req.images.len();
    if !(1..=MAX_TEMPLATE_EMBEDDINGS).contains(&n) {
        return Err(ApiError::bad_request(format!(
            "images: {n} given, 1 to {MAX_TEMPLATE_EMBEDDINGS} allowed"
        )));
    }
    if req.label.len() > MAX_LABEL_LEN {
        return Err(ApiError::bad_request(format!(
            "label: {} bytes, at most {MAX_LABEL_LEN}",
            req.label.len()
        )));
    }
    let r = on_pool(&state, move |s| {
        let mut template: Option<Template> = None;
        for (i, text) in req.images.iter().enumerate() {
            let what = format!("images[{i}]");
            let e = embed(s, &what, text)?;
            match &mut template {
                None => {
                    let t = Template::new(req.subject, e.as_ref())
                        .and_then(|t| t.with_label(&req.label))
                        .map_err(|e| ApiError::bad_request(format!("{what}: {e}")))?;
                    template = Some(t);
                }
                Some(t) => t
                    .add(e.as_ref())
                    .map_err(|e| ApiError::bad_request(format!("{what}: {e}")))?,
            }
        }
        let template = template.ok_or_else(|| ApiError::bad_request("images: none given"))?;
        let mode = if req.replace { Put::Replace } else { Put::New };
        let revision = s.put(&template, mode)?;
        Ok(EnrollResponse {
            subject: req.subject,
            label: req.label,
            embeddings: template.count(),
            revision: revision.0,
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

async fn verify(
    State(state): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<VerifyResponse>, ApiError> {
    let req: VerifyRequest = parse(&state, body)?;
    let (threshold, far) = operating_point(state.runtime.decision(), req.far, req.threshold)?;
    let r = on_pool(&state, move |s| {
        let e = embed(s, "image", &req.image)?;
        s.sync()?;
        let distance = s
            .distance(req.subject, e.as_ref())?
            .ok_or_else(|| ApiError::not_found(format!("subject {}: not enrolled", req.subject)))?;
        let d = s.runtime.decision();
        let decision = d.decide_at(
            distance,
            siamedge_format::OperatingPoint {
                far: far.unwrap_or(1.0),
                threshold,
            },
        );
        Ok(VerifyResponse {
            subject: req.subject,
            accept: decision.accept,
            distance,
            threshold,
            far,
            score: decision.score,
        })
    })
    .await?;
    Ok(Json(r))
}

async fn identify(
    State(state): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IdentifyResponse>, ApiError> {
    let req: IdentifyRequest = parse(&state, body)?;
    let (threshold, far) = operating_point(state.runtime.decision(), req.far, req.threshold)?;
    let top = req.top.unwrap_or(1);
    if !(1..=state.config.max_top).contains(&top) {
        return Err(ApiError::bad_request(format!(
            "top = {top}: must be 1 to {}",
            state.config.max_top
        )));
    }
    let r = on_pool(&state, move |s| {
        let e = embed(s, "image", &req.image)?;
        s.sync()?;
        let hits = s.search(e.as_ref(), top)?;
        let margin = s.runtime.decision().margin();
        let candidates: Vec<Candidate> = hits
            .iter()
            .map(|h| {
                let d = siamedge_format::Decision::new(h.distance, threshold, margin);
                Candidate {
                    subject: h.subject,
                    distance: h.distance,
                    accept: d.accept,
                    score: d.score,
                }
            })
            .collect();
        let matched = candidates.first().filter(|c| c.accept).map(|c| c.subject);
        Ok(IdentifyResponse {
            candidates,
            matched,
            threshold,
            far,
        })
    })
    .await?;
    Ok(Json(r))
}

async fn subjects(State(state): State<Shared>) -> Result<Json<SubjectsResponse>, ApiError> {
    let r = on_pool(&state, |s| {
        let revision = s.revision()?;
        let subjects: Vec<SubjectEntry> = s
            .list()?
            .into_iter()
            .map(|i| SubjectEntry {
                subject: i.subject,
                label: i.label,
                embeddings: i.embeddings,
                revision: i.revision.0,
            })
            .collect();
        Ok(SubjectsResponse {
            count: subjects.len(),
            subjects,
            revision: revision.0,
        })
    })
    .await?;
    Ok(Json(r))
}

async fn delete_subject(
    State(state): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let subject: u32 = id.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "subject id {id:?}: not an integer in 0..=4294967295"
        ))
    })?;
    let rev = on_pool(&state, move |s| s.remove(subject)).await?;
    match rev {
        Some(r) => Ok(Json(
            serde_json::json!({ "subject": subject, "revision": r.0 }),
        )),
        None => Err(ApiError::not_found(format!(
            "subject {subject}: not enrolled"
        ))),
    }
}

async fn health(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "model": state.runtime.id().to_string(),
        "subjects": state.gallery_size(),
    }))
}

async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(state.gauges()),
    )
        .into_response()
}
