//! `/health` (liveness), `/ready` (Redis takes writes), `/status`, `/metrics`, and
//! [`HttpState`], the state these instance-level routes share.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::services::AppState;
use crate::services::mode::Mode;
use crate::services::realtime::Io;

/// State of the instance-level routes.
#[derive(Clone)]
pub struct HttpState {
    pub app: AppState,
    pub io: Io,
    pub modes: Arc<[Arc<dyn Mode>]>,
    /// Reported in `/status` (the bench reads it).
    pub tick_ms: u64,
    /// Bound on the Redis reads `/metrics` makes for its gauges.
    pub request_timeout: Duration,
}

/// Liveness and readiness, on every port (load balancers probe the public one).
pub fn probes(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(state)
}

/// `/status` and `/metrics`: on the internal port when there is one.
pub fn operator(state: HttpState) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `{status: "ok"}` while the process runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct Probe {
    /// `ok`, `ready`, `draining` or `unavailable`.
    pub status: String,
    /// Why not ready (503 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses((status = 200, description = "the process is alive", body = Probe))
)]
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// The key `/ready` writes: one per instance, expiring on its own.
pub fn ready_key(instance_id: &str) -> String {
    format!("arena:{{ready}}:{instance_id}")
}

/// How long the `/ready` probe key lives.
const READY_KEY_TTL_MS: u64 = 10_000;

#[utoipa::path(
    get,
    path = "/ready",
    tag = "health",
    responses(
        (status = 200, description = "Redis takes writes", body = Probe),
        (status = 503, description = "draining (SIGTERM) or Redis refuses writes", body = Probe),
    )
)]
/// 503 `draining` from the moment the instance starts to stop (SIGTERM); otherwise
/// 200 while Redis takes a write, 503 with the reason otherwise: unreachable, out of
/// memory (`OOM`), a read-only replica (`READONLY`), a cluster that is down
/// (`CLUSTERDOWN`). A PING alone answers in all of these, while every write fails.
pub async fn ready(State(s): State<HttpState>) -> impl IntoResponse {
    if s.app.draining.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining", "reason": "the instance is shutting down"})),
        );
    }
    let timeout = Duration::from_millis(s.app.settings.redis_timeout_ms);
    let mut conn = s.app.redis.clone();
    let mut set = redis::cmd("SET");
    set.arg(ready_key(&s.app.instance_id))
        .arg(crate::base::clock::unix_ms())
        .arg("PX")
        .arg(READY_KEY_TTL_MS);
    let probe = set.query_async::<()>(&mut conn);
    let reason = match tokio::time::timeout(timeout, probe).await {
        Ok(Ok(())) => return (StatusCode::OK, Json(json!({"status": "ready"}))),
        Ok(Err(e)) => format!("redis: {e}"),
        Err(_) => format!(
            "redis: no answer to a write within {} ms",
            timeout.as_millis()
        ),
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "unavailable", "reason": reason})),
    )
}

/// The body of `/status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub instance_id: String,
    pub pid: u32,
    pub status: &'static str,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    pub uptime_seconds: f64,
    pub connected_clients: i64,
    pub version: &'static str,
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
    pub tick_ms: u64,
}

#[utoipa::path(
    get,
    path = "/status",
    tag = "operator",
    responses((status = 200, description = "this instance's figures", body = Status))
)]
pub async fn status(State(s): State<HttpState>) -> Json<Status> {
    let usage = crate::base::process::usage();
    Json(Status {
        instance_id: s.app.instance_id.to_string(),
        pid: std::process::id(),
        status: "ok",
        timestamp: crate::base::clock::unix_ms(),
        uptime_seconds: s.app.started.elapsed().as_secs_f64(),
        connected_clients: s.app.metrics.connected(),
        version: env!("CARGO_PKG_VERSION"),
        rss_bytes: usage.rss_bytes,
        cpu_seconds: usage.cpu_seconds,
        tick_ms: s.tick_ms,
    })
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operator",
    responses((status = 200, description = "Prometheus text exposition (every metric with HELP)", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    // Rooms with at least one member on this instance (not the personal player:* rooms).
    if let Ok(rooms) = s.io.local().rooms().await {
        let n = rooms.iter().filter(|r| !r.starts_with("player:")).count();
        s.app.metrics.active_rooms.set(n as f64);
    }
    // Gauges read from Redis: bounded, so a slow Redis leaves them stale, not /metrics
    // unanswered.
    let refresh = async {
        for mode in s.modes.iter() {
            mode.refresh_metrics().await;
        }
    };
    if tokio::time::timeout(s.request_timeout, refresh)
        .await
        .is_err()
    {
        tracing::warn!(bound = ?s.request_timeout, "metrics refresh timed out; serving stale gauges");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.app.metrics.render(),
    )
}
