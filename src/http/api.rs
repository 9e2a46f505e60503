//! `/api/battles` and the worker-cluster demo `/api/shared/increment`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use redis::AsyncCommands;
use serde_json::json;

use super::HttpState;
use crate::battle::{self, BattleError};
use crate::error::{AckError, ErrorCode};
use crate::lock::{FencedOutcome, Resource};
use crate::realtime::protocol::{StartBattleAck, StartBattleReq};

/// An API error: `{error: {code, message}}` with a matching HTTP status.
pub struct ApiError(AckError);

impl<E: Into<AckError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0.code {
            ErrorCode::BadRequest | ErrorCode::PayloadTooLarge => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound | ErrorCode::UnknownMap => StatusCode::NOT_FOUND,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = json!({"error": {"code": self.0.code.as_str(), "message": self.0.message}});
        (status, Json(body)).into_response()
    }
}

/// `POST /api/battles {players}` -> 201 `{battleId, players, created: true}` when this
/// request created it, 200 with `created: false` when the pairing already had one.
pub async fn start_battle(
    State(s): State<HttpState>,
    body: Result<Json<StartBattleReq>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<StartBattleAck>), ApiError> {
    let Json(req) = body.map_err(|e| AckError::bad_request(e.body_text()))?;
    let started = battle::start(&s.app, &s.app.redlock, &req.players).await?;
    crate::realtime::handlers::announce(&s.io, &started, None).await;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(StartBattleAck::from(&started))))
}

/// `GET /api/battles/{id}`.
pub async fn get_battle(
    State(s): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Json<battle::Battle>, ApiError> {
    Ok(Json(battle::get(&s.app, &id).await?))
}

/// `POST /api/shared/increment`: a locked read-modify-write of one shared value (the
/// worker-cluster demo). Concurrent calls on any instance serialize: GET under the lease,
/// then a fenced SET of value + 1, so no update is lost and none applied twice.
pub async fn increment(State(s): State<HttpState>) -> Result<Json<serde_json::Value>, ApiError> {
    let resource = Resource::parse("shared:counter").map_err(BattleError::from)?;
    let key = resource.data_key("value");
    for _ in 0..3 {
        let wait = std::time::Duration::from_secs(10);
        let lease = s
            .app
            .redlock
            .acquire_within(&resource, wait)
            .await
            .map_err(BattleError::from)?;
        let current: Option<i64> = s
            .app
            .redis
            .clone()
            .get(&key)
            .await
            .map_err(BattleError::from)?;
        let next = current.unwrap_or(0) + 1;
        let outcome = lease
            .fenced_set(&key, &next.to_string())
            .await
            .map_err(BattleError::from)?;
        lease.release().await;
        if let FencedOutcome::Committed(()) = outcome {
            return Ok(Json(
                json!({"value": next, "instanceId": s.app.instance_id.as_ref()}),
            ));
        }
        // Stale: our lease lapsed before the write; nothing was written; try again.
    }
    Err(BattleError::Contended.into())
}
