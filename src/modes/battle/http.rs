//! `POST /api/battles` and `GET /api/battles/{id}`.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::payload::{StartBattleAck, StartBattleReq};
use super::state::Battles;
use super::store::{self, Battle};
use crate::base::error::ApiError;
use crate::services::auth::guard;

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
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Battle>, ApiError> {
    let Path(id) = id?;
    Ok(Json(store::get(&b, &id).await?))
}
