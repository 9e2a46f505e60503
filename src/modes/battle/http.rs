//! `POST /api/battles` and `GET /api/battles/{id}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::state::Battles;
use super::payload::{StartBattleAck, StartBattleReq};
use super::store::{self, Battle};
use crate::base::error::{AckError, ApiError};

pub fn routes(b: Battles) -> Router {
    Router::new()
        .route("/api/battles", post(start_battle))
        .route("/api/battles/{id}", get(get_battle))
        .with_state(b)
}

/// `POST /api/battles {players}` -> 201 `{battleId, players, created: true}` when this
/// request created it, 200 with `created: false` when the pairing already had one.
async fn start_battle(
    State(b): State<Battles>,
    body: Result<Json<StartBattleReq>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<StartBattleAck>), ApiError> {
    let Json(req) = body.map_err(|e| AckError::bad_request(e.body_text()))?;
    let started = store::start(&b, &req.players).await?;
    super::events::announce(&b.ctx.io, &started, None).await;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(StartBattleAck::from(&started))))
}

/// `GET /api/battles/{id}`.
async fn get_battle(
    State(b): State<Battles>,
    Path(id): Path<String>,
) -> Result<Json<Battle>, ApiError> {
    Ok(Json(store::get(&b, &id).await?))
}
