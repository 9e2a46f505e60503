//! `POST /api/battles`, `GET /api/battles/{id}`, `GET /api/players/{id}` and
//! `GET /api/leaderboard/rating`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::error::BattleError;
use super::payload::{StartBattleAck, StartBattleReq};
use super::rating_board::{self, Entry};
use super::record_view::{self, RecordView};
use super::state::Battles;
use super::store::{self, Battle};
use super::view::BattleView;
use crate::base::error::{AckError, ApiError, ErrorEnvelope};
use crate::base::ids::PlayerId;
use crate::services::auth::guard;

/// Battles listed in a player's history, newest first.
const HISTORY_LIMIT: i64 = 50;
/// Rating changes listed in a player's history, newest first.
const RATING_HISTORY_LIMIT: i64 = 50;
/// Rows of `GET /api/leaderboard/rating` without `limit`, and the most it may ask.
const LEADERBOARD_DEFAULT: u32 = 10;
const LEADERBOARD_MAX: u32 = 100;

/// The OpenAPI description of these routes.
#[derive(OpenApi)]
#[openapi(paths(start_battle, get_battle, get_player, rating_leaderboard))]
pub struct HttpApi;

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
        .route("/api/leaderboard/rating", get(rating_leaderboard))
        .with_state(b)
}

/// `POST /api/battles {players}` -> 201 `{battleId, players, created: true}` when this
/// request created it, 200 with `created: false` when the pairing already had one.
#[utoipa::path(
    post,
    path = "/api/battles",
    tag = "battle",
    security(("bearer" = [])),
    request_body = StartBattleReq,
    responses(
        (status = 201, description = "this request created the battle", body = StartBattleAck),
        (status = 200, description = "the pairing already had a battle", body = StartBattleAck),
        (status = 400, description = "bad input", body = ErrorEnvelope),
        (status = 401, description = "token mode: no or a bad bearer token", body = ErrorEnvelope),
        (status = 403, description = "token mode: not the admin role", body = ErrorEnvelope),
        (status = 404, description = "not found", body = ErrorEnvelope),
        (status = 409, description = "the lock is held elsewhere", body = ErrorEnvelope),
        (status = 413, description = "body over HTTP_BODY_LIMIT_BYTES", body = ErrorEnvelope),
        (status = 503, description = "a backing service is unavailable or slow (the request timeout)", body = ErrorEnvelope),
    )
)]
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

/// A battle as `GET /api/battles/{id}` answers it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum BattleAnswer {
    /// Ended, from the records: standings and submissions (sources for their authors).
    Records(Box<RecordView>),
    /// Live from Redis (the clock, standings and every submission's verdicts, no
    /// source), or what the records have of a battle that never ended.
    Live(Box<BattleView>),
}

/// `GET /api/battles/{id}`: a battle the records have ended is served from them (its
/// standings, submissions and per-test verdicts; a submission's `source` only to a
/// caller whose bearer token names its author); any other from Redis, or from the
/// records once Redis no longer has it. A malformed or invalid token is 401.
#[utoipa::path(
    get,
    path = "/api/battles/{id}",
    tag = "battle",
    params(("id" = String, Path, description = "a battle id")),
    responses(
        (status = 200, description = "an ended battle from the records (standings, submissions, a source only to its author) or a live one from Redis (the clock, standings, verdicts)", body = Object),
        (status = 400, description = "bad input", body = ErrorEnvelope),
        (status = 401, description = "token mode: no or a bad bearer token", body = ErrorEnvelope),
        (status = 404, description = "not found", body = ErrorEnvelope),
        (status = 503, description = "a backing service is unavailable or slow (the request timeout)", body = ErrorEnvelope),
    )
)]
async fn get_battle(
    State(b): State<Battles>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<BattleAnswer>, ApiError> {
    let Path(id) = id?;
    let auth = &b.ctx.app.auth;
    // A header that is not text is no bearer token: `bearer` refuses it.
    let header = headers.get(AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
    let caller = auth.bearer(header).map_err(AckError::from)?;
    let caller = caller.as_ref().map(|c| c.player.as_str());
    let ended = record_view::ended(&b.ctx.app.store, &id, caller)
        .await
        .map_err(BattleError::from)
        .inspect_err(log_store_error)?;
    if let Some(view) = ended {
        return Ok(Json(BattleAnswer::Records(Box::new(view))));
    }
    let view = super::view::current(&b, &id)
        .await
        .inspect_err(log_store_error)?;
    Ok(Json(BattleAnswer::Live(Box::new(view.for_http()))))
}

/// `?limit=N` of the leaderboard.
#[derive(Debug, Deserialize)]
struct LeaderboardQuery {
    limit: Option<String>,
}

/// The answer of `GET /api/leaderboard/rating`.
#[derive(Debug, Serialize, ToSchema)]
struct Leaderboard {
    entries: Vec<Entry>,
}

/// `GET /api/leaderboard/rating?limit=N` (1..=100, default 10): the best-rated players,
/// `{entries: [{rank, player, rating}]}`, rank 1-based.
#[utoipa::path(
    get,
    path = "/api/leaderboard/rating",
    tag = "battle",
    params(("limit" = Option<u32>, Query, description = "rows, 1..=100 (default 10)")),
    responses(
        (status = 200, description = "the best-rated players", body = Leaderboard),
        (status = 400, description = "bad input", body = ErrorEnvelope),
        (status = 503, description = "a backing service is unavailable or slow (the request timeout)", body = ErrorEnvelope),
    )
)]
async fn rating_leaderboard(
    State(b): State<Battles>,
    query: Result<Query<LeaderboardQuery>, QueryRejection>,
) -> Result<Json<Leaderboard>, ApiError> {
    let Query(q) = query.map_err(|e| BattleError::BadRequest(e.body_text()))?;
    let limit = match q.limit.as_deref() {
        None => LEADERBOARD_DEFAULT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=LEADERBOARD_MAX).contains(n))
            .ok_or_else(|| {
                BattleError::BadRequest(format!("limit must be 1..={LEADERBOARD_MAX}"))
            })?,
    };
    let entries = rating_board::top(&b, limit).await.inspect_err(log_store_error)?;
    Ok(Json(Leaderboard { entries }))
}

/// A player's record and newest battles, as `GET /api/players/{id}` returns them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PlayerView {
    id: String,
    display_name: String,
    /// Elo rating (1200 before the first rated battle).
    rating: i64,
    /// Rated battles played.
    games: i64,
    created_at: i64,
    battles_played: i64,
    wins: i64,
    /// Newest first, at most 50.
    #[schema(value_type = Vec<Object>)]
    battles: Vec<Battle>,
    /// Rating changes, newest first, at most 50.
    history: Vec<HistoryEntry>,
}

/// One rated battle in a player's view.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct HistoryEntry {
    battle_id: String,
    before: i64,
    after: i64,
    at: i64,
}

/// `GET /api/players/{id}`: the player's record and battle history from SQL; 404
/// `not_found` for a player no battle has named yet.
#[utoipa::path(
    get,
    path = "/api/players/{id}",
    tag = "battle",
    params(("id" = String, Path, description = "a player id")),
    responses(
        (status = 200, description = "the player's record, battles and rating history", body = PlayerView),
        (status = 400, description = "bad input", body = ErrorEnvelope),
        (status = 404, description = "not found", body = ErrorEnvelope),
        (status = 503, description = "a backing service is unavailable or slow (the request timeout)", body = ErrorEnvelope),
    )
)]
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
    let rating = store
        .rating(id.as_str())
        .await
        .map_err(BattleError::from)
        .inspect_err(log_store_error)?;
    let history = store
        .rating_history(id.as_str(), RATING_HISTORY_LIMIT)
        .await
        .map_err(BattleError::from)
        .inspect_err(log_store_error)?
        .into_iter()
        .map(|h| HistoryEntry {
            battle_id: h.battle_id,
            before: h.before,
            after: h.after,
            at: h.at,
        })
        .collect();
    Ok(Json(PlayerView {
        id: player.id,
        display_name: player.display_name,
        rating: rating.rating,
        games: rating.games,
        created_at: player.created_at,
        battles_played: player.battles_played,
        wins: player.wins,
        battles,
        history,
    }))
}

/// Database failures are answered `unavailable` without details: log them here.
fn log_store_error(e: &BattleError) {
    if let BattleError::Store(e) = e {
        tracing::warn!(error = %e, "records database unavailable");
    }
}
