//! What the two processes that describe their HTTP API (an instance, `edge::http::openapi`,
//! and a judge, `judge::http`) share about their OpenAPI documents: the version stamp
//! and the route that serves a document at `GET /api/openapi.json`. It sits here, at the
//! bottom, because the judge may not reach up into `edge`.

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use utoipa::openapi::OpenApi as Document;

use super::error::{AckError, ApiError};

/// `doc` stamped with this build's version (the derive fills in nothing better).
pub fn finish(mut doc: Document) -> Document {
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// `GET /api/openapi.json` answering `doc`.
pub fn route(doc: &Document) -> Router {
    // Serialized once: the document depends only on the code (and, for an instance, its
    // modes). A document that does not serialize is a bug, answered 503 rather than with
    // a made-up body.
    let body = serde_json::to_vec(doc)
        .map(Bytes::from)
        .map_err(|e| tracing::error!(error = %e, "the OpenAPI document does not serialize"));
    Router::new().route(
        "/api/openapi.json",
        get(move || {
            let body = body.clone();
            async move {
                match body {
                    Ok(body) => Ok(([(header::CONTENT_TYPE, "application/json")], body)),
                    Err(()) => Err(ApiError::from(AckError::unavailable())),
                }
            }
        }),
    )
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    responses((status = 200, description = "this OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
#[allow(dead_code)] // The route serves a prebuilt value; this is its description.
pub async fn openapi_json() {}
