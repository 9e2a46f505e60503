//! `GET /api/admin/judge`: the judge queue and the fleet-wide breaker as the admin view
//! shows them, read from the queue's keys (`services::judge::keys`): jobs no judge has
//! taken yet (the group's lag) and how long the oldest of them has waited, jobs being
//! judged (the group's pending entries), dead letters, and the breaker's state. The
//! judges themselves are in the fleet list (`GET /api/admin/instances`' `judges`).

use std::collections::HashMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use redis::AsyncCommands;
use redis::streams::{StreamInfoGroupsReply, StreamRangeReply};
use serde::Serialize;
use utoipa::ToSchema;

use super::health::HttpState;
use crate::base::error::{AckError, ApiError, ErrorEnvelope};
use crate::services::judge::keys;

pub fn routes(state: HttpState) -> Router {
    Router::new()
        .route("/api/admin/judge", get(judge))
        .with_state(state)
}

/// The judge queue and the breaker.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JudgeView {
    pub queue: Queue,
    pub breaker: BreakerView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    /// Jobs no judge has taken yet (`arena_queue_depth{queue="judge"}`).
    pub depth: u64,
    /// Jobs taken and not yet recorded (being judged, or held by a judge that stopped).
    pub running: u64,
    /// How long the oldest job no judge has taken has waited (ms); 0 when none waits.
    pub oldest_wait_ms: u64,
    /// Jobs in the dead-letter stream (delivered `JUDGE_MAX_DELIVERIES` times).
    pub dead_letters: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakerView {
    /// `closed`, `half_open` or `open` (`arena_circuit_state{breaker="judge"}`).
    pub state: String,
    /// Why it last opened (empty before it ever did).
    pub reason: String,
    /// Unix ms it last opened (0 before it ever did).
    pub opened_at: u64,
}

/// A stored value that does not read as expected: counted, answered 503.
fn corrupt(s: &HttpState, what: &str) -> ApiError {
    s.app
        .metrics
        .corrupt("judge_admin", &format!("unexpected {what}"));
    AckError::unavailable().into()
}

fn unavailable(s: &HttpState, e: &redis::RedisError) -> ApiError {
    s.app.metrics.redis_failure("judge admin read", e);
    AckError::unavailable().into()
}

/// `ms-seq` -> ms.
fn entry_ms(id: &str) -> Option<u64> {
    id.split_once('-').and_then(|(ms, _)| ms.parse().ok())
}

async fn read(s: &HttpState) -> Result<JudgeView, ApiError> {
    let mut conn = s.app.redis.clone();
    let (secs, micros): (u64, u64) = redis::cmd("TIME")
        .query_async(&mut conn)
        .await
        .map_err(|e| unavailable(s, &e))?;
    let now = secs * 1000 + micros / 1000;
    let jobs = keys::jobs();
    let exists: bool = conn.exists(&jobs).await.map_err(|e| unavailable(s, &e))?;
    let mut queue = Queue {
        depth: 0,
        running: 0,
        oldest_wait_ms: 0,
        dead_letters: conn
            .xlen(keys::dead())
            .await
            .map_err(|e| unavailable(s, &e))?,
    };
    // No stream yet: no job was ever submitted (the group is made with the stream).
    if exists {
        let groups: StreamInfoGroupsReply = conn
            .xinfo_groups(&jobs)
            .await
            .map_err(|e| unavailable(s, &e))?;
        if let Some(g) = groups.groups.iter().find(|g| g.name == keys::GROUP) {
            queue.running = g.pending as u64;
            queue.depth = match g.lag {
                Some(lag) => lag as u64,
                // Redis cannot tell the lag after a trim past the group's position.
                None => return Err(corrupt(s, "judge group lag (unknown)")),
            };
            if queue.depth > 0 {
                let after = format!("({}", g.last_delivered_id);
                let next: StreamRangeReply = conn
                    .xrange_count(&jobs, after, "+", 1)
                    .await
                    .map_err(|e| unavailable(s, &e))?;
                if let Some(e) = next.ids.first() {
                    let ms = entry_ms(&e.id).ok_or_else(|| corrupt(s, "judge job id"))?;
                    queue.oldest_wait_ms = now.saturating_sub(ms);
                }
            }
        }
    }
    let fields: HashMap<String, String> = conn
        .hgetall(keys::breaker())
        .await
        .map_err(|e| unavailable(s, &e))?;
    // No hash yet: the breaker never moved, which breaker.lua reads as closed.
    let state = fields
        .get("state")
        .cloned()
        .unwrap_or_else(|| "closed".into());
    if !["closed", "half_open", "open"].contains(&state.as_str()) {
        return Err(corrupt(s, "breaker state"));
    }
    let opened_at = match fields.get("opened_at") {
        None => 0,
        Some(v) => v.parse().map_err(|_| corrupt(s, "breaker opened_at"))?,
    };
    Ok(JudgeView {
        queue,
        breaker: BreakerView {
            state,
            reason: fields.get("reason").cloned().unwrap_or_default(),
            opened_at,
        },
    })
}

#[utoipa::path(
    get,
    path = "/api/admin/judge",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the judge queue (depth, running, oldest wait, dead letters) and the breaker", body = JudgeView),
        (status = 401, description = "token mode: no or a bad bearer token", body = ErrorEnvelope),
        (status = 403, description = "token mode: not the admin role", body = ErrorEnvelope),
        (status = 503, description = "Redis did not answer, or a stored value is corrupt", body = ErrorEnvelope),
    )
)]
async fn judge(State(s): State<HttpState>) -> Result<Json<JudgeView>, ApiError> {
    match tokio::time::timeout(s.request_timeout, read(&s)).await {
        Ok(r) => r.map(Json),
        Err(_) => Err(AckError::unavailable().into()),
    }
}
