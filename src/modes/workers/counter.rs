//! `POST /api/shared/increment`: a locked read-modify-write of one shared value (the
//! worker-cluster demo). Concurrent calls on any instance serialize: GET under the lease,
//! then a fenced SET of value + 1, so no update is lost and none applied twice.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use redis::AsyncCommands;
use serde_json::json;

use crate::base::error::{AckError, ApiError, ErrorCode};
use crate::services::AppState;
use crate::services::auth::guard;
use crate::services::lock::{FencedOutcome, LockError, Resource};

/// The route is an admin's in token mode (a shared value anyone could bump is a demo
/// toy), open to all in dev mode.
pub fn routes(app: AppState) -> Router {
    let auth = app.auth.clone();
    Router::new()
        .route("/api/shared/increment", post(increment))
        .route_layer(axum::middleware::from_fn_with_state(auth, guard::admin))
        .with_state(app)
}

fn unavailable(e: impl std::fmt::Display) -> AckError {
    tracing::warn!(error = %e, "shared increment failed");
    AckError::unavailable()
}

fn lock_error(e: LockError) -> AckError {
    match e {
        LockError::Redis(_) => unavailable(e),
        other => AckError::new(other.code(), other.to_string()),
    }
}

/// The OpenAPI description of this route.
#[derive(utoipa::OpenApi)]
#[openapi(paths(increment), components(schemas(Incremented)))]
pub struct CounterApi;

/// The answer of `POST /api/shared/increment` (built with `json!`; this is its shape).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Incremented {
    pub value: i64,
    pub instance_id: String,
}

#[utoipa::path(
    post,
    path = "/api/shared/increment",
    tag = "workers",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the counter after this increment, and who did it", body = Incremented),
        (status = 401, description = "token mode: no or a bad bearer token", body = crate::base::error::ErrorEnvelope),
        (status = 403, description = "token mode: not the admin role", body = crate::base::error::ErrorEnvelope),
        (status = 409, description = "the lock is held elsewhere", body = crate::base::error::ErrorEnvelope),
        (status = 413, description = "body over HTTP_BODY_LIMIT_BYTES", body = crate::base::error::ErrorEnvelope),
        (status = 503, description = "a backing service is unavailable or slow (the request timeout)", body = crate::base::error::ErrorEnvelope),
    )
)]
async fn increment(State(app): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let resource = Resource::parse("shared:counter").map_err(lock_error)?;
    let key = resource.data_key("value");
    for _ in 0..3 {
        let wait = std::time::Duration::from_secs(10);
        let lease = app
            .redlock
            .acquire_within(&resource, wait)
            .await
            .map_err(lock_error)?;
        let current: Option<i64> = app.redis.clone().get(&key).await.map_err(unavailable)?;
        let next = current.unwrap_or(0) + 1;
        let outcome = lease
            .fenced_set(&key, &next.to_string())
            .await
            .map_err(lock_error)?;
        lease.release().await;
        if let FencedOutcome::Committed(()) = outcome {
            return Ok(Json(
                json!({"value": next, "instanceId": app.instance_id.as_ref()}),
            ));
        }
        // Stale: our lease lapsed before the write; nothing was written; try again.
    }
    Err(AckError::new(
        ErrorCode::UNAVAILABLE,
        "the increment kept losing its lease; retry",
    )
    .into())
}
