//! The HTTP router: one port serves these routes, Socket.IO (`/socket.io/`) and the UI.
//! Each mode's routes come from its `routes()`; this file is the twin of `edge::socket`.
//!
//! Limits applied here: a body over `HTTP_BODY_LIMIT_BYTES` gets 413 `payload_too_large`
//! (at once when `Content-Length` says so, else when a handler reads past the limit);
//! every mode route (they all use Redis) answers within the request timeout or gets 503
//! `unavailable`, both in the JSON error envelope.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use super::admin;
use super::health::{self, HttpState};
use super::limits::HttpLimits;
use super::openapi;
use super::ui;
use crate::base::error::{AckError, ApiError, ErrorCode};

/// The public port's routes, except the Socket.IO layer (added by `edge::app`). With
/// no internal port, the operator and admin routes are here too.
pub fn router(state: HttpState, limits: &HttpLimits, internal_port: bool) -> Router {
    let mut modes = Router::new();
    for mode in state.modes.iter() {
        modes = modes.merge(mode.routes());
    }
    let modes = modes.layer(middleware::from_fn_with_state(
        limits.request_timeout,
        within_request_timeout,
    ));
    let mut router = Router::new()
        .merge(health::probes(state.clone()))
        .merge(openapi::routes(&state.modes))
        .merge(ui::routes())
        .merge(modes);
    if !internal_port {
        router = router
            .merge(health::operator(state.clone()))
            .merge(admin::routes(state));
    }
    guarded(router, limits)
}

/// The internal port's routes (`INTERNAL_PORT`): health, `/status`, `/metrics` and the
/// admin routes, for operators and scrapers on a private network.
pub fn internal_router(state: HttpState, limits: &HttpLimits) -> Router {
    let router = Router::new()
        .merge(health::probes(state.clone()))
        .merge(openapi::routes(&state.modes))
        .merge(health::operator(state.clone()))
        .merge(admin::routes(state));
    guarded(router, limits)
}

/// The body limit and request tracing every port has.
fn guarded(router: Router, limits: &HttpLimits) -> Router {
    router
        .layer(DefaultBodyLimit::max(limits.body_limit))
        .layer(middleware::from_fn_with_state(
            limits.body_limit,
            refuse_declared_oversize,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// 413 before reading a byte of a body whose `Content-Length` is over the limit (also
/// for routes that never read their body).
async fn refuse_declared_oversize(
    State(limit): State<usize>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => too_large(limit).into_response(),
        _ => next.run(req).await,
    }
}

fn too_large(limit: usize) -> ApiError {
    AckError::new(
        ErrorCode::PAYLOAD_TOO_LARGE,
        format!("request body over the limit of {limit} bytes"),
    )
    .into()
}

/// Answer 503 `unavailable` when a route has not answered within `bound` (Redis
/// refusing writes, a lock that cannot be had): the client hears back in time and may
/// retry; the handler is dropped where it was.
async fn within_request_timeout(
    State(bound): State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(bound, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?bound, "HTTP request timed out");
            ApiError::from(AckError::new(
                ErrorCode::UNAVAILABLE,
                format!(
                    "no answer within {} ms: a backing service is slow or refusing writes, retry",
                    bound.as_millis()
                ),
            ))
            .into_response()
        }
    }
}
