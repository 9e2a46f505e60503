//! `GET /api/admin/battles`: the active battles across all instances and their state,
//! for the admin view (served with the admin routes, behind the admin guard).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::error::BattleError;
use super::state::Battles;
use super::store::{self, Battle};
use crate::base::error::{ApiError, ErrorEnvelope};

/// At most this many battles are listed (the count covers all of them).
const LIST_LIMIT: usize = 100;

/// The OpenAPI description of these routes.
#[derive(OpenApi)]
#[openapi(paths(active))]
pub struct AdminApi;

pub fn routes(b: Battles) -> Router {
    Router::new()
        .route("/api/admin/battles", get(active))
        .with_state(b)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Active {
    /// Every active battle in the fleet.
    active: u64,
    /// Up to [`LIST_LIMIT`] of them, soonest to expire first.
    #[schema(value_type = Vec<Object>)]
    battles: Vec<Battle>,
}

#[utoipa::path(
    get,
    path = "/api/admin/battles",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the active battles (at most 100) and their count", body = Active),
        (status = 401, description = "token mode: no or a bad bearer token", body = ErrorEnvelope),
        (status = 403, description = "token mode: not the admin role", body = ErrorEnvelope),
        (status = 503, description = "a backing service is unavailable or slow (the request timeout)", body = ErrorEnvelope),
    )
)]
async fn active(State(b): State<Battles>) -> Result<Json<Active>, ApiError> {
    let redis = &b.ctx.app.redis;
    let active = store::active_count(redis).await.map_err(BattleError::from)?;
    let ids = store::active_ids(redis, LIST_LIMIT)
        .await
        .map_err(BattleError::from)?;
    let mut battles = Vec::with_capacity(ids.len());
    for id in ids {
        match store::get(&b, &id).await {
            Ok(battle) => battles.push(battle),
            // Its record expired or it ended between the two reads: not active any more.
            Err(BattleError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Json(Active { active, battles }))
}
