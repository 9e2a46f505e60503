//! `GET /api/hunt/leaderboard?limit=N` and `GET /api/hunt/maps/{id}`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::claim::UNKNOWN_MAP;
use super::map::LoadError;
use super::payload::Leaderboard;
use super::state::Hunt;
use super::{board, keys, map};
use crate::base::error::{AckError, ApiError, ErrorEnvelope};

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(leaderboard, map))]
pub struct HttpApi;

pub fn routes(hunt: Hunt) -> Router {
    Router::new()
        .route("/api/hunt/leaderboard", get(leaderboard))
        .route("/api/hunt/maps/{id}", get(map))
        .with_state(hunt)
}

const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
pub struct LimitQuery {
    limit: Option<String>,
}

fn unavailable(hunt: &Hunt, e: &redis::RedisError) -> ApiError {
    hunt.ctx.app.metrics.redis_failure("hunt read", e);
    AckError::unavailable().into()
}

/// `{entries: [{rank, player, score}]}`, best first; `limit` 1..=1000 (default 10).
#[utoipa::path(
    get,
    path = "/api/hunt/leaderboard",
    tag = "hunt",
    params(("limit" = Option<u32>, Query, description = "rows, 1..=1000 (default 10)")),
    responses(
        (status = 200, description = "the global treasure-hunt leaderboard", body = Leaderboard),
        (status = 400, description = "bad input", body = ErrorEnvelope),
        (status = 503, description = "a backing service is unavailable or slow (the request timeout)", body = ErrorEnvelope),
    )
)]
async fn leaderboard(
    State(hunt): State<Hunt>,
    q: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<Leaderboard>, ApiError> {
    let Query(q) = q?;
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(AckError::bad_request(format!(
                "limit must be an integer from 1 to {MAX_LIMIT}"
            ))
            .into());
        }
    };
    let mut conn = hunt.ctx.app.redis.clone();
    let board = board::top(&mut conn, limit)
        .await
        .map_err(|e| unavailable(&hunt, &e))?;
    Ok(Json(board))
}

/// The map with `owners` (tile -> player) and its own `leaderboard`; 404 when unknown.
#[utoipa::path(
    get,
    path = "/api/hunt/maps/{id}",
    tag = "hunt",
    params(("id" = u64, Path, description = "a map id (its period number)")),
    responses(
        (status = 200, description = "the map, its owners (tile -> player) and its top 100", body = Object),
        (status = 400, description = "bad input", body = ErrorEnvelope),
        (status = 404, description = "not found", body = ErrorEnvelope),
        (status = 503, description = "a backing service is unavailable or slow (the request timeout)", body = ErrorEnvelope),
    )
)]
async fn map(
    State(hunt): State<Hunt>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(id) = id?;
    let id = id
        .parse::<u64>()
        .map_err(|_| AckError::bad_request("map id must be an integer"))?;
    let mut conn = hunt.ctx.app.redis.clone();
    let found = match map::load(&mut conn, id, hunt.settings.hunt_partitions).await {
        Ok(f) => f,
        Err(LoadError::Redis(e)) => return Err(unavailable(&hunt, &e)),
        Err(e @ LoadError::Corrupt { .. }) => {
            hunt.ctx.app.metrics.corrupt("hunt_map", &e);
            return Err(AckError::unavailable().into());
        }
    };
    let Some((m, owners)) = found else {
        return Err(AckError::new(UNKNOWN_MAP, format!("no map {id}")).into());
    };
    let board = board::top_of(&mut conn, &keys::lb_map(id), 100)
        .await
        .map_err(|e| unavailable(&hunt, &e))?;
    let mut body = serde_json::to_value(&m).map_err(|e| {
        hunt.ctx.app.metrics.corrupt("hunt_map", &e);
        ApiError::from(AckError::unavailable())
    })?;
    body["owners"] = json!(owners);
    body["leaderboard"] = json!(board.entries);
    Ok(Json(body))
}
