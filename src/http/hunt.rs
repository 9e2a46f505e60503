//! `GET /api/hunt/leaderboard?limit=N` and `GET /api/hunt/maps/{id}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::HttpState;
use crate::hunt::{board, map};

const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
pub struct LimitQuery {
    limit: Option<String>,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

fn unavailable(e: redis::RedisError) -> Response {
    tracing::warn!(error = %e, "hunt read failed: redis unavailable");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "a backing service is unavailable, retry",
    )
}

/// `{entries: [{rank, player, score}]}`, best first; `limit` 1..=1000 (default 10).
pub async fn leaderboard(State(s): State<HttpState>, Query(q): Query<LimitQuery>) -> Response {
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("limit must be an integer from 1 to {MAX_LIMIT}"),
            );
        }
    };
    let mut conn = s.app.redis.clone();
    match board::top(&mut conn, limit).await {
        Ok(b) => Json(b).into_response(),
        Err(e) => unavailable(e),
    }
}

/// The map with `owners` (tile -> player) and its own `leaderboard`; 404 when unknown.
pub async fn map(State(s): State<HttpState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "map id must be an integer",
        );
    };
    let mut conn = s.app.redis.clone();
    let found = match map::load(&mut conn, id, s.app.config.hunt_partitions).await {
        Ok(f) => f,
        Err(e) => return unavailable(e),
    };
    let Some((m, owners)) = found else {
        return error(StatusCode::NOT_FOUND, "unknown_map", format!("no map {id}"));
    };
    let board = match board::top_of(&mut conn, &crate::redis::keys::lb_map(id), 100).await {
        Ok(b) => b,
        Err(e) => return unavailable(e),
    };
    let mut body = serde_json::to_value(&m).unwrap_or_default();
    body["owners"] = json!(owners);
    body["leaderboard"] = json!(board.entries);
    Json(body).into_response()
}
