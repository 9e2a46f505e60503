//! `POST /api/battles`, `GET /api/battles/{id}` and `GET /api/players/{id}`.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::error::BattleError;
use super::payload::{StartBattleAck, StartBattleReq};
use super::state::Battles;
use super::store::{self, Battle};
use crate::base::error::ApiError;
use crate::services::auth::guard;
use crate::base::ids::PlayerId;

/// Battles listed in a player's history, newest first.
const HISTORY_LIMIT: i64 = 50;

/// Starting a battle over HTTP is a matchmaker's job: the admin role in token mode
/// (players start theirs over the socket); reading one is open.
pub fn routes(b: Battles) -> Router {
    let auth = b.ctx.app.auth.clone();
    Router::new()
        .route(
            "/api/battles",
            post(start_battle).route_layer(axum::middleware::from_fn_with_state(auth, guard::admin)),
        )
        .route("/api/battles/{id}", get(get_battle))
        .route("/api/players/{id}", get(get_player))
        .with_state(b)
}

/// `POST /api/battles {players}` -> 201 `{battleId, players, created: true}` when this
/// request created it, 200 with `created: false` when the pairing already had one.
async fn start_battle(
    State(b): State<Battles>,
    body: Result<Json<StartBattleReq>, JsonRejection>,
) -> Result<(StatusCode, Json<StartBattleAck>), ApiError> {
    // A body over HTTP_BODY_LIMIT_BYTES is 413 payload_too_large; anything else that
    // does not parse is 400 bad_request.
    let Json(req) = body?;
    let choice =
        super::problem::Choice::parse(req.problem_id, req.difficulty.as_deref(), req.duration_s)?;
    let started = store::start(&b, &req.players, &choice).await?;
    super::broadcast::announce(&b, &started, None).await;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(StartBattleAck::from(&started))))
}

/// `GET /api/battles/{id}`: from Redis, or from the SQL records once Redis no longer
/// has it.
async fn get_battle(
    State(b): State<Battles>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Battle>, ApiError> {
    let Path(id) = id?;
    let battle = store::get(&b, &id).await.inspect_err(log_store_error)?;
    Ok(Json(battle))
}

/// A player's record and newest battles, as `GET /api/players/{id}` returns them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlayerView {
    id: String,
    display_name: String,
    rating: i64,
    created_at: i64,
    battles_played: i64,
    wins: i64,
    /// Newest first, at most 50.
    battles: Vec<Battle>,
}

/// `GET /api/players/{id}`: the player's record and battle history from SQL; 404
/// `not_found` for a player no battle has named yet.
async fn get_player(
    State(b): State<Battles>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<PlayerView>, ApiError> {
    let Path(id) = id?;
    let id = PlayerId::parse(&id).map_err(|e| BattleError::BadRequest(e.message))?;
    let store = &b.ctx.app.store;
    let player = store
        .player(id.as_str())
        .await
        .map_err(BattleError::from)
        .inspect_err(log_store_error)?
        .ok_or_else(|| BattleError::NotFound(format!("player {}", id.as_str())))?;
    let battles = store
        .player_battles(id.as_str(), HISTORY_LIMIT)
        .await
        .map_err(BattleError::from)
        .inspect_err(log_store_error)?
        .into_iter()
        .map(|r| Battle::from_record(r).ok_or(BattleError::Corrupt))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(PlayerView {
        id: player.id,
        display_name: player.display_name,
        rating: player.rating,
        created_at: player.created_at,
        battles_played: player.battles_played,
        wins: player.wins,
        battles,
    }))
}

/// Database failures are answered `unavailable` without details: log them here.
fn log_store_error(e: &BattleError) {
    if let BattleError::Store(e) = e {
        tracing::warn!(error = %e, "records database unavailable");
    }
}
