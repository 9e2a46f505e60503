//! `GET /api/admin/hunt`: the current map (how much of it is claimed) and the top of
//! the global leaderboard, for the admin view (served with the admin routes, behind the
//! admin guard). Read with the mode's own `map::load` and `board::top`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::map::{self, LoadError};
use super::payload::LeaderboardEntry;
use super::state::Hunt;
use super::board;
use crate::base::clock::unix_ms;
use crate::base::error::{AckError, ApiError, ErrorEnvelope};

/// How many leaderboard rows the view shows.
const TOP: usize = 10;

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(overview))]
pub struct AdminApi;

pub fn routes(hunt: Hunt) -> Router {
    Router::new()
        .route("/api/admin/hunt", get(overview))
        .with_state(hunt)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[derive(ToSchema)]
struct Overview {
    map_ms: u64,
    /// The newest map (this period's, else the previous one while this period's is
    /// being made); `None` before the first map.
    map: Option<MapSummary>,
    leaderboard: Vec<LeaderboardEntry>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[derive(ToSchema)]
struct MapSummary {
    map_id: u64,
    width: u32,
    height: u32,
    expires_at: u64,
    treasures: usize,
    claimed: usize,
    total_value: i64,
}

fn unavailable(hunt: &Hunt, e: &redis::RedisError) -> ApiError {
    hunt.ctx.app.metrics.redis_failure("hunt admin read", e);
    AckError::unavailable().into()
}

#[utoipa::path(
    get,
    path = "/api/admin/hunt",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the current map and the top 10", body = Overview),
        (status = 401, description = "token mode: no or a bad bearer token", body = ErrorEnvelope),
        (status = 403, description = "token mode: not the admin role", body = ErrorEnvelope),
        (status = 503, description = "a backing service is unavailable or slow (the request timeout)", body = ErrorEnvelope),
    )
)]
async fn overview(State(hunt): State<Hunt>) -> Result<Json<Overview>, ApiError> {
    let cfg = &hunt.settings;
    let mut conn = hunt.ctx.app.redis.clone();
    let period = unix_ms() / cfg.map_ms;
    let mut summary = None;
    for id in [period, period.saturating_sub(1)] {
        match map::load(&mut conn, id, cfg.hunt_partitions).await {
            Ok(Some((m, owners))) => {
                summary = Some(MapSummary {
                    map_id: m.map_id,
                    width: m.width,
                    height: m.height,
                    expires_at: m.expires_at,
                    treasures: m.treasures.len(),
                    claimed: owners.len(),
                    total_value: m.total_value(),
                });
                break;
            }
            Ok(None) => {}
            Err(LoadError::Redis(e)) => return Err(unavailable(&hunt, &e)),
            Err(e @ LoadError::Corrupt { .. }) => {
                hunt.ctx.app.metrics.corrupt("hunt_map", &e);
                return Err(AckError::unavailable().into());
            }
        }
    }
    let board = board::top(&mut conn, TOP)
        .await
        .map_err(|e| unavailable(&hunt, &e))?;
    Ok(Json(Overview {
        map_ms: cfg.map_ms,
        map: summary,
        leaderboard: board.entries,
    }))
}
