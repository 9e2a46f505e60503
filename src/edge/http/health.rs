//! `/health` (liveness), `/ready` (Redis reachable), `/status`, `/metrics`, and
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
}

/// The instance-level routes, with their state.
pub fn routes(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(state)
}

pub async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 200 while Redis answers a PING, 503 otherwise.
pub async fn ready(State(s): State<HttpState>) -> impl IntoResponse {
    let timeout = Duration::from_millis(s.app.settings.redis_timeout_ms);
    match crate::redis::ping(&s.app.redis, timeout).await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": format!("redis: {e}")})),
        ),
    }
}

/// The body of `/status`.
#[derive(Debug, Serialize)]
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

pub async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    // Rooms with at least one member on this instance (not the personal player:* rooms).
    if let Ok(rooms) = s.io.local().rooms().await {
        let n = rooms.iter().filter(|r| !r.starts_with("player:")).count();
        s.app.metrics.active_rooms.set(n as f64);
    }
    for mode in s.modes.iter() {
        mode.refresh_metrics().await;
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.app.metrics.render(),
    )
}
